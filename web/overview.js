// The overview, what the page shows when its address names no panels: per
// site its total (the inventory's site_total interfaces) and its busiest
// interfaces now, live, marked when they have errors, discards or an
// active alert; and the events list (active alerts, then the last hour).
// The newest sample of every interface is kept by messages.js in
// app.latest; the ranking is recomputed once a second, not per message,
// and the rows are reused, only their changed texts written. Not the
// subscriptions (subscriptions.js: one live-only pattern per device) nor
// the events' bookkeeping (events.js).

import { $, h } from './dom.js';
import { alertKey, alertsOf, expireEvents, onEventsChanged } from './events.js';
import { fmtBps, fmtClock, fmtPct, fmtRate } from './format.js';
import { channelOf } from './inventory.js';
import { viewOf } from './layout.js';
import { onPanelsChanged, openPanel } from './panels.js';
import { app } from './state.js';

const ROWS = 10; // busiest interfaces per site (kiosk: as many as fit)
const MAX_EVENT_ROWS = 1000;

const sitesEl = $('#ov-sites');
const activeEl = $('#ov-active');
const recentEl = $('#ov-recent');
const eventsHead = $('#ov-events-head');

const cards = new Map(); // site name -> SiteCard
let cardsFor = null; // the inventory the cards were built for
let snapshot = []; // what the last tick computed, for the test hook
let eventsTimer = 0;

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Sets an element's text only when it changed (no layout work else). */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setClass(el, cls) {
  if (el.className !== cls) el.className = cls;
}

/** One site: its header with the total, and its reused rows. */
class SiteCard {
  constructor(si) {
    this.name = si.name;
    this.tin = h('span', { class: 'rin' });
    this.tout = h('span', { class: 'rout' });
    this.note = h('div', { class: 'note' });
    const title = h('button', {
      class: 'site-title', title: 'Open the site total\'s panel',
      onclick: () => openPanel(`total:${si.name}`),
    }, si.name);
    this.body = h('tbody');
    this.tableBox = h('div', { class: 'rows' },
      h('table', {}, h('thead', {}, h('tr', {},
        h('th', { class: 'name' }, 'interface'), h('th', { class: 'num' }, 'in'),
        h('th', { class: 'num' }, 'out'), h('th', { class: 'num' }, 'util'), h('th', { class: 'marks' }))),
      this.body));
    this.el = h('section', { class: 'site-card' },
      h('header', {}, title, h('div', { class: 'totals readout' }, this.tin, this.tout)),
      this.note, this.tableBox);
    this.el.dataset.site = si.name;
    this.rows = [];
  }

  /** Keeps n row elements (made once, reused). */
  rowCount(n) {
    while (this.rows.length < n) {
      const r = {
        tr: h('tr', { tabindex: '0' }),
        name: h('span', { class: 'ifname' }), dev: h('span', { class: 'dev' }), alias: h('span', { class: 'alias' }),
        in: h('td', { class: 'num in' }), out: h('td', { class: 'num out' }), util: h('td', { class: 'num util' }),
        marks: h('td', { class: 'marks' }), key: '',
      };
      r.tr.append(h('td', { class: 'name' }, r.name, r.dev, r.alias), r.in, r.out, r.util, r.marks);
      const open = () => r.tr.dataset.ch && openPanel(r.tr.dataset.ch);
      r.tr.addEventListener('click', open);
      r.tr.addEventListener('keydown', (e) => e.key === 'Enter' && open());
      this.rows.push(r);
      this.body.append(r.tr);
    }
    for (let i = 0; i < this.rows.length; i++) {
      const tr = this.rows[i].tr;
      tr.hidden = i >= n;
      // A hidden row names no channel: it is not a second row of one
      // shown above, nor opens anything.
      if (tr.hidden) delete tr.dataset.ch;
    }
  }

  /** How many rows fit (kiosk), from the box's height. */
  fit() {
    const first = this.rows[0]?.tr;
    const rowH = first && !first.hidden ? first.getBoundingClientRect().height : 0;
    const head = this.body.parentElement.tHead.getBoundingClientRect().height;
    if (!rowH) return ROWS;
    return Math.max(1, Math.floor((this.tableBox.clientHeight - head) / rowH));
  }

