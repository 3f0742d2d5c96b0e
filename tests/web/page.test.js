// End-to-end tests of the web page (web/) in headless Chromium against the
// real stack: redis-server, snmpsimd (two sites), the collector and the
// gateway serving web/. Screenshots go to tests/out/web/.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Stack, TOKYO_TOKEN, expected, state, near, until, drawn, sleep, OUT } = require('./lib.js');

const TOKYO_GE = 'ifmon:tokyo-edge1:ge-0/0/0';
const PARIS_ETH0 = 'ifmon:paris-core1:eth0';
const ODD = 'ifmon:tokyo-edge1:ae1.100 cust,#1&%';

const shot = (page, name) => page.screenshot({ path: path.join(OUT, `${name}.png`) });

function panel(st, id) {
  return st.panels.find((p) => p.id === id);
}

/** Waits until the panel's readout is within 2% of the simulated rates. */
async function ratesMatch(page, channel) {
  const [, device, iface] = /^ifmon:([^:]+):(.*)$/.exec(channel);
  const want = expected(device, iface);
  return until(`${channel} readout near ${JSON.stringify(want)}`, async () => {
    const p = panel(await state(page), channel);
    return p && near(p.in_bps, want.in_bps) && near(p.out_bps, want.out_bps) && p;
  }, 15000, 200);
}

