// Unit tests of the page's pure modules: units and the URL layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtBps, fmtPps, fmtRate } from '../../web/format.js';
import { formatHash, parseHash, entryKind, viewOf } from '../../web/layout.js';

test('rates get automatic units', () => {
  assert.equal(fmtBps(null), '—');
  assert.equal(fmtBps(0), '0 bps');
  assert.equal(fmtBps(950), '950 bps');
  assert.equal(fmtBps(12345), '12.3 kbps');
  assert.equal(fmtBps(8000362), '8.00 Mbps');
  assert.equal(fmtBps(999999999), '1.00 Gbps');
  assert.equal(fmtBps(4e10), '40.0 Gbps');
  assert.equal(fmtPps(950), '950 pps');
  assert.equal(fmtPps(1562.516), '1.56 kpps');
  assert.equal(fmtPps(0.4), '0.40 pps');
  assert.equal(fmtRate(0), '0/s');
  assert.equal(fmtRate(0.2), '0.20/s');
  assert.equal(fmtRate(2.999), '3.00/s');
});

test('the layout survives the URL, whatever the names', () => {
  const panels = ['ifmon:tokyo-edge1:ge-0/0/0', 'ifmon:a:x, y&z=#1 %20 ü;pps', 'site:tokyo', 'siteall:o,saka'];
  const hash = formatHash({ window: 15, panels });
  assert.match(hash, /^#w=15&p=ifmon:tokyo-edge1:ge-0\/0\/0,/);
  assert.deepEqual(parseHash(hash), { window: 15, panels, view: null, metrics: {} });
  assert.deepEqual(parseHash('#w=7&p=,,'), { window: 5, panels: [], view: null, metrics: {} });
  // An interface panel's metric, when not bits, follows its entry.
  const metrics = { [panels[0]]: 'errors', [panels[1]]: 'packets' };
  const withMetrics = formatHash({ window: 5, panels, metrics });
  assert.match(withMetrics, /^#w=5&p=ifmon:tokyo-edge1:ge-0\/0\/0;err,ifmon:a:x%2C%20y%26z%3D%231%20%2520%20%C3%BC%3Bpps;pps,site:tokyo,/);
  assert.deepEqual(parseHash(withMetrics), { window: 5, panels, view: null, metrics });
  assert.deepEqual(parseHash('#w=5&p=ifmon:d:i;bogus').metrics, {});
  assert.deepEqual(entryKind('siteall:o,saka'), { kind: 'siteall', name: 'o,saka' });
  assert.deepEqual(entryKind('site:tokyo'), { kind: 'site', name: 'tokyo' });
  assert.deepEqual(entryKind('ifmon:d:i'), { kind: 'if', name: 'ifmon:d:i' });
});

test('the view: the overview without panels, the board with them, unless v= says', () => {
  assert.equal(viewOf(parseHash('')), 'overview');
  assert.equal(viewOf(parseHash('#w=5')), 'overview');
  assert.equal(viewOf(parseHash('#w=5&p=site:tokyo')), 'board');
  assert.equal(viewOf(parseHash('#w=5&v=board')), 'board');
  assert.equal(viewOf(parseHash('#w=5&p=site:tokyo&v=overview')), 'overview');
  assert.equal(formatHash({ window: 5, panels: [], view: 'overview' }), '#w=5');
  assert.equal(formatHash({ window: 5, panels: [], view: 'board' }), '#w=5&v=board');
  assert.equal(formatHash({ window: 1, panels: ['total:tokyo'], view: 'overview' }), '#w=1&p=total:tokyo&v=overview');
  assert.equal(formatHash({ window: 1, panels: ['total:tokyo'], view: 'board' }), '#w=1&p=total:tokyo');
  assert.deepEqual(entryKind('total:tokyo'), { kind: 'total', name: 'tokyo' });
});
