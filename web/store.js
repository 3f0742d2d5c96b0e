// Samples per interface channel, merged from history and live data
// (deduplicated by ts, kept sorted), trimmed to the longest time window.

export const KEEP_S = 15 * 60 + 30; // the longest window, and a little

export class Series {
  constructor(channel) {
    this.channel = channel;
    // {ts, in, out, pin, pout, ein, eout, din, dout} sorted by ts, unique
    // ts: bits, packets, errors and discards per second (null: a gap)
    this.samples = [];
    this.last = null; // newest sample object as received
    this.arrival = 0; // Date.now() when the newest sample was (or would have been) received
    this.device = null;
    this.site = null;
  }

  /** Adds samples (any order, any overlap). live: received as live data. */
  add(list, live) {
    if (!list.length) return false;
    let changed = false;
    const s = this.samples;
    const newestBefore = s.length ? s[s.length - 1].ts : -Infinity;
    let needSort = false;
    let have = null;
    for (const d of list) {
      if (!d || typeof d.ts !== 'number') continue;
      const p = {
        ts: d.ts, in: num(d.in_bps), out: num(d.out_bps), pin: num(d.in_pps), pout: num(d.out_pps),
        ein: num(d.in_errors_ps), eout: num(d.out_errors_ps),
        din: num(d.in_discards_ps), dout: num(d.out_discards_ps),
      };
      if (p.ts > (s.length ? s[s.length - 1].ts : -Infinity)) {
        s.push(p);
      } else {
        // older than the newest: keep it only if its ts is new (backfill)
        if (!have) have = new Set(s.map((x) => x.ts));
        if (have.has(p.ts)) continue;
        have.add(p.ts);
        s.push(p);
        needSort = true;
      }
      changed = true;
      if (!this.last || d.ts >= this.last.ts) {
        this.last = d;
        if (d.device) this.device = d.device;
        if (d.site) this.site = d.site;
      }
    }
    if (needSort) s.sort((a, b) => a.ts - b.ts);
    if (changed && this.last && this.last.ts > newestBefore) {
      const now = Date.now();
      // History can be old (collector stopped): do not call it fresh.
      this.arrival = live ? now : Math.min(now, (this.last.ts + (clock.skew() ?? 0)) * 1000);
    }
    this.trim();
    return changed;
  }

  trim() {
    const s = this.samples;
    if (!s.length) return;
    const cut = s[s.length - 1].ts - KEEP_S;
    let i = 0;
    while (i < s.length && s[i].ts < cut) i++;
    if (i) s.splice(0, i);
  }
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Offset of the collector's clock: local seconds minus sample ts (minimum
 * over recent live samples, i.e. the smallest delivery delay). */
export const clock = {
  recent: [],
  note(ts) {
    this.recent.push(Date.now() / 1000 - ts);
    if (this.recent.length > 64) this.recent.shift();
  },
  skew() {
    if (!this.recent.length) return null;
    return Math.min(...this.recent);
  },
  /** "now" in the collector's clock, seconds. */
  now() {
    return Date.now() / 1000 - (this.skew() ?? 0);
  },
};

// What a panel can chart of an interface: the sample fields, inbound ones
// above the zero line, outbound ones mirrored below.
export const METRICS = {
  bits: [['in', 1], ['out', -1]],
  packets: [['pin', 1], ['pout', -1]],
  errors: [['ein', 1], ['din', 1], ['eout', -1], ['dout', -1]],
};

/**
 * Chart arrays of one series from `from` (seconds) on: x, then one array
 * per field of `fields` (METRICS; inbound >= 0, outbound <= 0, mirrored);
 * a null point is put into every hole longer than maxStep so the chart
 * draws a gap there, and a null rate stays null (a gap, never 0).
 */
export function seriesData(series, from, maxStep, fields = METRICS.bits) {
  const xs = [];
  const cols = fields.map(() => []);
  const s = series.samples;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid].ts < from) lo = mid + 1;
    else hi = mid;
  }
  let prev = null;
  let points = 0;
  for (let i = lo; i < s.length; i++) {
    const p = s[i];
    if (prev !== null && p.ts - prev > maxStep) {
      xs.push((p.ts + prev) / 2);
      for (const c of cols) c.push(null);
    }
    xs.push(p.ts);
    for (let f = 0; f < fields.length; f++) {
      const v = p[fields[f][0]];
      cols[f].push(v == null ? null : v * fields[f][1]);
    }
    prev = p.ts;
    points++;
  }
  return { data: [xs, ...cols], points };
}

/**
 * Sum of several series on a grid of `step` seconds from `from` to `to`.
 * A member counts at grid time t with its newest sample in (t - 2 step, t];
 * a grid point where no member has a rate is a gap.
 * Returns {data, points, last: {in, out, members, reporting}}.
 */
export function sumData(members, from, to, step) {
  const start = Math.floor(from / step) * step;
  const end = Math.floor(to / step) * step;
  const n = Math.max(0, Math.round((end - start) / step) + 1);
  const xs = new Array(n);
  const ins = new Array(n).fill(null);
  const outs = new Array(n).fill(null);
  const counts = new Array(n).fill(0);
  for (let k = 0; k < n; k++) xs[k] = start + k * step;
  for (const m of members) {
    const s = m.samples;
    let j = 0;
    // first sample that can count: ts > start - 2 step
    while (j < s.length && s[j].ts <= start - 2 * step) j++;
    let cur = -1;
    for (let k = 0; k < n; k++) {
      const t = xs[k];
      while (j < s.length && s[j].ts <= t) cur = j++;
      if (cur < 0) continue;
      const p = s[cur];
      if (p.ts <= t - 2 * step || p.in == null) continue;
      ins[k] = (ins[k] ?? 0) + p.in;
      outs[k] = (outs[k] ?? 0) - p.out;
      counts[k]++;
    }
  }
  // The newest grid point may still wait for some members: show the last
  // point where as many members reported as ever in the window.
  let points = 0;
  for (let k = 0; k < n; k++) if (ins[k] != null) points++;
  let lastK = -1;
  const maxCount = Math.max(0, ...counts.slice(-5));
  for (let k = n - 1; k >= Math.max(0, n - 5); k--) {
    if (counts[k] === maxCount && ins[k] != null) {
      lastK = k;
      break;
    }
  }
  const last = lastK >= 0
    ? { in: ins[lastK], out: -outs[lastK], ts: xs[lastK], reporting: counts[lastK] }
    : { in: null, out: null, ts: null, reporting: 0 };
  return { data: [xs, ins, outs], points, last };
}
