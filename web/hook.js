// The test hook window.ifmon: state() is a read-only snapshot of the page
// (connection, layout, inventory, subscriptions, each panel's readouts)
// for tests/web and tests/bench. Not used by the page itself; never
// changes anything.

import { app } from './state.js';

export function installTestHook() {
  window.ifmon = Object.freeze({
    state() {
      const conn = app.conn;
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
}
