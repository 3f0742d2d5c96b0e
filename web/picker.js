// The interface picker on the left: the inventory as a tree of sites,
// devices and interfaces, the filter, and the checkboxes and "+ total" /
// "+ all" buttons that add panels. Not the inventory's indexing
// (inventory.js) nor the panels themselves (panels.js).

import { $, h } from './dom.js';
import { addPanel, onPanelsChanged, removePanel } from './panels.js';
import { app } from './state.js';

const tree = $('#tree');
const filter = $('#filter');
const MAX_MATCHES = 400;

let filterTimer = 0;
let filterChanged = false;

function words() {
  return filter.value.toLowerCase().split(/\s+/).filter(Boolean);
}

function matches(ws, ...texts) {
  const hay = texts.filter(Boolean).join(' ').toLowerCase();
  return ws.every((w) => hay.includes(w));
}

/** Draws the tree again (the inventory or the filter changed); keeps the
 * open sites open unless the filter changed. */
export function renderPicker() {
  const inv = app.inventory;
  const wasOpen = new Set([...tree.querySelectorAll('details.site[open]')].map((d) => d.dataset.site));
  const scroll = tree.scrollTop;
  tree.replaceChildren();
  if (!inv) {
    tree.append(h('p', { class: 'hint', text: 'Waiting for the inventory…' }));
    return;
  }
  const ws = words();
  let shown = 0;
  let hidden = 0;
  for (const site of inv.sites || []) {
    const si = app.siteInfo.get(site.name);
    let items = null; // filtered: [{dev, itfs}]
    if (ws.length) {
      items = [];
      for (const dev of site.devices || []) {
        const itfs = (dev.interfaces || []).filter((i) => matches(ws, site.name, dev.name, i.name, i.descr));
        if (itfs.length) items.push({ dev, itfs });
      }
      if (!items.length && !matches(ws, site.name)) continue;
    }
    const details = h('details', { class: 'site' });
    details.dataset.site = site.name;
    const summary = h('summary', {},
      h('span', { class: 'site-name', text: site.name }),
      h('span', { class: 'count', text: `${si.devices.length} dev · ${si.channels.length} if` }),
      h('button', { class: 'add-site', title: 'Panel: total of the chosen interfaces of this site', onclick: (e) => { e.preventDefault(); addPanel(`site:${site.name}`); } }, '+ total'),
      h('button', { class: 'add-site', title: 'Panel: total of all interfaces of this site', onclick: (e) => { e.preventDefault(); addPanel(`siteall:${site.name}`); } }, '+ all'));
    details.append(summary);
    const body = h('div', { class: 'site-body' });
    details.append(body);
    const fill = () => {
      if (body.childElementCount) return;
      const list = items || (site.devices || []).map((dev) => ({ dev, itfs: dev.interfaces || [] }));
      for (const { dev, itfs } of list) {
        const ul = h('ul', { class: 'ifs' });
        for (const itf of itfs) {
          if (shown >= MAX_MATCHES) {
            hidden++;
            continue;
          }
          shown++;
          const cb = h('input', { type: 'checkbox' });
          cb.dataset.ch = itf.channel;
          cb.checked = app.panels.has(itf.channel);
          cb.addEventListener('change', () => (cb.checked ? addPanel(itf.channel) : removePanel(itf.channel)));
          ul.append(h('li', {}, h('label', { title: itf.descr || itf.name }, cb,
            h('span', { class: 'ifname', text: itf.name }),
            itf.descr && itf.descr !== itf.name ? h('span', { class: 'descr', text: itf.descr }) : null)));
        }
        body.append(h('div', { class: 'device' },
          h('div', { class: 'dev-name' }, h('span', { class: `dot ${dev.status === 'down' ? 'down' : 'up'}` }), dev.name), ul));
      }
    };
    if (items) {
      details.open = true;
      fill();
    } else {
      details.addEventListener('toggle', () => details.open && fill());
      if (wasOpen.has(site.name) && !ws.length && !filterChanged) details.open = true;
    }
    tree.append(details);
  }
  tree.scrollTop = scroll;
  filterChanged = false;
  if (hidden) tree.append(h('p', { class: 'hint', text: `${hidden} more matches: refine the filter` }));
  if (!tree.childElementCount) tree.append(h('p', { class: 'hint', text: 'Nothing matches.' }));
}

function updatePickerChecks() {
  for (const cb of tree.querySelectorAll('input[type=checkbox]')) cb.checked = app.panels.has(cb.dataset.ch);
}

/** Hooks up the filter, and the checkboxes to the set of panels. */
export function initPicker() {
  filter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterChanged = true;
    filterTimer = setTimeout(renderPicker, 120);
  });
  onPanelsChanged(updatePickerChecks);
}
