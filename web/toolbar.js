// The bar above the panels: connection state, error banner, the overview
// and board buttons, time-window buttons, pause, and the picker's
// show/hide button. Not what a window or view change does to the layout
// (panels.js, via the onWindow and onView handlers).

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

/** Marks the button of the view shown. */
export function renderViewButtons(view) {
  $('#view-overview').setAttribute('aria-pressed', String(view === 'overview'));
  $('#view-board').setAttribute('aria-pressed', String(view === 'board'));
}

/** Builds the window buttons and hooks up the buttons of the bar;
 * onWindow(minutes) when a window is chosen, onView('overview'|'board'). */
export function initToolbar({ onWindow, onView }) {
  $('#view-overview').addEventListener('click', () => onView('overview'));
  $('#view-board').addEventListener('click', () => onView('board'));
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

  // The picker shows on the board and hides on the overview unless asked.
  $('#toggle-picker').addEventListener('click', () => {
    const cls = document.body.dataset.view === 'overview' ? 'picker-open' : 'no-picker';
    document.body.classList.toggle(cls);
  });
}
