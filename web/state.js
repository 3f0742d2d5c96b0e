// The page's shared state, one plain object every module reads and writes:
// what the gateway told us (inventory, samples, device states), what the
// screen shows (layout, panels, pause), the subscription bookkeeping and
// the connection. Data only: no functions, no DOM, no imports of views.

import { parseHash } from './layout.js';

export const app = {
  conn: null, // the Connection (conn.js), set once by app.js
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
