// Number and time formatting for the readouts, axes and legend.

const UNITS = [
  [1e9, 'Gbps'],
  [1e6, 'Mbps'],
  [1e3, 'kbps'],
];

/** Bits per second with an automatic unit: "950 bps", "12.3 Mbps". */
export function fmtBps(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(Number(v.toPrecision(3))); // 999.9 Mbps is "1.00 Gbps"
  for (const [div, unit] of UNITS) {
    if (a >= div) return `${fmt3(v / div)} ${unit}`;
  }
  return `${Math.round(v)} bps`;
}

/** Packets per second: "950 pps", "1.56 kpps", "12.3 Mpps". */
export function fmtPps(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(Number(v.toPrecision(3)));
  if (a >= 1e6) return `${fmt3(v / 1e6)} Mpps`;
  if (a >= 1e3) return `${fmt3(v / 1e3)} kpps`;
  return `${a >= 100 || v === Math.round(v) ? Math.round(v) : fmt3(v)} pps`;
}

/** Errors or discards per second: "0/s", "0.2/s", "3.00/s", "1.2k/s". */
export function fmtRate(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  if (v === 0) return '0/s';
  if (Math.abs(v) >= 1000) return `${fmtAxis(v)}/s`;
  return `${fmt3(v)}/s`;
}

/** Three significant digits, no exponent. */
function fmt3(x) {
  x = Number(x.toPrecision(3)); // 9.9996 -> 10 (then "10.0", not "10.00")
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** Compact axis label: "500M", "1.5G". */
export function fmtAxis(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(a / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(a / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(a / 1e3).toPrecision(3)}k`;
  return `${+a.toPrecision(3)}`;
}

export function fmtPct(v) {
  if (v == null || !Number.isFinite(v)) return '';
  return `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}%`;
}

/** Seconds (Unix, fractional) to local "HH:MM:SS". */
export function fmtClock(ts) {
  if (ts == null) return '—';
  const d = new Date(ts * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Seconds (Unix, fractional) to local "HH:MM:SS.mmm". */
export function fmtTime(ts) {
  if (ts == null) return '—';
  const d = new Date(ts * 1000);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
