// ifmon live interface traffic page: picker, panels, charts, connection.
import uPlot from './vendor/uPlot.esm.js';
import { Connection } from './conn.js';
import { fmtAxis, fmtBps, fmtPct, fmtTime } from './format.js';
import { WINDOWS, entryKind, formatHash, parseHash } from './layout.js';
import { Series, clock, seriesData, sumData } from './store.js';

const $ = (sel, el = document) => el.querySelector(sel);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

// ------------------------------------------------------------------ state

const app = {
  layout: parseHash(location.hash),
  paused: false,
  inventory: null,
  prefix: null,
  chanInfo: new Map(), // interface channel -> {site, device, iface, descr, speed, interval, devChannel}
  devChannels: new Set(), // the inventory's device channels
  siteInfo: new Map(), // site -> {name, devices, channels: [...]}
  devStatus: new Map(), // device channel -> {status, error}
  series: new Map(), // interface channel -> Series
  panels: new Map(), // entry -> Panel
  subscribed: new Set(), // channels held on the current connection
  pending: new Map(), // request id -> channels (subscribe)
  error: null,
  // The gateway refused a channel to this page's token (gateway.tokens):
  // from then on only what the (filtered) inventory shows is asked for.
  restricted: false,
};

// ------------------------------------------------------------ connection