describe('web page', { timeout: 240000 }, () => {
  const stack = new Stack();

  before(async () => {
    await stack.start();
    await stack.launchBrowser();
    // Let the collector build up some history (>= 8 s of samples).
    const wait = 8500 - (Date.now() - stack.collectorStarted);
    if (wait > 0) await sleep(wait);
  });

  after(async () => {
    await stack.stop();
  });

  it('lists the sites', async () => {
    const page = await stack.page('#w=5&v=board');
    await until('inventory', async () => (await state(page))?.inventory);
    const st = await state(page);
    assert.deepEqual(st.sites, ['paris', 'tokyo']);
    assert.equal(st.connection, 'connected');
    const names = await page.locator('#tree .site-name').allTextContents();
    assert.deepEqual(names, ['paris', 'tokyo']);
    // The filter finds an interface by device and interface words.
    await page.fill('#filter', 'edge1 xe-');
    await until('filtered tree', async () =>
      (await page.locator('#tree .ifname').allTextContents()).join('|') === 'xe-1/0/0');
    await shot(page, 'picker-filter');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('shows two chosen interfaces of two sites with the simulated rates, history at once', async () => {
    const page = await stack.page('#w=5&v=board');
    await until('inventory', async () => (await state(page))?.inventory);
    // Choose through the picker, as an operator would.
    await page.locator('details[data-site="tokyo"] > summary .site-name').click();
    const t0 = Date.now();
    await page.locator('label', { hasText: 'ge-0/0/0' }).locator('input').check();
    // History: the new panel has >= 5 points at once (the collector has
    // run for more than 8 s), well before 5 live samples could arrive.
    const filled = await until('history in the tokyo panel', async () => {
      const p = panel(await state(page), TOKYO_GE);
      return p && p.points >= 5 && p;
    }, 3000, 50);
    assert.ok(Date.now() - t0 < 3000, `history took ${Date.now() - t0} ms`);
    assert.ok(filled.points >= 5);
    await page.locator('details[data-site="paris"] > summary .site-name').click();
    await page.locator('label', { hasText: 'eth0' }).locator('input').check();
    const a = await ratesMatch(page, TOKYO_GE);
    const b = await ratesMatch(page, PARIS_ETH0);
    assert.equal(a.stale, false);
    assert.equal(a.oper, 'up');
    assert.ok(near(a.util_in, 1.0, 0.05), `tokyo utilization ${a.util_in}`); // 10 Mb/s of 1 Gb/s
    assert.ok(near(b.util_in, 16, 0.05), `paris utilization ${b.util_in}`); // 16 Mb/s of 100 Mb/s
    const st = await state(page);
    assert.equal(st.panels.length, 2);
    // The layout went into the URL.
    const hash = decodeURIComponent(new URL(page.url()).hash);
    assert.ok(hash.includes(TOKYO_GE) && hash.includes(PARIS_ETH0), hash);
    // Readouts as text, with units.
    const m = await drawn('the first panel\'s readout', page.locator('.panel').first().locator('.readout'), { re: /in ([\d.]+) Mbps/ });
    assert.ok(near(Number(m[1]), 10), m.input);
    await shot(page, 'two-sites');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('reopens a layout from the URL, in the dark and light schemes', async () => {
    const chans = [
      TOKYO_GE, 'ifmon:tokyo-edge1:xe-1/0/0', ODD, 'ifmon:tokyo-core1:et-0/0/1',
      PARIS_ETH0, 'ifmon:paris-core1:eth1',
    ];
    const entries = [...chans, 'site:tokyo', 'siteall:paris'];
    const hash = `#w=1&p=${entries.map(encodeURIComponent).join(',')}`;
    for (const scheme of ['dark', 'light']) {
      const page = await stack.page(hash, { colorScheme: scheme });
      const st = await until('panels with data', async () => {
        const s = await state(page);
        return s && s.panels.length === entries.length && s.panels.every((p) => p.points >= 5 && p.in_bps != null) && s;
      }, 15000, 200);
      assert.equal(st.window, 1);
      assert.deepEqual(st.panels.map((p) => p.id), entries);
      await ratesMatch(page, ODD);
      // Site totals: tokyo = the chosen tokyo interfaces, paris = all of paris.
      const tokyoIn = ['ge-0/0/0', 'xe-1/0/0', 'ae1.100 cust,#1&%'].reduce((s, i) => s + expected('tokyo-edge1', i).in_bps, 0)
        + expected('tokyo-core1', 'et-0/0/1').in_bps;
      const parisOut = expected('paris-core1', 'eth0').out_bps + expected('paris-core1', 'eth1').out_bps;
      await until('site totals', async () => {
        const s = await state(page);
        return near(panel(s, 'site:tokyo').in_bps, tokyoIn) && near(panel(s, 'siteall:paris').out_bps, parisOut);
      }, 15000, 200);
      const down = panel(await state(page), 'ifmon:paris-core1:eth1');
      assert.equal(down.oper, 'down');
      // The URL still names the same layout after the page rewrote it.
      assert.equal(new URL(page.url()).hash.split('&p=')[1].split(',').map(decodeURIComponent).join('\n'), entries.join('\n'));
      await sleep(1200); // a redraw with everything in
      await shot(page, `layout-${scheme}`);
      if (scheme === 'dark') {
        // survives a reload
        await page.reload();
        const again = await until('panels after reload', async () => {
          const s = await state(page);
          return s && s.panels.length === entries.length && s.panels.every((p) => p.points >= 5) && s;
        }, 15000, 200);
        assert.deepEqual(again.panels.map((p) => p.id), entries);
        // a laptop screen
        await page.setViewportSize({ width: 1366, height: 768 });
        await sleep(1200);
        await shot(page, 'layout-laptop-dark');
      }
      assert.deepEqual(page.errors, []);
      await page.close();
    }
  });

  it('with a token restricted to tokyo: lists tokyo only, shows its panels, marks the others', async () => {
    // A layout shared by someone who sees everything.
    const entries = [TOKYO_GE, PARIS_ETH0, 'site:tokyo'];
    const hash = `#w=1&p=${entries.map(encodeURIComponent).join(',')}`;
    const page = await stack.page(hash, { token: TOKYO_TOKEN });
    const st = await until('tokyo panels with data', async () => {
      const s = await state(page);
      return s && s.inventory && panel(s, TOKYO_GE)?.points >= 5 && panel(s, 'site:tokyo')?.in_bps != null && s;
    }, 15000, 200);
    assert.deepEqual(st.sites, ['tokyo']);
    assert.equal(st.restricted, true);
    assert.ok(st.subscribed.every((c) => /^ifmon:(events:)?tokyo-/.test(c) || c === 'ifmon:inventory'), st.subscribed.join(' '));
    assert.ok(st.subscribed.includes(TOKYO_GE));
    const paris = panel(st, PARIS_ETH0);
    assert.equal(paris.forbidden, true);
    assert.equal(paris.points, 0);
    assert.equal(panel(st, TOKYO_GE).forbidden, false);
    await drawn('the not-permitted badge', page.locator('.badge.bad', { hasText: 'not permitted' }), { n: 1 });
    await ratesMatch(page, TOKYO_GE);
    // No error banner: the page adapted to what it may see.
    assert.equal(st.error, null);
    await shot(page, 'restricted-token');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('16 panels fit a 1920x1080 screen', async () => {
    const list = [];
    for (const d of ['tokyo-edge1', 'tokyo-core1', 'paris-core1']) {
      const inv = JSON.parse(stack.redisCmd('GET', 'ifmon:inventory'));
      for (const s of inv.sites) for (const dev of s.devices) if (dev.name === d) for (const i of dev.interfaces) list.push(i.channel);
    }
    const entries = [...list, 'site:tokyo', 'site:paris', 'siteall:tokyo', 'siteall:paris'];
    while (entries.length < 16) entries.push(`site:nowhere${entries.length}`); // empty panels
    const page = await stack.page(`#w=5&p=${entries.map(encodeURIComponent).join(',')}&x=1`, { colorScheme: 'dark' });
    await page.click('#toggle-picker'); // wall screen: panels only
    await until('16 panels charted', async () => {
      const s = await state(page);
      return s && s.panels.length === 16 && s.panels.filter((p) => p.charted).length === 16;
    }, 15000, 200);
    // All of them on screen, none overflowing.
    const boxes = await page.locator('.panel').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().bottom));
    assert.ok(Math.max(...boxes) <= 1080, `lowest panel ends at ${Math.max(...boxes)}`);
    await sleep(1000);
    await shot(page, 'wall-16-dark');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('recovers by itself when the gateway restarts', async () => {
    const page = await stack.page(`#w=1&p=${encodeURIComponent(TOKYO_GE)}`);
    await ratesMatch(page, TOKYO_GE);
    const before = await state(page);
    assert.equal(before.connects, 1);
    await stack.killGateway();
    const down = await until('reconnecting', async () => {
      const s = await state(page);
      return s.connection === 'reconnecting' && s;
    }, 5000, 50);
    assert.equal(down.connection, 'reconnecting');
    await until('visible reconnect state', async () => /reconnecting/.test(await page.locator('#conn').innerText()), 5000, 50);
    await shot(page, 'reconnecting');
    await sleep(3000); // a few failed attempts (backoff) while it is away
    await stack.startGateway();
    await until('connected again', async () => {
      const s = await state(page);
      return s.connection === 'connected' && s.connects >= 2;
    }, 30000, 200);
    const t1 = panel(await state(page), TOKYO_GE).ts;
    // New samples, and a right rate among them (one sample alone may
    // span a stall of this shared machine: ratesMatch's rule).
    const p = await until('new samples with the right rate after the restart', async () => {
      const x = panel(await state(page), TOKYO_GE);
      return x.ts > t1 + 1.5 && !x.stale &&
        near(x.in_bps, expected('tokyo-edge1', 'ge-0/0/0').in_bps) && x;
    }, 15000, 200);
    // History came again after the resubscribe; the ~3 s outage is filled, not doubled.
    const pts = p.points;
    assert.ok(pts <= 62, `points ${pts} in a 1-minute window`);
    const errors = page.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e));
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('shows a panel as down and stale when its device is down, and back when it is up', async () => {
    const page = await stack.page(`#w=1&p=${encodeURIComponent(PARIS_ETH0)}`);
    await ratesMatch(page, PARIS_ETH0);
    const state0 = (status) => JSON.stringify({
      device: 'paris-core1', site: 'paris', status, ts: Date.now() / 1000,
      error: status === 'down' ? 'timeout' : null,
    });
    // The collector publishes device states on <prefix>:<device>; say it is down.
    stack.redisCmd('PUBLISH', 'ifmon:paris-core1', state0('down'));
    await until('the panel down and stale', async () => {
      const p = panel(await state(page), PARIS_ETH0);
      return p.down && p.stale;
    }, 5000, 100);
    await shot(page, 'device-down');
    stack.redisCmd('PUBLISH', 'ifmon:paris-core1', state0('up'));
    await until('the panel up again', async () => {
      const p = panel(await state(page), PARIS_ETH0);
      return !p.down && !p.stale;
    }, 5000, 100);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('pauses, and shows a panel as stale when samples stop', async () => {
    const page = await stack.page(`#w=1&p=${encodeURIComponent(TOKYO_GE)}`);
    await ratesMatch(page, TOKYO_GE);
    await page.click('#pause');
    assert.equal((await state(page)).paused, true);
    await until('paused badge', async () => (await page.locator('.panel .badge.paused').count()) === 1, 3000, 50);
    await page.click('#pause');
    assert.equal((await state(page)).paused, false);
    // No sample for three intervals: stale (the collector stops).
    await stack.collector.stop();
    await until('stale panel', async () => panel(await state(page), TOKYO_GE).stale, 8000, 100);
    await until('stale badge', async () => (await page.locator('.panel .badge.stale').count()) === 1, 3000, 100);
    await shot(page, 'stale');
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});
