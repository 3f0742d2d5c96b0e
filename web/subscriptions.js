// Subscription bookkeeping: which channels the panels need, which ones a
// restricted token may have, and keeping the gateway's subscriptions equal
// to that (subscribe/unsubscribe, replies to our requests). Not the message
// dispatch (messages.js) and not what the panels draw.

import { deviceChannelOf } from './inventory.js';
import { app } from './state.js';

/** Channels the panels need: interface channels, their device channels,
 * and the inventory channel. */
export function neededChannels() {
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
export function permitted(ch) {
  if (!app.inventory) return false;
  return app.chanInfo.has(ch) || app.devChannels.has(ch) || ch === `${app.prefix}:inventory`;
}

/** A new connection holds nothing yet. */
export function resetSubscriptions() {
  app.subscribed.clear();
  app.pending.clear();
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
  if (add.length) {
    for (const c of add) app.subscribed.add(c);
    const id = conn.send({ op: 'subscribe', channels: add });
    if (id !== false) app.pending.set(id, add);
  }
  // Forget data nobody shows.
  for (const c of app.series.keys()) if (!need.has(c)) app.series.delete(c);
}

/** The gateway confirmed a subscribe request. */
export function subscribeConfirmed(id) {
  app.pending.delete(id);
}

/**
 * An error reply. Returns null if it answers none of our pending subscribe
 * requests; 'restricted' if the token was refused a channel for the first
 * time (the page now asks only for what the token may see, and has asked
 * again); otherwise 'refused' (the channels are no longer held).
 */
export function subscribeRefused(id, error) {
  const chans = app.pending.get(id);
  if (!chans) return null;
  app.pending.delete(id);
  for (const c of chans) app.subscribed.delete(c);
  if (/^not permitted for this token/.test(error) && !app.restricted) {
    // Ask again for what this token may see; panels of other
    // channels show "not permitted".
    app.restricted = true;
    syncSubscriptions();
    return 'restricted';
  }
  return 'refused';
}
