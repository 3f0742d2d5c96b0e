// The collector's alert events (docs/PROTOCOL.md, "Events"): what the
// gateway's events op answers (active alerts, the last hour) and the live
// events of the events channels, merged without duplicates into the shared
// state: app.alerts (what is active now) and app.events (the last hour,
// oldest first, at most 1,000). Not how they are shown (overview.js,
// panel.js).

import { app } from './state.js';
import { clock } from './store.js';

const HOUR_S = 3600;
const MAX_EVENTS = 1000;
const listeners = [];
const seen = new Set(); // device, seq, ts of the events held

/** fn() runs after every change of the events or the active alerts. */
export function onEventsChanged(fn) {
  listeners.push(fn);
}

function changed() {
  for (const fn of listeners) fn();
}

/** An alert is identified by (device, interface, kind). */
export function alertKey(device, iface, kind) {
  return `${device}\u0000${iface ?? ''}\u0000${kind}`;
}

function eventId(e) {
  return `${e.device}\u0000${e.seq}\u0000${e.ts}`;
}

function valid(e) {
  return e && typeof e === 'object' && typeof e.device === 'string' && typeof e.kind === 'string' &&
    (e.state === 'raised' || e.state === 'cleared') && typeof e.ts === 'number';
}

function apply(e) {
  const key = alertKey(e.device, e.interface, e.kind);
  if (e.state === 'raised') app.alerts.set(key, e);
  else app.alerts.delete(key);
}

/** Drops the events older than an hour (by the collector's clock, or
 * the newest event's when no sample has come yet) and keeps at most
 * MAX_EVENTS; true if it dropped some. */
function trim() {
  const ev = app.events;
  if (!ev.length) return false;
  const now = clock.skew() == null ? ev[ev.length - 1].ts : clock.now();
  const cut = now - HOUR_S;
  let i = 0;
  while (i < ev.length && (ev[i].ts < cut || ev.length - i > MAX_EVENTS)) i++;
  if (!i) return false;
  for (const e of ev.splice(0, i)) seen.delete(eventId(e));
  return true;
}

/** Forgets the events that have become older than an hour (run it once
 * in a while). */
export function expireEvents() {
  if (trim()) changed();
}

/**
 * The events op's reply: active replaces the active alerts; recent (oldest
 * first) is merged with what live events came already.
 */
export function loadEvents(active, recent) {
  app.alerts.clear();
  for (const e of active || []) if (valid(e) && e.state === 'raised') apply(e);
  const all = app.events.slice();
  for (const e of recent || []) {
    if (valid(e) && !seen.has(eventId(e))) {
      seen.add(eventId(e));
      all.push(e);
    }
  }
  all.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  app.events = all;
  // Live events that the reply had not seen yet (newer than its newest).
  const newest = newestOf(recent);
  for (const e of all) if (e.ts > newest) apply(e);
  trim();
  changed();
}

function newestOf(list) {
  let t = -Infinity;
  for (const e of list || []) if (valid(e) && e.ts > t) t = e.ts;
  return t;
}

/** A live event from an events channel; a duplicate of a held one is
 * dropped. */
export function addEvent(e) {
  if (!valid(e)) return;
  const id = eventId(e);
  if (seen.has(id)) return;
  seen.add(id);
  const ev = app.events;
  if (!ev.length || ev[ev.length - 1].ts <= e.ts) ev.push(e);
  else {
    ev.push(e);
    ev.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  }
  apply(e);
  trim();
  changed();
}

/** A new connection: the events op will say again what is active. */
export function resetEvents() {
  app.eventsOp = null;
}

/** The kinds of the alerts active on an interface channel, sorted. */
export function alertsOf(device, iface) {
  const out = [];
  for (const kind of ['utilization', 'errors', 'discards', 'oper']) {
    if (app.alerts.has(alertKey(device, iface, kind))) out.push(kind);
  }
  return out;
}