// A token in the page's own URL (?token=...) goes to the gateway.
const token = new URLSearchParams(location.search).get('token');
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws` +
  (token ? `?token=${encodeURIComponent(token)}` : '');
let listTimer = null;
let listId = null;

const conn = new Connection(wsUrl, {
  onOpen() {
    app.subscribed.clear();
    app.pending.clear();
    requestList();
    syncSubscriptions();
  },
  onMessage: handleMessage,
  onState: renderConn,
});

function requestList() {
  clearTimeout(listTimer);
  listId = conn.send({ op: 'list' });
}

function handleMessage(m) {
  if (m.op) {
    handleReply(m);
    return;
  }
  const ch = m.channel;
  if (typeof ch !== 'string') return;
  if (Array.isArray(m.history)) {
    if (!app.subscribed.has(ch)) return;
    const s = seriesFor(ch);
    if (s.add(m.history, false)) markChannel(ch);
    return;
  }
  const d = m.data;
  if (!d || typeof d !== 'object') return;
  if (app.prefix && ch === `${app.prefix}:inventory`) {
    clearTimeout(listTimer);
    listTimer = setTimeout(requestList, 300);
    return;
  }
  if (d.status !== undefined && d.interface === undefined) {
    app.devStatus.set(ch, { status: d.status, error: d.error ?? null });
    markAll();
    return;
  }
  if (d.interface === undefined || !app.subscribed.has(ch)) return;
  if (typeof d.ts === 'number') clock.note(d.ts);
  const s = seriesFor(ch);
  if (s.add([d], true)) markChannel(ch);
}

function handleReply(m) {
  if (m.op === 'list' && m.id === listId) {
    if (!m.inventory) {
      // The collector has not written it yet.
      listTimer = setTimeout(requestList, 2000);
      return;
    }
    setInventory(m.inventory);
  } else if (m.op === 'subscribed') {
    app.pending.delete(m.id);
    if (app.error && app.error.startsWith('subscribe')) setError(null);
  } else if (m.op === 'error') {
    if (m.id === 'ping') return;
    const chans = app.pending.get(m.id);
    if (chans) {
      app.pending.delete(m.id);
      for (const c of chans) app.subscribed.delete(c);
      if (/^not permitted for this token/.test(m.error) && !app.restricted) {
        // Ask again for what this token may see; panels of other
        // channels show "not permitted".
        app.restricted = true;
        syncSubscriptions();
        markAll();
        return;
      }
      setError(`subscribe refused: ${m.error}`);
    } else if (m.id === listId) {
      listTimer = setTimeout(requestList, 2000);
    } else {
      setError(m.error);
    }
  }
}

function seriesFor(ch) {
  let s = app.series.get(ch);
  if (!s) {
    s = new Series(ch);
    app.series.set(ch, s);
  }
  return s;
}

/** Channels the panels need: interface channels, their device channels,
 * and the inventory channel. */
function neededChannels() {
  const need = new Set();
  for (const p of app.panels.values()) for (const c of p.channels()) need.add(c);
  for (const c of [...need]) {
    const dc = deviceChannelOf(c);
    if (dc) need.add(dc);
  }
  if (app.prefix) need.add(`${app.prefix}:inventory`);
  if (app.restricted) {
    for (const c of [...need]) if (!permitted(c)) need.delete(c);
  }
  return need;
}

/** Under a restricted token: the channels the filtered inventory shows
 * (interfaces, their devices) and the inventory channel. */
function permitted(ch) {
  if (!app.inventory) return false;
  return app.chanInfo.has(ch) || app.devChannels.has(ch) || ch === `${app.prefix}:inventory`;
}

function deviceChannelOf(ch) {
  const info = app.chanInfo.get(ch);
  if (info) return info.devChannel;
  // Not in the inventory (yet): <prefix>:<device>:<interface>; a device
  // name never contains ':'.
  const a = ch.indexOf(':');
  const b = a < 0 ? -1 : ch.indexOf(':', a + 1);
  return b > 0 ? ch.slice(0, b) : null;
}

function syncSubscriptions() {
  if (conn.state !== 'connected') return;
  const need = neededChannels();
  const add = [...need].filter((c) => !app.subscribed.has(c));
  const drop = [...app.subscribed].filter((c) => !need.has(c));
  if (drop.length) {
    for (const c of drop) app.subscribed.delete(c);
    conn.send({ op: 'unsubscribe', channels: drop });
  }
  if (add.length) {
    for (const c of add) app.subscribed.add(c);
    const id = conn.send({ op: 'subscribe', channels: add });
    if (id !== false) app.pending.set(id, add);
  }
  // Forget data nobody shows.
  for (const c of app.series.keys()) if (!need.has(c)) app.series.delete(c);
}

function setInventory(inv) {
  app.inventory = inv;
  app.prefix = inv.prefix || app.prefix || 'ifmon';
  app.chanInfo.clear();
  app.devChannels.clear();
  app.siteInfo.clear();
  for (const site of inv.sites || []) {
    const si = { name: site.name, devices: site.devices || [], channels: [], count: 0 };
    for (const dev of si.devices) {
      app.devChannels.add(dev.channel);
      if (!app.devStatus.has(dev.channel) || !app.subscribed.has(dev.channel)) {
        app.devStatus.set(dev.channel, { status: dev.status, error: null });
      }
      for (const itf of dev.interfaces || []) {
        app.chanInfo.set(itf.channel, {
          site: site.name, device: dev.name, iface: itf.name, descr: itf.descr,
          speed: itf.speed_bps ?? null, interval: dev.interval || 1, devChannel: dev.channel,
        });
        si.channels.push(itf.channel);
      }
    }
    app.siteInfo.set(site.name, si);
  }
  renderPicker();
  for (const p of app.panels.values()) p.renderHeader();
  syncSubscriptions();
  markAll();
}

// ---------------------------------------------------------------- panels

const grid = $('#panels');
const io = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const p = e.target.panel;
    if (!p) continue;
    p.visible = e.isIntersecting;
    if (p.visible) markPanel(p);
  }
});

function themeColors() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  return {
    in: v('--in'), inFill: v('--in-fill'), out: v('--out'), outFill: v('--out-fill'),
    axis: v('--muted'), grid: v('--grid'), zero: v('--fg'),
  };
}
let colors = themeColors();

class Panel {
  constructor(entry) {
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
    const close = h('button', { class: 'close', title: 'Remove panel', 'aria-label': 'Remove panel', onclick: () => removePanel(this.id) }, '×');
    this.el.append(
      h('header', {}, h('div', { class: 'names' }, this.title, this.sub), this.badges, close),
      h('div', { class: 'readout' }, this.rin, this.rout),
      this.chartBox,
    );
    this.renderHeader();
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.chartBox);
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
    const w = this.chartBox.clientWidth;
    const hgt = this.chartBox.clientHeight;
    if (w < 50 || hgt < 50) return;
    const c = colors;
    const opts = {
      width: w,
      height: Math.max(60, hgt - 26),
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: {
          range: (u, lo, hi) => {
            lo = Math.min(0, lo ?? 0);
            hi = Math.max(0, hi ?? 0);
            if (lo === hi) return [-1000, 1000];
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
      series: [
        { value: (u, ts) => (ts == null ? '—' : fmtTime(ts)) },
        { label: 'in', stroke: c.in, fill: c.inFill, width: 1.5, fillTo: 0, spanGaps: false,
          value: (u, x) => (x == null ? '—' : fmtBps(x)) },
        { label: 'out', stroke: c.out, fill: c.outFill, width: 1.5, fillTo: 0, spanGaps: false,
          value: (u, x) => (x == null ? '—' : fmtBps(-x)) },
      ],
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
    this.chart = new uPlot(opts, [[], [], []], this.chartBox);
  }

  resize() {
    if (!this.chart) {
      markPanel(this);
      return;
    }
    const w = this.chartBox.clientWidth;
    const hgt = this.chartBox.clientHeight;
    if (w >= 50 && hgt >= 50) this.chart.setSize({ width: w, height: Math.max(60, hgt - 26) });
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

function siteOf(ch) {
  return app.chanInfo.get(ch)?.site ?? app.series.get(ch)?.site ?? null;
}

function addPanel(entry, save = true) {
  if (app.panels.has(entry)) return;
  const p = new Panel(entry);
  app.panels.set(entry, p);
  grid.append(p.el);
  io.observe(p.el);
  afterPanelsChanged(save);
}

function removePanel(entry) {
  const p = app.panels.get(entry);
  if (!p) return;
  p.destroy();
  app.panels.delete(entry);
  afterPanelsChanged(true);
}

function afterPanelsChanged(save) {
  app.layout.panels = [...app.panels.keys()];
  if (save) saveLayout();
  $('#empty').hidden = app.panels.size > 0;
  for (const p of app.panels.values()) if (p.kind !== 'if') p.renderHeader();
  syncSubscriptions();
  updatePickerChecks();
  markAll();
}

function saveLayout() {
  const hash = formatHash(app.layout);
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

function applyLayout(layout) {
  app.layout.window = layout.window;
  for (const id of [...app.panels.keys()]) {
    if (!layout.panels.includes(id)) {
      app.panels.get(id).destroy();
      app.panels.delete(id);
    }
  }
  for (const id of layout.panels) {
    if (!app.panels.has(id)) {
      const p = new Panel(id);
      app.panels.set(id, p);
      io.observe(p.el);
    }
    grid.append(app.panels.get(id).el); // keeps the URL's order
  }
  renderWindowButtons();
  afterPanelsChanged(false);
}

// ---------------------------------------------------------------- drawing

let frame = 0;

function markPanel(p) {
  p.dirty = true;
  scheduleDraw();
}

function markAll() {
  for (const p of app.panels.values()) p.dirty = true;
  scheduleDraw();
}

function markChannel(ch) {
  for (const p of app.panels.values()) {
    if (p.kind === 'if' ? p.id === ch : p.channels().includes(ch)) p.dirty = true;
  }
  scheduleDraw();
}

function scheduleDraw() {
  if (!frame) frame = requestAnimationFrame(drawDirty);
}

function drawDirty() {
  frame = 0;
  if (document.hidden || app.paused) return;
  for (const p of app.panels.values()) {
    if (p.dirty && p.visible) p.draw();
  }
}

// Moves the time axis, and notices stale panels, once a second.
setInterval(markAll, 1000);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) markAll();
});

// ----------------------------------------------------------------- picker

const tree = $('#tree');
const filter = $('#filter');
const MAX_MATCHES = 400;

function words() {
  return filter.value.toLowerCase().split(/\s+/).filter(Boolean);
}

function matches(ws, ...texts) {
  const hay = texts.filter(Boolean).join(' ').toLowerCase();
  return ws.every((w) => hay.includes(w));
}

function renderPicker() {
  const inv = app.inventory;
  const wasOpen = new Set([...tree.querySelectorAll('details.site[open]')].map((d) => d.dataset.site));
  const scroll = tree.scrollTop;
  tree.replaceChildren();
  if (!inv) {
    tree.append(h('p', { class: 'hint', text: 'Waiting for the inventory…' }));
    return;
  }
  const ws = words();
  let shown = 0;
  let hidden = 0;
  for (const site of inv.sites || []) {
    const si = app.siteInfo.get(site.name);
    let items = null; // filtered: [{dev, itfs}]
    if (ws.length) {
      items = [];
      for (const dev of site.devices || []) {
        const itfs = (dev.interfaces || []).filter((i) => matches(ws, site.name, dev.name, i.name, i.descr));
        if (itfs.length) items.push({ dev, itfs });
      }
      if (!items.length && !matches(ws, site.name)) continue;
    }
    const details = h('details', { class: 'site' });
    details.dataset.site = site.name;
    const summary = h('summary', {},
      h('span', { class: 'site-name', text: site.name }),
      h('span', { class: 'count', text: `${si.devices.length} dev · ${si.channels.length} if` }),
      h('button', { class: 'add-site', title: 'Panel: total of the chosen interfaces of this site', onclick: (e) => { e.preventDefault(); addPanel(`site:${site.name}`); } }, '+ total'),
      h('button', { class: 'add-site', title: 'Panel: total of all interfaces of this site', onclick: (e) => { e.preventDefault(); addPanel(`siteall:${site.name}`); } }, '+ all'));
    details.append(summary);
    const body = h('div', { class: 'site-body' });
    details.append(body);
    const fill = () => {
      if (body.childElementCount) return;
      const list = items || (site.devices || []).map((dev) => ({ dev, itfs: dev.interfaces || [] }));
      for (const { dev, itfs } of list) {
        const ul = h('ul', { class: 'ifs' });
        for (const itf of itfs) {
          if (shown >= MAX_MATCHES) {
            hidden++;
            continue;
          }
          shown++;
          const cb = h('input', { type: 'checkbox' });
          cb.dataset.ch = itf.channel;
          cb.checked = app.panels.has(itf.channel);
          cb.addEventListener('change', () => (cb.checked ? addPanel(itf.channel) : removePanel(itf.channel)));
          ul.append(h('li', {}, h('label', { title: itf.descr || itf.name }, cb,
            h('span', { class: 'ifname', text: itf.name }),
            itf.descr && itf.descr !== itf.name ? h('span', { class: 'descr', text: itf.descr }) : null)));
        }
        body.append(h('div', { class: 'device' },
          h('div', { class: 'dev-name' }, h('span', { class: `dot ${dev.status === 'down' ? 'down' : 'up'}` }), dev.name), ul));
      }
    };
    if (items) {
      details.open = true;
      fill();
    } else {
      details.addEventListener('toggle', () => details.open && fill());
      if (wasOpen.has(site.name) && !ws.length && !filterChanged) details.open = true;
    }
    tree.append(details);
  }
  tree.scrollTop = scroll;
  filterChanged = false;
  if (hidden) tree.append(h('p', { class: 'hint', text: `${hidden} more matches: refine the filter` }));
  if (!tree.childElementCount) tree.append(h('p', { class: 'hint', text: 'Nothing matches.' }));
}

function updatePickerChecks() {
  for (const cb of tree.querySelectorAll('input[type=checkbox]')) cb.checked = app.panels.has(cb.dataset.ch);
}

let filterTimer = 0;
let filterChanged = false;
filter.addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterChanged = true;
  filterTimer = setTimeout(renderPicker, 120);
});

// ---------------------------------------------------------------- toolbar

const connEl = $('#conn');

function renderConn() {
  const s = conn.state;
  connEl.className = `conn ${s}`;
  connEl.textContent = s === 'connected' ? 'connected'
    : s === 'connecting' ? 'connecting…'
      : conn.retryIn() > 0 ? `reconnecting in ${conn.retryIn()} s` : 'reconnecting…';
}

function setError(msg) {
  app.error = msg;
  const el = $('#error');
  el.hidden = !msg;
  el.textContent = msg || '';
}

function renderWindowButtons() {
  for (const b of document.querySelectorAll('#windows button')) {
    b.setAttribute('aria-pressed', String(Number(b.dataset.w) === app.layout.window));
  }
}

for (const w of WINDOWS) {
  const b = h('button', { onclick: () => { app.layout.window = w; renderWindowButtons(); saveLayout(); markAll(); } }, `${w} min`);
  b.dataset.w = w;
  $('#windows').append(b);
}

const pauseBtn = $('#pause');
pauseBtn.addEventListener('click', () => {
  app.paused = !app.paused;
  pauseBtn.textContent = app.paused ? 'Resume' : 'Pause';
  pauseBtn.setAttribute('aria-pressed', String(app.paused));
  document.body.classList.toggle('paused', app.paused);
  if (app.paused) {
    // Draw once more to show the badge, then stay still.
    for (const p of app.panels.values()) if (p.visible) p.draw();
  }
  markAll();
});

$('#toggle-picker').addEventListener('click', () => {
  document.body.classList.toggle('no-picker');
});

window.addEventListener('hashchange', () => {
  const l = parseHash(location.hash);
  if (formatHash(l) !== formatHash(app.layout)) applyLayout(l);
});

matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  colors = themeColors();
  for (const p of app.panels.values()) p.destroyChart();
  markAll();
});

// --------------------------------------------------------------- test hook

window.ifmon = Object.freeze({
  state() {
    return {
      connection: conn.state,
      retry_in: conn.retryIn(),
      connects: conn.connects,
      window: app.layout.window,
      paused: app.paused,
      inventory: !!app.inventory,
      sites: app.inventory ? (app.inventory.sites || []).map((s) => s.name) : [],
      subscribed: [...app.subscribed],
      restricted: app.restricted,
      error: app.error,
      panels: [...app.panels.values()].map((p) => {
        const v = p.compute();
        return {
          id: p.id, kind: p.kind, in_bps: v.in_bps, out_bps: v.out_bps, points: v.points,
          ts: v.ts, stale: !!v.stale, oper: v.oper ?? null, down: !!v.down, forbidden: !!v.forbidden,
          util_in: v.util_in, util_out: v.util_out, speed_bps: v.speed_bps,
          visible: p.visible, charted: !!p.chart,
        };
      }),
    };
  },
});

// ------------------------------------------------------------------ start

renderPicker();
applyLayout(app.layout);
saveLayout();
renderConn();
