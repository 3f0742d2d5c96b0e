// The test hook window.ifmon: state() is a read-only snapshot of the page
// (connection, view, layout, inventory, subscriptions, the overview's
// sites and rows, the events, each panel's readouts) for tests/web and
// tests/bench. Not used by the page itself; never changes anything.

import { viewOf } from './layout.js';
import { overviewState } from './overview.js';
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
        view: viewOf(app.layout),
        kiosk: app.kiosk,
        paused: app.paused,
        inventory: !!app.inventory,
        sites: app.inventory ? (app.inventory.sites || []).map((s) => s.name) : [],
        subscribed: [...app.subscribed],
        restricted: app.restricted,
        error: app.error,
        overview: overviewState(),
        events: {
          op: app.eventsOp,
          active: [...app.alerts.values()].map((e) => ({ device: e.device, interface: e.interface, kind: e.kind, seq: e.seq })),
          recent: app.events.length,
        },
        panels: [...app.panels.values()].map((p) => {
          const v = p.compute();
          return {
            id: p.id, kind: p.kind, in_bps: v.in_bps, out_bps: v.out_bps, points: v.points,
            ts: v.ts, stale: !!v.stale, oper: v.oper ?? null, down: !!v.down, forbidden: !!v.forbidden,
            util_in: v.util_in, util_out: v.util_out, speed_bps: v.speed_bps,
            visible: p.visible, charted: !!p.chart,
            metric: v.metric ?? 'bits', alias: p.alias ?? null, alerts: v.alerts ?? [], not_polled: !!v.notPolled,
            in_pps: v.in_pps ?? null, out_pps: v.out_pps ?? null,
            in_errors_ps: v.in_errors_ps ?? null, out_errors_ps: v.out_errors_ps ?? null,
            in_discards_ps: v.in_discards_ps ?? null, out_discards_ps: v.out_discards_ps ?? null,
            members: v.members ?? null, note: v.note ?? null,
          };
        }),
      };
    },
  });
}
