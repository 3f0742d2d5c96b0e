// The screen layout in the URL fragment: #w=5&p=ENTRY,ENTRY,...
// An entry is an interface channel name ("ifmon:tokyo-edge1:ge-0/0/0"),
// "site:NAME" (total of the chosen interfaces of that site) or
// "siteall:NAME" (total of every interface of the site). Entries are
// percent-encoded, so commas, '&', '#', '%' and spaces in names are safe;
// ':' '/' '@' are left readable.

export const WINDOWS = [1, 5, 15]; // minutes

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
  const out = { window: 5, panels: [] };
  const h = hash.replace(/^#/, '');
  for (const part of h.split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (k === 'w') {
      const w = Number(v);
      if (WINDOWS.includes(w)) out.window = w;
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
  return `#w=${layout.window}` + (p ? `&p=${p}` : '');
}

/** 'site' | 'siteall' | 'if' and the name after the kind. */
export function entryKind(entry) {
  if (entry.startsWith('siteall:')) return { kind: 'siteall', name: entry.slice(8) };
  if (entry.startsWith('site:')) return { kind: 'site', name: entry.slice(5) };
  return { kind: 'if', name: entry };
}
