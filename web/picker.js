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
        const itfs = (dev.interfaces || []).filter((i) => matches(ws, site.name, dev.name, i.name, i.descr, i.alias));
        if (itfs.length) items.push({ dev, itfs });
      }
      if (!items.length && !matches(ws, site.name)) continue;
    }
    const details = h('details', { class: 'site' });
    details.dataset.site = site.name;
    const summary = h('summary', {},
      h('span', { class: 'site-name', text: site.name }),
      h('span', { class: 'count', text: `${si.devices.length} dev · ${si.channels.length} if` }),
      h('button', { class: 'add-site', title: si.totals.length ? `Panel: the site's total (sum of its ${si.totals.length} site_total interfaces)` : 'Panel: the site\'s total (no site_total interfaces defined: the sum of the chosen interfaces)', onclick: (e) => { e.preventDefault(); addPanel(`total:${site.name}`); } }, '+ total'),
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
          const note = itf.alias || (itf.descr !== itf.name ? itf.descr : '');
          ul.append(h('li', {}, h('label', { title: [itf.name, itf.alias, itf.descr].filter(Boolean).join(' — ') }, cb,
            h('span', { class: 'ifname', text: itf.name }),
            note ? h('span', { class: 'descr', text: note }) : null)));
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
