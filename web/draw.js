// When panels redraw: marks panels dirty and draws the dirty, visible ones
// at the next animation frame (never while paused or hidden), plus a tick
// each second that moves the time axis. Not how a panel draws (panel.js).

import { app } from './state.js';

let frame = 0;

export function markPanel(p) {
  p.dirty = true;
  scheduleDraw();
}

export function markAll() {
  for (const p of app.panels.values()) p.dirty = true;
  scheduleDraw();
}

/** Marks the panels that show an interface channel. */
export function markChannel(ch) {
  for (const p of app.panels.values()) {
    if (p.kind === 'if' ? p.id === ch : p.channels().includes(ch)) p.dirty = true;
  }
  scheduleDraw();
}

function scheduleDraw() {
  if (!frame) frame = requestAnimationFrame(drawDirty);
}

function drawDirty() {
  frame = 0;
  if (document.hidden || app.paused) return;
  for (const p of app.panels.values()) {
    if (p.dirty && p.visible) p.draw();
  }
}

/** Moves the time axis, and notices stale panels, once a second; redraws
 * when the page is shown again. */
export function startTicker() {
  setInterval(markAll, 1000);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) markAll();
  });
}
