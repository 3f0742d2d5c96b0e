// Subscription bookkeeping: which channels the view needs (the board's
// panels, or the overview's devices), the events channels, which ones a
// restricted token may have, and keeping the gateway's subscriptions equal
// to that (subscribe/unsubscribe, replies to our requests). Not the message
// dispatch (messages.js) and not what the views draw.

import { resetEvents } from './events.js';
import { deviceChannelOf, devicePattern } from './inventory.js';
import { viewOf } from './layout.js';
import { app } from './state.js';

/** Channels the view needs: on the board the panels' interface channels
 * (with history); on the overview one live-only pattern per device; then
 * the device channels, the events channels and the inventory channel. */
export function neededChannels() {
  const need = new Set();
  if (viewOf(app.layout) === 'board') {
    for (const p of app.panels.values()) for (const c of p.channels()) need.add(c);
    for (const c of [...need]) {
      const dc = deviceChannelOf(c);
      if (dc) need.add(dc);
    }
  } else {
    for (const dc of app.devChannels) {
      need.add(dc);
      need.add(devicePattern(dc));
    }
  }
  if (app.prefix) {
    need.add(`${app.prefix}:inventory`);
    if (!app.restricted) need.add(`${app.prefix}:events:*`);
    else for (const c of app.devEvents) need.add(c);
  }
  if (app.restricted) {
    for (const c of [...need]) if (!permitted(c)) need.delete(c);
  }
  return need;
}

/** Live only: patterns, device, events and inventory channels (the
 * gateway sends history for interface channels only). Told by the name,
 * since the inventory may not be there yet: an interface channel is
 * <prefix>:<device>:<interface>, and neither a prefix nor a device name
 * has a ':'. */
function liveOnly(ch) {
  const a = ch.indexOf(':');
  return ch.endsWith('*') || a < 0 || ch.indexOf(':', a + 1) < 0 || isEvents(ch);
}

function isEvents(ch) {
  return app.prefix && ch.startsWith(`${app.prefix}:events:`);
}

/** Under a restricted token: the channels the filtered inventory shows
 * (interfaces, their devices, their events, the devices' patterns) and
 * the inventory channel. */
export function permitted(ch) {
  if (!app.inventory) return false;
  if (ch.endsWith(':*')) return app.devChannels.has(ch.slice(0, -2));
  return app.chanInfo.has(ch) || app.devChannels.has(ch) || app.devEvents.has(ch) ||
    ch === `${app.prefix}:inventory`;
}

/** A new connection holds nothing yet. */
export function resetSubscriptions() {
  app.subscribed.clear();
  app.pending.clear();
  app.eventsAfter = null;
  resetEvents();
}

/** Subscribes to what is needed and not held, unsubscribes from what is
 * held and not needed, and forgets the samples of channels nobody shows. */
export function syncSubscriptions() {
  const conn = app.conn;
  if (conn.state !== 'connected') return;
  const need = neededChannels();
  const add = [...need].filter((c) => !app.subscribed.has(c));
  const drop = [...app.subscribed].filter((c) => !need.has(c));
  if (drop.length) {
    for (const c of drop) app.subscribed.delete(c);
    conn.send({ op: 'unsubscribe', channels: drop });
  }
  // Live-only channels first (the events before the events op), then the
  // interface channels with their history.
  const live = add.filter(liveOnly);
  const hist = add.filter((c) => !liveOnly(c));
  for (const [chans, history] of [[live, false], [hist, true]]) {
    if (!chans.length) continue;
    for (const c of chans) app.subscribed.add(c);
    const req = { op: 'subscribe', channels: chans };
    if (!history) req.history = false;
    const id = conn.send(req);
    if (id === false) continue;
    app.pending.set(id, { chans, restricted: app.restricted });
    if (chans.some(isEvents)) app.eventsAfter = id;
  }
  // Forget data nobody shows.
  for (const c of app.series.keys()) if (!need.has(c)) app.series.delete(c);
  if (viewOf(app.layout) !== 'overview') {
    app.latest.clear();
    app.latestAt.clear();
  }
}

/** The gateway confirmed a subscribe request; returns true when it held
 * the events channels (time to ask for the events). */
export function subscribeConfirmed(id) {
  app.pending.delete(id);
  if (id !== app.eventsAfter) return false;
  app.eventsAfter = null;
  return true;
}

/**
 * An error reply. Returns null if it answers none of our pending subscribe
 * requests; 'restricted' if the token was refused a channel for the first
 * time (the page now asks only for what the token may see, and has asked
 * again); otherwise 'refused' (the channels are no longer held).
 */
export function subscribeRefused(id, error) {
  const req = app.pending.get(id);
  if (!req) return null;
  app.pending.delete(id);
  if (id === app.eventsAfter) app.eventsAfter = null;
  for (const c of req.chans) app.subscribed.delete(c);
  if (/^not permitted for this token/.test(error) && !req.restricted) {
    // Ask again for what this token may see (a request sent before we
    // knew is asked again too); panels of other channels show "not
    // permitted".
    app.restricted = true;
    syncSubscriptions();
    return 'restricted';
  }
  return 'refused';
}
