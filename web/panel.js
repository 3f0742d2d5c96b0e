// One panel on the grid: its header, readouts, badges and chart, and the
// computing of what it shows (an interface, or a site total) from the
// shared state. Not where panels are added, removed or laid out
// (panels.js), nor when they redraw (draw.js), nor the chart's looks
// (chart.js).

import { chartSize, createChart } from './chart.js';
import { h } from './dom.js';
import { markPanel } from './draw.js';
import { fmtBps, fmtPct, fmtTime } from './format.js';
import { deviceChannelOf, siteOf } from './inventory.js';
import { entryKind } from './layout.js';
import { app } from './state.js';
import { clock, seriesData, sumData } from './store.js';
import { permitted } from './subscriptions.js';

// Which panels are on screen: only those are drawn.
const io = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const p = e.target.panel;
    if (!p) continue;
    p.visible = e.isIntersecting;
    if (p.visible) markPanel(p);
  }
});

export class Panel {
  /** entry: a layout entry (layout.js); onClose(): the × was clicked. */
  constructor(entry, onClose) {
    this.id = entry;
    const { kind, name } = entryKind(entry);
    this.kind = kind;
    this.name = name;
    this.visible = false;
    this.dirty = true;
    this.chart = null;
    this.view = { points: 0, in: null, out: null, ts: null };
    this.el = h('section', { class: `panel kind-${kind}` });
    this.el.panel = this;
    this.title = h('div', { class: 'title' });
    this.sub = h('div', { class: 'sub' });
    this.badges = h('div', { class: 'badges' });
    this.rin = h('span', { class: 'rin' });
    this.rout = h('span', { class: 'rout' });
    this.chartBox = h('div', { class: 'chart' });
    const close = h('button', { class: 'close', title: 'Remove panel', 'aria-label': 'Remove panel', onclick: () => onClose() }, '×');
    this.el.append(
      h('header', {}, h('div', { class: 'names' }, this.title, this.sub), this.badges, close),
      h('div', { class: 'readout' }, this.rin, this.rout),
      this.chartBox,
    );
    this.renderHeader();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.chartBox);
    io.observe(this.el);
  }
  /** Interface channels shown. */
  channels() {
    if (this.kind === 'if') return [this.id];
    if (this.kind === 'siteall') return app.siteInfo.get(this.name)?.channels ?? [];
    // site total: the interface panels of that site
    const out = [];
    for (const p of app.panels.values()) {
      if (p.kind === 'if' && siteOf(p.id) === this.name) out.push(p.id);
    }
    return out;
  }

  renderHeader() {
    if (this.kind === 'if') {
      const info = app.chanInfo.get(this.id);
      const s = app.series.get(this.id);
      const iface = info?.iface ?? s?.last?.interface ?? this.id;
      this.title.textContent = iface;
      this.title.title = info?.descr && info.descr !== iface ? `${iface} — ${info.descr}` : iface;
      const dev = info?.device ?? s?.device ?? '';
      const site = info?.site ?? s?.site ?? '';
      this.sub.textContent = [site, dev].filter(Boolean).join(' · ') || this.id;
    } else {
      this.title.textContent = `${this.name}`;
      const n = this.channels().length;
      this.sub.textContent = this.kind === 'site'
        ? `site total · ${n} chosen interface${n === 1 ? '' : 's'}`
        : `site total · all ${n} interfaces`;
    }
  }

  maxStep() {
    let iv = 1;
    for (const c of this.channels()) iv = Math.max(iv, app.chanInfo.get(c)?.interval ?? 1);
    return iv;
  }

  /** Computes chart data and readouts (cheap enough to run per frame). */
  compute() {
    const win = app.layout.window * 60;
    const to = clock.now();
    const from = to - win;
    const step = this.maxStep();
    const now = Date.now();
    const v = { id: this.id, kind: this.kind };
    if (this.kind === 'if') {
      const s = app.series.get(this.id);
      const info = app.chanInfo.get(this.id);
      const r = s ? seriesData(s, from, 3 * step) : { data: [[], [], []], points: 0 };
      const last = s?.last;
      v.data = r.data;
      v.points = r.points;
      v.in_bps = last?.in_bps ?? null;
      v.out_bps = last?.out_bps ?? null;
      v.gap = last?.gap ?? null;
      v.ts = last?.ts ?? null;
      v.oper = last?.oper ?? null;
      v.speed_bps = last?.speed_bps ?? info?.speed ?? null;
      const dev = app.devStatus.get(deviceChannelOf(this.id));
      v.down = dev?.status === 'down';
      v.downReason = dev?.error ?? null;
      v.stale = !s || !last || now - s.arrival > 3 * step * 1000 || v.down;
      v.forbidden = app.restricted && !permitted(this.id);
    } else {
      const chans = this.channels();
      const members = chans.map((c) => app.series.get(c)).filter(Boolean);
      const r = sumData(members, from, to, step);
      v.data = r.data;
      v.points = r.points;
      v.in_bps = r.last.in;
      v.out_bps = r.last.out;
      v.ts = r.last.ts;
      v.members = chans.length;
      v.reporting = r.last.reporting;
      let speed = 0;
      let up = 0;
      let fresh = 0;
      for (const c of chans) {
        const s = app.series.get(c);
        const sp = s?.last?.speed_bps ?? app.chanInfo.get(c)?.speed;
        speed = speed == null || sp == null ? null : speed + sp;
        if (s?.last?.oper === 'up') up++;
        const dev = app.devStatus.get(deviceChannelOf(c));
        if (s && now - s.arrival <= 3 * step * 1000 && dev?.status !== 'down') fresh++;
      }
      v.speed_bps = chans.length ? speed : null;
      v.up = up;
      v.stale = chans.length > 0 && fresh === 0;
      v.partial = fresh < chans.length;
    }
    v.util_in = v.speed_bps && v.in_bps != null ? (100 * v.in_bps) / v.speed_bps : null;
    v.util_out = v.speed_bps && v.out_bps != null ? (100 * v.out_bps) / v.speed_bps : null;
    v.from = from;
    v.to = to;
    return v;
  }

  draw() {
    this.dirty = false;
    const v = this.compute();
    this.view = v;
    // readouts
    const inTxt = v.in_bps == null ? (v.gap ? `gap (${v.gap})` : '—') : fmtBps(v.in_bps);
    const outTxt = v.out_bps == null ? (v.gap ? '' : '—') : fmtBps(v.out_bps);
    this.rin.textContent = `in ${inTxt}${v.util_in != null ? `  ${fmtPct(v.util_in)}` : ''}`;
    this.rout.textContent = `out ${outTxt}${v.util_out != null ? `  ${fmtPct(v.util_out)}` : ''}`;
    this.rin.title = this.rout.title = v.ts ? `sample at ${fmtTime(v.ts)}` : '';
    const badges = [];
    if (this.kind === 'if') {
      if (v.oper) badges.push([`oper-${v.oper === 'up' ? 'up' : 'down'}`, v.oper]);
      if (v.forbidden) badges.push(['bad', 'not permitted', 'this page\'s token may not see this interface']);
      else if (v.down) badges.push(['bad', 'device down', v.downReason]);
      else if (v.stale) badges.push(['stale', 'stale']);
    } else {
      badges.push([v.up === v.members ? 'oper-up' : 'oper-down', `${v.up}/${v.members} up`]);
      if (v.stale) badges.push(['stale', 'stale']);
      else if (v.partial) badges.push(['stale', 'partial']);
    }
    if (app.paused) badges.push(['paused', 'paused']);
    const key = JSON.stringify(badges);
    if (key !== this.badgeKey) {
      this.badgeKey = key;
      this.badges.replaceChildren(...badges.map(([c, t, title]) => h('span', { class: `badge ${c}`, title }, t)));
    }
    this.el.classList.toggle('is-stale', !!v.stale);
    // chart
    if (!this.chart) this.makeChart();
    if (this.chart) {
      this.chart.batch(() => {
        this.chart.setData(v.data, false);
        this.chart.setScale('x', { min: v.from, max: v.to });
      });
    }
  }

  makeChart() {
    this.chart = createChart(this.chartBox);
  }

  resize() {
    if (!this.chart) {
      markPanel(this);
      return;
    }
    const size = chartSize(this.chartBox);
    if (size) this.chart.setSize(size);
  }

  destroyChart() {
    this.chart?.destroy();
    this.chart = null;
  }

  destroy() {
    this.ro.disconnect();
    io.unobserve(this.el);
    this.destroyChart();
    this.el.remove();
  }
}
