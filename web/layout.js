// The screen layout in the URL fragment: #w=5&p=ENTRY,ENTRY,...&v=VIEW
// An entry is an interface channel name ("ifmon:tokyo-edge1:ge-0/0/0"),
// "total:NAME" (the site's total: its site_total interfaces),
// "site:NAME" (total of the chosen interfaces of that site) or
// "siteall:NAME" (total of every interface of the site). Entries are
// percent-encoded, so commas, '&', '#', '%' and spaces in names are safe;
// ':' '/' '@' are left readable. The view is the overview without panels
// and the board with them, unless v= says otherwise.

export const WINDOWS = [1, 5, 15]; // minutes
export const VIEWS = ['overview', 'board'];

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

/** Parses location.hash; returns {window, panels: [entry...]}. */
export function parseHash(hash) {
  const out = { window: 5, panels: [], view: null };
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
        const name = dec(e);
        if (name && !out.panels.includes(name)) out.panels.push(name);
      }
    }
  }
  return out;
}

export function formatHash(layout) {
  const p = layout.panels.map(enc).join(',');
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
