// DOM helpers shared by the views: $ (querySelector) and h (build an
// element). Not a framework: no state, no rendering, no event bus.

export const $ = (sel, el = document) => el.querySelector(sel);

/** h('div', {class, text, onclick, attr...}, ...children): a new element;
 * null/false attributes and null children are skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}