  render(site) {
    const t = site.total;
    if (t.defined) {
      setText(this.tin, `in ${t.in_bps == null ? '—' : fmtBps(t.in_bps)}`);
      setText(this.tout, `out ${t.out_bps == null ? '—' : fmtBps(t.out_bps)}`);
      setText(this.note, `sum of ${t.members} site_total interface${t.members === 1 ? '' : 's'}` +
        `${t.reporting < t.members ? ` (${t.reporting} reporting)` : ''}: ${t.names}`);
      this.note.title = t.names;
    } else {
      setText(this.tin, '');
      setText(this.tout, '');
      setText(this.note, 'no site total: no site_total interfaces defined in the inventory (set site_total: [globs] on this site\'s devices, e.g. its uplinks)');
    }
    this.el.classList.toggle('no-total', !t.defined);
    this.rowCount(site.rows.length);
    for (let i = 0; i < site.rows.length; i++) {
      const r = this.rows[i];
      const x = site.rows[i];
      r.tr.dataset.ch = x.channel;
      setText(r.name, x.name);
      setText(r.dev, x.showDevice ? x.device : '');
      setText(r.alias, x.alias);
      r.tr.title = [x.device, x.name, x.alias].filter(Boolean).join(' · ');
      setText(r.in, x.in_bps == null ? '—' : fmtBps(x.in_bps));
      setText(r.out, x.out_bps == null ? '—' : fmtBps(x.out_bps));
      setText(r.util, x.util == null ? '' : fmtPct(x.util));
      const key = `${x.alerts.join(',')}|${x.errors}|${x.discards}`;
      if (key !== r.key) {
        r.key = key;
        const marks = x.alerts.map((k) => h('span', { class: 'badge alert', title: x.alertText[k] }, k));
        if (x.errors) marks.push(h('span', { class: 'badge err' }, 'err'));
        if (x.discards) marks.push(h('span', { class: 'badge disc' }, 'disc'));
        r.marks.replaceChildren(...marks);
      }
      r.marks.title = x.errors || x.discards
        ? `errors in ${fmtRate(x.in_errors_ps)} out ${fmtRate(x.out_errors_ps)}, discards in ${fmtRate(x.in_discards_ps)} out ${fmtRate(x.out_discards_ps)}`
        : '';
      setClass(r.tr, `${x.alerts.length ? 'has-alert' : ''}${x.errors || x.discards ? ' has-errors' : ''}${x.stale ? ' stale' : ''}`);
    }
  }
}

function buildCards() {
  cardsFor = app.inventory;
  cards.clear();
  const els = [];
  for (const si of app.siteInfo.values()) {
    const c = new SiteCard(si);
    cards.set(si.name, c);
    els.push(c.el);
  }
  if (!els.length) els.push(h('p', { class: 'hint', text: app.inventory ? 'The inventory lists no sites.' : 'Waiting for the inventory…' }));
  sitesEl.replaceChildren(...els);
}

/** Rank: interfaces whose speed is known by utilization, then the others
 * by bit rate (the larger of in and out). */
function busier(a, b) {
  if ((a.util == null) !== (b.util == null)) return a.util == null ? 1 : -1;
  if (a.util != null && b.util !== a.util) return b.util - a.util;
  return b.rate - a.rate;
}

/** The overview's numbers now: per site its total and its top rows. */
function compute(rowsFor) {
  const now = Date.now();
  const out = [];
  for (const si of app.siteInfo.values()) {
    const list = [];
    const multi = si.devices.length > 1;
    for (const ch of si.channels) {
      const d = app.latest.get(ch);
      if (!d) continue;
      const info = app.chanInfo.get(ch);
      const inb = num(d.in_bps);
      const outb = num(d.out_bps);
      const speed = num(d.speed_bps) ?? info.speed;
      const rate = Math.max(inb ?? 0, outb ?? 0);
      const util = speed && (inb != null || outb != null) ? (100 * rate) / speed : null;
      list.push({ ch, d, info, inb, outb, rate, util });
    }
    list.sort(busier);
    const n = rowsFor(si.name);
    const rows = list.slice(0, n).map(({ ch, d, info, inb, outb, util }) => {
      const alerts = alertsOf(info.device, info.iface);
      const alertText = {};
      for (const k of alerts) alertText[k] = app.alerts.get(alertKey(info.device, info.iface, k))?.text ?? k;
      const ie = num(d.in_errors_ps);
      const oe = num(d.out_errors_ps);
      const id = num(d.in_discards_ps);
      const od = num(d.out_discards_ps);
      return {
        channel: ch, device: info.device, showDevice: multi, name: info.iface, alias: d.alias ?? info.alias ?? '',
        in_bps: inb, out_bps: outb, util,
        in_errors_ps: ie, out_errors_ps: oe, in_discards_ps: id, out_discards_ps: od,
        errors: (ie ?? 0) + (oe ?? 0) > 0, discards: (id ?? 0) + (od ?? 0) > 0,
        alerts, alertText,
        stale: now - (app.latestAt.get(ch) ?? 0) > 3000 * (info.interval || 1),
      };
    });
    // The site's total: its site_total interfaces reporting now.
    const total = { defined: si.totals.length > 0, members: si.totals.length, reporting: 0, in_bps: null, out_bps: null };
    const devs = new Set(si.totals.map((c) => app.chanInfo.get(c)?.device));
    total.names = si.totals.map((c) => {
      const i = app.chanInfo.get(c);
      return devs.size > 1 ? `${i.device} ${i.iface}` : i.iface;
    }).join(', ');
    for (const c of si.totals) {
      const d = app.latest.get(c);
      const fresh = d && now - (app.latestAt.get(c) ?? 0) <= 3000 * (app.chanInfo.get(c).interval || 1);
      if (!fresh || num(d.in_bps) == null) continue;
      total.reporting++;
      total.in_bps = (total.in_bps ?? 0) + d.in_bps;
      total.out_bps = (total.out_bps ?? 0) + (num(d.out_bps) ?? 0);
    }
    out.push({ name: si.name, interfaces: si.channels.length, available: list.length, total, rows });
  }
  return out;
}

