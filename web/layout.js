// The screen layout in the URL fragment: #w=5&p=ENTRY,ENTRY,...&v=VIEW
// An entry is an interface channel name ("ifmon:tokyo-edge1:ge-0/0/0"),
// "total:NAME" (the site's total: its site_total interfaces),
// "site:NAME" (total of the chosen interfaces of that site) or
// "siteall:NAME" (total of every interface of the site), followed by
// ";pps" or ";err" when an interface panel shows packets or errors rather
// than bits. Entries are percent-encoded, so commas, ';', '&', '#', '%'
// and spaces in names are safe; ':' '/' '@' are left readable. The view
// is the overview without panels and the board with them, unless v= says
// otherwise.

export const WINDOWS = [1, 5, 15]; // minutes
export const VIEWS = ['overview', 'board'];
// A panel's metric in the URL (bits, the default, is not written).
const METRIC_CODES = { packets: 'pps', errors: 'err' };
const CODE_METRICS = { pps: 'packets', err: 'errors' };

/** The view a layout shows: its own, else the board when it has panels. */
export function viewOf(layout) {
  return layout.view || (layout.panels.length ? 'board' : 'overview');
}

function enc(s) {
  return encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%2F/gi, '/').replace(/%40/gi, '@');
}

function dec(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses location.hash; returns {window, panels: [entry...], view,
 * metrics: {entry: 'packets' | 'errors'}}. */
export function parseHash(hash) {
  const out = { window: 5, panels: [], view: null, metrics: {} };
  const h = hash.replace(/^#/, '');
  for (const part of h.split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (k === 'w') {
      const w = Number(v);
      if (WINDOWS.includes(w)) out.window = w;
    } else if (k === 'v') {
      if (VIEWS.includes(v)) out.view = v;
    } else if (k === 'p' && v) {
      for (const e of v.split(',')) {
        const semi = e.lastIndexOf(';');
        const name = dec(semi < 0 ? e : e.slice(0, semi));
        const metric = semi < 0 ? null : CODE_METRICS[e.slice(semi + 1)];
        if (!name || out.panels.includes(name)) continue;
        out.panels.push(name);
        if (metric) out.metrics[name] = metric;
      }
    }
  }
  return out;
}

export function formatHash(layout) {
  const metrics = layout.metrics || {};
  const p = layout.panels.map((e) => enc(e) + (METRIC_CODES[metrics[e]] ? `;${METRIC_CODES[metrics[e]]}` : '')).join(',');
  const v = layout.view && layout.view !== viewOf({ panels: layout.panels }) ? `&v=${layout.view}` : '';
  return `#w=${layout.window}` + (p ? `&p=${p}` : '') + v;
}

/** 'total' | 'site' | 'siteall' | 'if' and the name after the kind. */
export function entryKind(entry) {
  if (entry.startsWith('total:')) return { kind: 'total', name: entry.slice(6) };
  if (entry.startsWith('siteall:')) return { kind: 'siteall', name: entry.slice(8) };
  if (entry.startsWith('site:')) return { kind: 'site', name: entry.slice(5) };
  return { kind: 'if', name: entry };
}
