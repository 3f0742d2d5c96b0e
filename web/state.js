// The page's shared state, one plain object every module reads and writes:
// what the gateway told us (inventory, samples, device states), what the
// screen shows (layout, panels, pause), the subscription bookkeeping and
// the connection. Data only: no functions, no DOM, no imports of views.

import { parseHash } from './layout.js';

const query = new URLSearchParams(location.search);

export const app = {
  conn: null, // the Connection (conn.js), set once by app.js
  layout: parseHash(location.hash),
  // ?kiosk=1: no controls, the view fills the screen, large type.
  kiosk: /^(1|true|yes)$/i.test(query.get('kiosk') || ''),
  paused: false,
  inventory: null,
  prefix: null,
  // interface channel -> {site, device, iface, descr, alias, speed,
  // interval, devChannel, siteTotal, counters}
  chanInfo: new Map(),
  devChannels: new Set(), // the inventory's device channels
  devEvents: new Set(), // the inventory's device events channels
  // site -> {name, devices, channels: [...], totals: [site_total channels]}
  siteInfo: new Map(),
  devStatus: new Map(), // device channel -> {status, error}
  series: new Map(), // interface channel -> Series
  // The overview's live values: interface channel -> newest sample as
  // received (its receipt time in latestAt, Date.now()).
  latest: new Map(),
  latestAt: new Map(),
  alerts: new Map(), // alert key (events.js) -> its raised event
  events: [], // the events of the last hour, oldest first (at most 1,000)
  eventsOp: null, // null: not asked yet; 'ok'; 'unsupported' (an older gateway)
  panels: new Map(), // entry -> Panel
  subscribed: new Set(), // channels held on the current connection
  pending: new Map(), // subscribe request id -> {chans, restricted: sent under a restricted token}
  eventsAfter: null, // subscribe request id after whose confirmation the events op is sent
  error: null,
  // The gateway refused a channel to this page's token (gateway.tokens):
  // from then on only what the (filtered) inventory shows is asked for.
  restricted: false,
};