/** Recomputes and redraws the overview (once a second, and when the
 * inventory or the alerts change). */
function tick() {
  if (viewOf(app.layout) !== 'overview' || document.hidden) return;
  if (cardsFor !== app.inventory) buildCards();
  const rowsFor = (site) => {
    if (!app.kiosk) return ROWS;
    const c = cards.get(site);
    return c ? c.fit() : ROWS;
  };
  snapshot = compute(rowsFor);
  for (const s of snapshot) cards.get(s.name)?.render(s);
  // kiosk: once the rows exist they can be measured; fit them again
  const misfit = (x) => {
    const c = cards.get(x.name);
    return c && x.rows.length !== Math.min(c.fit(), x.available);
  };
  if (app.kiosk && snapshot.some(misfit)) {
    snapshot = compute(rowsFor);
    for (const s of snapshot) cards.get(s.name)?.render(s);
  }
}

// ------------------------------------------------------------- events

function eventValue(e) {
  if (e.kind === 'device') return e.state === 'raised' ? `down${e.error ? ` (${e.error})` : ''}` : 'up';
  if (e.kind === 'oper') return String(e.value ?? '');
  const u = e.unit ?? '';
  const v = typeof e.value === 'number' ? `${+e.value.toFixed(2)}${u}` : '—';
  const th = typeof e.threshold === 'number' ? ` / ${e.threshold}${u}` : '';
  return `${e.direction ? `${e.direction} ` : ''}${v}${th}`;
}

/** One event: time, device, interface and alias, kind, state, value /
 * threshold; the row wraps on a narrow screen, names shorten, numbers
 * never. */
function eventRow(e, active) {
  const tr = h('div', { class: `ev ${e.state}${active ? ' active' : ''}`, title: e.text || '' },
    h('span', { class: 'time' }, fmtClock(e.ts)),
    h('span', { class: 'dev' }, e.device),
    h('span', { class: 'itf' }, e.interface ?? '', e.alias ? h('span', { class: 'alias', text: e.alias }) : null),
    h('span', { class: 'kind' }, e.kind),
    h('span', { class: `state badge ${e.state === 'raised' ? 'alert' : 'cleared'}` }, e.state),
    h('span', { class: 'val' }, eventValue(e)));
  if (e.interface != null) {
    tr.tabIndex = 0;
    tr.classList.add('link');
    const open = () => openPanel(channelOf(e.device, e.interface));
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (k) => k.key === 'Enter' && open());
  }
  return tr;
}

function renderEvents() {
  eventsTimer = 0;
  const active = [...app.alerts.values()].sort((a, b) => b.ts - a.ts);
  const recent = app.events.slice(-MAX_EVENT_ROWS).reverse();
  setText(eventsHead, `Events · ${active.length} active · ${app.events.length} in the last hour` +
    `${app.eventsOp === 'unsupported' ? ' (live only: this gateway has no events op)' : ''}`);
  activeEl.replaceChildren(...(active.length ? active.map((e) => eventRow(e, true))
    : [h('div', { class: 'ev none' }, 'No active alerts.')]));
  recentEl.replaceChildren(...(recent.length ? recent.map((e) => eventRow(e, false))
    : [h('div', { class: 'ev none' }, 'No events in the last hour.')]));
}

function scheduleEvents() {
  if (!eventsTimer) eventsTimer = setTimeout(() => {
    renderEvents();
    tick(); // the rows' alert marks
  }, 100);
}

/** For the test hook: what the overview shows. */
export function overviewState() {
  return snapshot.map((s) => ({
    name: s.name, interfaces: s.interfaces, total: { ...s.total },
    rows: s.rows.map((r) => ({
      channel: r.channel, device: r.device, name: r.name, alias: r.alias, in_bps: r.in_bps, out_bps: r.out_bps,
      util: r.util, errors: r.errors, discards: r.discards, alerts: r.alerts, stale: r.stale,
    })),
  }));
}

/** Starts the once-a-second ranking, and redraws on events and view
 * changes. */
export function initOverview() {
  setInterval(tick, 1000);
  setInterval(expireEvents, 10000);
  onEventsChanged(scheduleEvents);
  onPanelsChanged(() => {
    tick();
    scheduleEvents();
  });
  document.addEventListener('visibilitychange', tick);
  window.addEventListener('resize', () => app.kiosk && tick());
  renderEvents();
}

/** The inventory changed: new cards at the next tick. */
export function refreshOverview() {
  tick();
  scheduleEvents();
}
