// One panel on the grid: its header (name and alias, or how a site total
// is made), readouts, badges (status, alerts), the switch between bits,
// packets and errors/discards, and the chart, and the computing of what it
// shows (an interface, or a site total) from the shared state. Not where
// panels are added, removed or laid out (panels.js), nor when they redraw
// (draw.js), nor the chart's looks (chart.js).

import { chartSize, createChart } from './chart.js';
import { h } from './dom.js';
import { markPanel } from './draw.js';
import { alertKey, alertsOf } from './events.js';
import { fmtBps, fmtPct, fmtPps, fmtRate, fmtTime } from './format.js';
import { deviceChannelOf, siteOf } from './inventory.js';
import { entryKind } from './layout.js';
import { app } from './state.js';
import { METRICS, clock, seriesData, sumData } from './store.js';
import { permitted } from './subscriptions.js';

// What the switch offers: metric, its label, the counter group it needs
// (the device's `counters`).
const METRIC_CHOICES = [['bits', 'bits', 'octets'], ['packets', 'pps', 'packets'], ['errors', 'err', 'errors']];

/** Why a metric of a sample is null (its group's gap field), or null. */
function gapOf(last, metric) {
  if (!last) return null;
  if (metric === 'packets') return last.packets_gap ?? null;
  if (metric === 'errors') return last.errors_gap ?? last.discards_gap ?? null;
  return last.gap ?? null;
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** "a, b and 3 more" */
function listNames(names, max = 4) {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

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
    this.metric = 'bits'; // bits | packets | errors (interface panels)
    this.view = { points: 0, in: null, out: null, ts: null };
    this.el = h('section', { class: `panel kind-${kind}` });
    this.el.panel = this;
    this.title = h('div', { class: 'title' });
    this.sub = h('div', { class: 'sub' });
    this.note = h('div', { class: 'note', hidden: true });
    this.badges = h('div', { class: 'badges' });
    this.rin = h('span', { class: 'rin' });
    this.rout = h('span', { class: 'rout' });
    this.chartBox = h('div', { class: 'chart' });
    this.notice = h('div', { class: 'notice', hidden: true });
    this.switch = null;
    if (kind === 'if') {
      this.switch = h('div', { class: 'metric group', role: 'group', 'aria-label': 'What the chart shows' });
      for (const [m, label] of METRIC_CHOICES) {
        const b = h('button', { 'aria-pressed': String(m === this.metric), onclick: () => this.setMetric(m) }, label);
        b.dataset.metric = m;
        this.switch.append(b);
      }
    }
    const close = h('button', { class: 'close', title: 'Remove panel', 'aria-label': 'Remove panel', onclick: () => onClose() }, '×');
    this.el.append(
      h('header', {}, h('div', { class: 'names' }, this.title, this.sub), this.badges, this.switch, close),
      this.note,
      h('div', { class: 'readout' }, this.rin, this.rout),
      this.chartBox,
      this.notice,
    );
    this.renderHeader();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.chartBox);
    io.observe(this.el);
  }
  /** What the chart shows: 'bits', 'packets' or 'errors' (errors and
   * discards). */
  setMetric(m) {
    if (m === this.metric || !METRICS[m] || this.kind !== 'if') return;
    this.metric = m;
    for (const b of this.switch.children) b.setAttribute('aria-pressed', String(b.dataset.metric === m));
    this.destroyChart();
    markPanel(this);
    if (this.onMetric) this.onMetric(m);
  }

  /** Interface channels shown. */
  channels() {
    if (this.kind === 'if') return [this.id];
    if (this.kind === 'siteall') return app.siteInfo.get(this.name)?.channels ?? [];
    // the site's total: its site_total interfaces, when it has some
    if (this.kind === 'total') {
      const totals = app.siteInfo.get(this.name)?.totals;
      if (totals?.length) return totals;
    }
    // otherwise: the interface panels of that site
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
      this.alias = info?.alias || s?.last?.alias || '';
      this.title.replaceChildren(h('span', { class: 'ifname', text: iface }));
      if (this.alias) this.title.append(h('span', { class: 'alias', text: this.alias }));
      this.title.title = [iface, this.alias, info?.descr !== iface ? info?.descr : null].filter(Boolean).join(' — ');
      const dev = info?.device ?? s?.device ?? '';
      const site = info?.site ?? s?.site ?? '';
      this.sub.textContent = [site, dev].filter(Boolean).join(' · ') || this.id;
    } else {
      this.title.textContent = `${this.name}`;
      const chans = this.channels();
      const n = chans.length;
      const si = app.siteInfo.get(this.name);
      const devices = new Set(chans.map((c) => app.chanInfo.get(c)?.device));
      const names = chans.map((c) => {
        const i = app.chanInfo.get(c);
        if (!i) return c;
        return devices.size > 1 ? `${i.device} ${i.iface}` : i.iface;
      });
      const plural = n === 1 ? '' : 's';
      let sub;
      let note = '';
      if (this.kind === 'siteall') {
        sub = `site total · all ${n} interfaces`;
        note = `sum of all ${n} interface${plural} of the site: traffic that crosses several of them counts once per hop`;
      } else if (this.kind === 'total' && si?.totals?.length) {
        sub = 'site total';
        note = `sum of ${n} site_total interface${plural}: ${listNames(names)}`;
      } else {
        sub = `site total · ${n} chosen interface${plural}`;
        note = this.kind === 'total' && app.inventory
          ? `no site_total interfaces defined in the inventory for ${this.name} (set site_total: [globs] on its devices); ` +
            `showing the sum of the ${n} chosen interface${plural}${n ? `: ${listNames(names)}` : ''}`
          : `sum of the ${n} chosen interface${plural} of the site${n ? `: ${listNames(names)}` : ''}`;
      }
      this.sub.textContent = sub;
      this.note.textContent = note;
      this.note.title = `${note}${n > 4 ? `\n${names.join('\n')}` : ''}`;
      this.note.hidden = !note;
      this.noteText = note;
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
      const fields = METRICS[this.metric];
      const r = s ? seriesData(s, from, 3 * step, fields) : { data: [[], ...fields.map(() => [])], points: 0 };
      const last = s?.last;
      v.data = r.data;
      v.points = r.points;
      v.metric = this.metric;
      v.in_bps = num(last?.in_bps);
      v.out_bps = num(last?.out_bps);
      v.in_pps = num(last?.in_pps);
      v.out_pps = num(last?.out_pps);
      v.in_errors_ps = num(last?.in_errors_ps);
      v.out_errors_ps = num(last?.out_errors_ps);
      v.in_discards_ps = num(last?.in_discards_ps);
      v.out_discards_ps = num(last?.out_discards_ps);
      v.gap = gapOf(last, this.metric);
      const group = METRIC_CHOICES.find((c) => c[0] === this.metric)[2];
      v.notPolled = v.gap === 'not_polled' || (!!info?.counters && !info.counters.includes(group));
      v.counters = info?.counters ?? null;
      v.device = info?.device ?? s?.device ?? null;
      v.iface = info?.iface ?? last?.interface ?? null;
      v.alerts = v.device && v.iface != null ? alertsOf(v.device, v.iface) : [];
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
    if (this.kind !== 'if') v.note = this.noteText ?? '';
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
    this.readouts(v);
    const badges = [];
    if (this.kind === 'if') {
      for (const kind of v.alerts) {
        const e = app.alerts.get(alertKey(v.device, v.iface, kind));
        badges.push(['alert', `alert: ${kind}`, e?.text]);
      }
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
    this.el.classList.toggle('has-alert', !!v.alerts?.length);
    // a group the device does not poll: say so instead of an empty chart
    if (v.notPolled) {
      const group = this.metric === 'packets' ? 'packets' : 'errors';
      this.notice.textContent = `${group === 'packets' ? 'Packets' : 'Errors and discards'} not polled on ${v.device ?? 'this device'}` +
        `${v.counters ? ` (counters: [${v.counters.join(', ')}])` : ''}: add ${group} to its counters: in the inventory.`;
    }
    this.notice.hidden = !v.notPolled;
    this.chartBox.hidden = !!v.notPolled;
    if (v.notPolled) return;
    // chart
    if (!this.chart) this.makeChart();
    if (this.chart) {
      this.chart.batch(() => {
        this.chart.setData(v.data, false);
        this.chart.setScale('x', { min: v.from, max: v.to });
      });
    }
  }

  /** The two readouts of what the panel shows; a null rate is a gap,
   * with its reason, never 0. */
  readouts(v) {
    const metric = this.kind === 'if' ? this.metric : 'bits';
    let inTxt;
    let outTxt;
    if (v.notPolled) {
      inTxt = 'not polled';
      outTxt = '';
    } else if (metric === 'bits') {
      inTxt = v.in_bps == null ? (v.gap ? `gap (${v.gap})` : '—') : fmtBps(v.in_bps);
      outTxt = v.out_bps == null ? (v.gap ? '' : '—') : fmtBps(v.out_bps);
      if (v.util_in != null) inTxt += `  ${fmtPct(v.util_in)}`;
      if (v.util_out != null) outTxt += `  ${fmtPct(v.util_out)}`;
    } else if (metric === 'packets') {
      inTxt = v.in_pps == null ? (v.gap ? `gap (${v.gap})` : '—') : fmtPps(v.in_pps);
      outTxt = v.out_pps == null ? (v.gap ? '' : '—') : fmtPps(v.out_pps);
    } else {
      const pair = (e, d) => (e == null && d == null ? (v.gap ? `gap (${v.gap})` : '—')
        : `err ${fmtRate(e)} disc ${fmtRate(d)}`);
      inTxt = pair(v.in_errors_ps, v.in_discards_ps);
      outTxt = v.gap && v.out_errors_ps == null && v.out_discards_ps == null ? '' : pair(v.out_errors_ps, v.out_discards_ps);
    }
    this.rin.textContent = `in ${inTxt}`;
    this.rout.textContent = outTxt ? `out ${outTxt}` : '';
    this.rin.title = this.rout.title = v.ts ? `sample at ${fmtTime(v.ts)}` : '';
  }

  makeChart() {
    this.chart = createChart(this.chartBox, this.kind === 'if' ? this.metric : 'bits');
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
