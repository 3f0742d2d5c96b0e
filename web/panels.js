// The grid of panels and the layout it shows: adds and removes panels,
// applies a layout (the URL's), switches between the overview and the
// board, sets the time window, writes the layout back into the URL, and
// tells listeners (the picker, the overview) when the panels or the view
// changed. Not a panel's contents (panel.js) nor the URL format
// (layout.js).

import { $ } from './dom.js';
import { markAll } from './draw.js';
import { formatHash, viewOf } from './layout.js';
import { Panel } from './panel.js';
import { app } from './state.js';
import { syncSubscriptions } from './subscriptions.js';
import { renderViewButtons, renderWindowButtons } from './toolbar.js';

const grid = $('#panels');
const listeners = [];

/** fn() runs after every change of the set of panels. */
export function onPanelsChanged(fn) {
  listeners.push(fn);
}

function newPanel(entry) {
  const p = new Panel(entry, () => removePanel(entry));
  app.panels.set(entry, p);
  p.setMetric(app.layout.metrics[entry] || 'bits');
  // The metric shown is part of the layout: a link to the page shows it.
  p.onMetric = (m) => {
    if (m === 'bits') delete app.layout.metrics[entry];
    else app.layout.metrics[entry] = m;
    saveLayout();
  };
  return p;
}

export function addPanel(entry, save = true) {
  if (app.panels.has(entry)) return;
  if (viewOf(app.layout) !== 'board') {
    openPanel(entry);
    return;
  }
  const p = newPanel(entry);
  grid.append(p.el);
  afterPanelsChanged(save);
}

export function removePanel(entry) {
  const p = app.panels.get(entry);
  if (!p) return;
  p.destroy();
  app.panels.delete(entry);
  afterPanelsChanged(true);
}

function afterPanelsChanged(save) {
  app.layout.panels = [...app.panels.keys()];
  for (const e of Object.keys(app.layout.metrics)) if (!app.panels.has(e)) delete app.layout.metrics[e];
  if (save) saveLayout();
  $('#empty').hidden = app.panels.size > 0;
  const view = viewOf(app.layout);
  document.body.dataset.view = view;
  grid.hidden = view !== 'board';
  $('#overview').hidden = view !== 'overview';
  renderViewButtons(view);
  for (const p of app.panels.values()) if (p.kind !== 'if') p.renderHeader();
  syncSubscriptions();
  for (const fn of listeners) fn();
  markAll();
}

/** Writes the layout into the URL fragment (push: as a new history
 * entry, so that Back returns to the view before). */
export function saveLayout(push = false) {
  const hash = formatHash(app.layout);
  if (location.hash === hash) return;
  if (push) history.pushState(null, '', hash);
  else history.replaceState(null, '', hash);
}

/** Shows the overview or the board (a new history entry). */
export function setView(view) {
  if (viewOf(app.layout) === view) return;
  app.layout.view = view;
  saveLayout(true);
  afterPanelsChanged(false);
}

/** Opens an entry's panel on the board (added last if it was not
 * there), as a new history entry. */
export function openPanel(entry) {
  app.layout.view = 'board';
  if (!app.panels.has(entry)) grid.append(newPanel(entry).el);
  app.layout.panels = [...app.panels.keys()];
  saveLayout(true);
  afterPanelsChanged(false);
  app.panels.get(entry).el.scrollIntoView({ block: 'nearest' });
}

/** Shows a layout ({window, panels}, layout.js): keeps the panels it
 * names, in its order, and drops the others. */
export function applyLayout(layout) {
  app.layout.window = layout.window;
  app.layout.view = layout.view;
  app.layout.metrics = { ...layout.metrics };
  app.layout.panels = [...layout.panels];
  for (const id of [...app.panels.keys()]) {
    if (!layout.panels.includes(id)) {
      app.panels.get(id).destroy();
      app.panels.delete(id);
    }
  }
  for (const id of layout.panels) {
    if (!app.panels.has(id)) newPanel(id);
    else app.panels.get(id).setMetric(app.layout.metrics[id] || 'bits');
    grid.append(app.panels.get(id).el); // keeps the URL's order
  }
  renderWindowButtons();
  afterPanelsChanged(false);
}

/** The time window, in minutes (layout.js WINDOWS). */
export function setWindow(w) {
  app.layout.window = w;
  renderWindowButtons();
  saveLayout();
  markAll();
}
