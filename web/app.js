// ifmon live interface traffic page, the entry point (index.html loads
// it): connects to the gateway and wires the modules together, then shows
// the layout in the URL. Only wiring and start-up: each view and job lives
// in its own module (web/README.md lists them).

import { Connection } from './conn.js';
import { refreshColors } from './chart.js';
import { markAll, startTicker } from './draw.js';
import { installTestHook } from './hook.js';
import { formatHash, parseHash } from './layout.js';
import { handleMessage, requestList } from './messages.js';
import { initOverview } from './overview.js';
import { applyLayout, saveLayout, setView, setWindow } from './panels.js';
import { initPicker, renderPicker } from './picker.js';
import { app } from './state.js';
import { resetSubscriptions, syncSubscriptions } from './subscriptions.js';
import { initToolbar, renderConn } from './toolbar.js';

// A token in the page's own URL (?token=...) goes to the gateway.
const token = new URLSearchParams(location.search).get('token');
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws` +
  (token ? `?token=${encodeURIComponent(token)}` : '');

// Opens on the next task, after this module has run.
app.conn = new Connection(wsUrl, {
  onOpen() {
    resetSubscriptions();
    requestList();
    syncSubscriptions();
  },
  onMessage: handleMessage,
  onState: renderConn,
});

startTicker();
initPicker();
initToolbar({ onWindow: setWindow, onView: setView });
initOverview();
document.body.classList.toggle('kiosk', app.kiosk);

window.addEventListener('hashchange', () => {
  const l = parseHash(location.hash);
  if (formatHash(l) !== formatHash(app.layout)) applyLayout(l);
});

matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  refreshColors();
  for (const p of app.panels.values()) p.destroyChart();
  markAll();
});

installTestHook();

renderPicker();
applyLayout(app.layout);
saveLayout();
renderConn(app.conn);
