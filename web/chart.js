// The uPlot chart of a panel: in above the zero line, out mirrored below,
// in the theme's colours (style.css variables), for bits, packets, or
// errors and discards (store.js METRICS). Only how a chart looks and is
// sized: not what data it gets or when it redraws (panel.js, draw.js).

import uPlot from './vendor/uPlot.esm.js';
import { fmtAxis, fmtBps, fmtPps, fmtRate, fmtTime } from './format.js';

function themeColors() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  return {
    in: v('--in'), inFill: v('--in-fill'), out: v('--out'), outFill: v('--out-fill'),
    err: v('--bad'), disc: v('--warn'),
    axis: v('--muted'), grid: v('--grid'), zero: v('--fg'),
  };
}
let colors = themeColors();

/** Reads the colours again (the colour scheme changed); charts made
 * before keep theirs. */
export function refreshColors() {
  colors = themeColors();
}

/** The chart's size in its box, or null while the box is too small. */
export function chartSize(box) {
  const w = box.clientWidth;
  const hgt = box.clientHeight;
  if (w < 50 || hgt < 50) return null;
  return { width: w, height: Math.max(60, hgt - 26) };
}

/** The uPlot series of a metric (store.js METRICS order). */
function metricSeries(metric, c) {
  const line = (label, stroke, fill, fmt, sign) => ({
    label, stroke, fill, width: 1.5, fillTo: 0, spanGaps: false,
    value: (u, x) => (x == null ? '—' : fmt(sign * x)),
  });
  if (metric === 'packets') {
    return [line('in', c.in, c.inFill, fmtPps, 1), line('out', c.out, c.outFill, fmtPps, -1)];
  }
  if (metric === 'errors') {
    return [line('in err', c.err, null, fmtRate, 1), line('in disc', c.disc, null, fmtRate, 1),
      line('out err', c.err, null, fmtRate, -1), line('out disc', c.disc, null, fmtRate, -1)];
  }
  return [line('in', c.in, c.inFill, fmtBps, 1), line('out', c.out, c.outFill, fmtBps, -1)];
}

/** A new empty chart of metric ('bits', 'packets', 'errors') in box, or
 * null while the box is too small. */
export function createChart(box, metric = 'bits') {
  const size = chartSize(box);
  if (!size) return null;
  const c = colors;
  const series = metricSeries(metric, c);
  const opts = {
    width: size.width,
    height: size.height,
    cursor: { drag: { x: false, y: false }, points: { size: 5 } },
    legend: { live: true },
    scales: {
      x: { time: true },
      y: {
        range: (u, lo, hi) => {
          lo = Math.min(0, lo ?? 0);
          hi = Math.max(0, hi ?? 0);
          if (lo === hi) return metric === 'bits' ? [-1000, 1000] : [-1, 1];
          const pad = (hi - lo) * 0.06;
          return [lo < 0 ? lo - pad : 0, hi > 0 ? hi + pad : 0];
        },
      },
    },
    axes: [
      { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid }, size: 28 },
      { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid }, size: 52, space: 22,
        values: (u, vals) => vals.map((x) => fmtAxis(x)) },
    ],
    series: [{ value: (u, ts) => (ts == null ? '—' : fmtTime(ts)) }, ...series],
    hooks: {
      draw: [(u) => {
        // the zero line between in (above) and out (below)
        const y = Math.round(u.valToPos(0, 'y', true)) + 0.5;
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = c.zero;
        ctx.globalAlpha = 0.5;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(u.bbox.left, y);
        ctx.lineTo(u.bbox.left + u.bbox.width, y);
        ctx.stroke();
        ctx.restore();
      }],
    },
  };
  return new uPlot(opts, [[], ...series.map(() => [])], box);
}
