// Unit tests of the page's pure modules: units and the URL layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtBps } from '../../web/format.js';
import { formatHash, parseHash, entryKind } from '../../web/layout.js';

test('rates get automatic units', () => {
  assert.equal(fmtBps(null), '—');
  assert.equal(fmtBps(0), '0 bps');
  assert.equal(fmtBps(950), '950 bps');
  assert.equal(fmtBps(12345), '12.3 kbps');
  assert.equal(fmtBps(8000362), '8.00 Mbps');
  assert.equal(fmtBps(999999999), '1.00 Gbps');
  assert.equal(fmtBps(4e10), '40.0 Gbps');
});

test('the layout survives the URL, whatever the names', () => {
  const panels = ['ifmon:tokyo-edge1:ge-0/0/0', 'ifmon:a:x, y&z=#1 %20 ü', 'site:tokyo', 'siteall:o,saka'];
  const hash = formatHash({ window: 15, panels });
  assert.match(hash, /^#w=15&p=ifmon:tokyo-edge1:ge-0\/0\/0,/);
  assert.deepEqual(parseHash(hash), { window: 15, panels });
  assert.deepEqual(parseHash('#w=7&p=,,'), { window: 5, panels: [] });
  assert.deepEqual(entryKind('siteall:o,saka'), { kind: 'siteall', name: 'o,saka' });
  assert.deepEqual(entryKind('site:tokyo'), { kind: 'site', name: 'tokyo' });
  assert.deepEqual(entryKind('ifmon:d:i'), { kind: 'if', name: 'ifmon:d:i' });
});
