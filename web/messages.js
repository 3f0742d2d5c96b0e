// What the gateway sends, routed: replies to our requests (the inventory
// list, subscribe confirmations and refusals, the events, errors) and
// channel messages (history, live samples, device states, alert events,
// inventory changes) into the shared state, then marks what must redraw.
// Not the subscription bookkeeping itself (subscriptions.js) nor the
// WebSocket (conn.js).

import { markAll, markChannel } from './draw.js';
import { addEvent, loadEvents } from './events.js';
import { loadInventory } from './inventory.js';
import { refreshOverview } from './overview.js';
import { renderPicker } from './picker.js';
import { app } from './state.js';
import { Series, clock } from './store.js';
import { subscribeConfirmed, subscribeRefused, syncSubscriptions } from './subscriptions.js';
import { setError } from './toolbar.js';

let listTimer = null;
let listId = null;
let eventsId = null;

/** Asks the gateway for the active alerts and the last hour's events. */
function requestEvents() {
  eventsId = app.conn.send({ op: 'events' });
}

/** Asks the gateway for the inventory (again). */
export function requestList() {
  clearTimeout(listTimer);
  listId = app.conn.send({ op: 'list' });
}

/** One message from the gateway (conn.js onMessage). */
export function handleMessage(m) {
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
  if (d.interface !== undefined && d.kind === undefined) {
    // An interface sample: the overview keeps the newest of each, a
    // panel's series all of them.
    if (typeof d.ts !== 'number') return;
    app.latest.set(ch, d);
    app.latestAt.set(ch, Date.now());
    clock.note(d.ts);
    if (!app.subscribed.has(ch)) return;
    const s = seriesFor(ch);
    if (s.add([d], true)) markChannel(ch);
    return;
  }
  if (app.prefix && ch === `${app.prefix}:inventory`) {
    clearTimeout(listTimer);
    listTimer = setTimeout(requestList, 300);
    return;
  }
  if (app.prefix && ch.startsWith(`${app.prefix}:events:`)) {
    addEvent(d);
    markAll();
    return;
  }
  if (d.status !== undefined && d.interface === undefined) {
    app.devStatus.set(ch, { status: d.status, error: d.error ?? null });
    markAll();
  }
}

function handleReply(m) {
  if (m.op === 'list' && m.id === listId) {
    if (!m.inventory) {
      // The collector has not written it yet.
      listTimer = setTimeout(requestList, 2000);
      return;
    }
    setInventory(m.inventory);
  } else if (m.op === 'events' && m.id === eventsId) {
    app.eventsOp = 'ok';
    loadEvents(m.active, m.recent);
    markAll();
  } else if (m.op === 'subscribed') {
    if (subscribeConfirmed(m.id)) requestEvents();
    if (app.error && app.error.startsWith('subscribe')) setError(null);
  } else if (m.op === 'error') {
    if (m.id === 'ping') return;
    if (m.id === eventsId) {
      // A gateway without the events op: live events only.
      app.eventsOp = 'unsupported';
      return;
    }
    const refused = subscribeRefused(m.id, m.error);
    if (refused === 'restricted') {
      markAll();
    } else if (refused) {
      setError(`subscribe refused: ${m.error}`);
      // The gateway's Redis was away longer than it waits: ask again
      // shortly (the channels are no longer held, so they are asked again).
      if (/^redis unavailable/.test(m.error)) setTimeout(syncSubscriptions, 2000);
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

function setInventory(inv) {
  loadInventory(inv);
  renderPicker();
  for (const p of app.panels.values()) p.renderHeader();
  syncSubscriptions();
  refreshOverview();
  markAll();
}
