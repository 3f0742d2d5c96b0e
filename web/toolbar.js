// The bar above the panels: connection state, error banner, time-window
// buttons, pause, and the picker's show/hide button. Not what a window
// change does to the layout (panels.js, via the onWindow handler).

import { $, h } from './dom.js';
import { markAll } from './draw.js';
import { WINDOWS } from './layout.js';
import { app } from './state.js';

const connEl = $('#conn');

/** Shows the Connection's state (conn.js onState). */
export function renderConn(conn) {
  const s = conn.state;
  connEl.className = `conn ${s}`;
  connEl.textContent = s === 'connected' ? 'connected'
    : s === 'connecting' ? 'connecting…'
      : conn.retryIn() > 0 ? `reconnecting in ${conn.retryIn()} s` : 'reconnecting…';
}

/** Shows msg in the error banner (null hides it); kept in app.error. */
export function setError(msg) {
  app.error = msg;
  const el = $('#error');
  el.hidden = !msg;
  el.textContent = msg || '';
}

export function renderWindowButtons() {
  for (const b of document.querySelectorAll('#windows button')) {
    b.setAttribute('aria-pressed', String(Number(b.dataset.w) === app.layout.window));
  }
}

/** Builds the window buttons and hooks up the buttons of the bar;
 * onWindow(minutes) when a window is chosen. */
export function initToolbar({ onWindow }) {
  for (const w of WINDOWS) {
    const b = h('button', { onclick: () => onWindow(w) }, `${w} min`);
    b.dataset.w = w;
    $('#windows').append(b);
  }

  const pauseBtn = $('#pause');
  pauseBtn.addEventListener('click', () => {
    app.paused = !app.paused;
    pauseBtn.textContent = app.paused ? 'Resume' : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(app.paused));
    document.body.classList.toggle('paused', app.paused);
    if (app.paused) {
      // Draw once more to show the badge, then stay still.
      for (const p of app.panels.values()) if (p.visible) p.draw();
    }
    markAll();
  });

  $('#toggle-picker').addEventListener('click', () => {
    document.body.classList.toggle('no-picker');
  });
}
