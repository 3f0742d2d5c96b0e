// Nothing cut off, at any screen size: five simulated sites (40
// interfaces each, some near 100% of their speed so that the readouts are
// as wide as they get, long aliases) on the real stack, and the page in
// headless Chromium at a phone, a laptop, 1600x900 with three columns of
// panels, 1920x1080 and a 3840x2160 wall: every readout inside its panel,
// every number of the overview inside its site, every event inside the
// events list; in kiosk mode, no
// controls and no scrollbars on a 1920x1080 screen. Screenshots go to
// tests/out/web/.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Stack, state, until, OUT } = require('./lib.js');

const shot = (page, name) => page.screenshot({ path: path.join(OUT, `${name}.png`) });

const NAMES = ['amsterdam', 'berlin', 'chicago', 'denver', 'edinburgh'];
const PER_SITE = 40;
const ALIASES = ['uplink to ISP-A, circuit 12345-ABCDEF', 'customer Example Networks GmbH, VLAN 4711', '', 'backbone ring west'];

function fiveSites() {
  const sites = {};
  const devices = {};
  for (const [s, name] of NAMES.entries()) {
    const dev = `${name}-core1`;
    sites[name] = {
      [dev]: Array.from({ length: PER_SITE }, (_, k) => {
        const speedMbps = k < 4 ? 10000 : 1000;
        const u = k === 2 ? 0.987 : k === 5 ? 0.999 : ((k * 37 + s * 11) % 90) / 100 + 0.005;
        return {
          index: k + 1, name: `xe-0/0/${k}`, alias: ALIASES[k % ALIASES.length],
          inRate: Math.round((speedMbps * 1e6 / 8) * u), outRate: Math.round((speedMbps * 1e6 / 8) * u * 0.93),
          speedMbps, inErr: k % 13 === 1 ? 5 : 0,
        };
      }),
    };
    devices[dev] = { site_total: ['xe-0/0/0', 'xe-0/0/1'], alerts: { errors: { above: 1, for: '1s' } } };
  }
  return { sites, devices };
}

const VIEWPORTS = [
  ['phone', { width: 360, height: 740 }],
  ['laptop', { width: 1280, height: 800 }],
  ['1600', { width: 1600, height: 900 }],
  ['1920', { width: 1920, height: 1080 }],
  ['wall', { width: 3840, height: 2160 }],
];

/** Elements (by selector) sticking out of their container (by selector
 * of the closest ancestor), or cut inside their own box (unless names:
 * names may end in an ellipsis, numbers may not). */
function overflows(page, sel, container, names = false) {
  return page.evaluate(([sel, container, names]) => {
    const bad = [];
    for (const el of document.querySelectorAll(sel)) {
      if (!el.offsetParent) continue; // not shown
      const r = el.getBoundingClientRect();
      const c = el.closest(container).getBoundingClientRect();
      if (r.left < c.left - 0.5 || r.right > c.right + 0.5 || (!names && el.scrollWidth > el.clientWidth + 0.5)) {
        bad.push(`${el.className} "${el.textContent}" [${r.left.toFixed(1)}, ${r.right.toFixed(1)}] in [${c.left.toFixed(1)}, ${c.right.toFixed(1)}], scroll ${el.scrollWidth} > ${el.clientWidth}`);
      }
    }
    return bad;
  }, [sel, container, names]);
}

/** Scroll sizes larger than the box, for the page and the given selectors. */
function scrollbars(page, sels) {
  return page.evaluate((sels) => {
    const bad = [];
    for (const sel of ['html', 'body', ...sels]) {
      for (const el of document.querySelectorAll(sel)) {
        if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
          bad.push(`${sel}: ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
        }
      }
    }
    return bad;
  }, sels);
}

describe('nothing cut off', { timeout: 240000 }, () => {
  const { sites, devices } = fiveSites();
  const stack = new Stack({ sites, devices, agent: 'simagent' });

  before(async () => {
    await stack.start();
    await stack.launchBrowser();
  });

  after(async () => {
    await stack.stop();
  });

  it('keeps every panel readout inside its panel, from a phone to a wall', async () => {
    const entries = [
      'ifmon:amsterdam-core1:xe-0/0/2', 'ifmon:amsterdam-core1:xe-0/0/5', 'ifmon:berlin-core1:xe-0/0/1',
      'ifmon:chicago-core1:xe-0/0/6', 'ifmon:denver-core1:xe-0/0/3', 'ifmon:edinburgh-core1:xe-0/0/7',
      'total:amsterdam', 'siteall:berlin', 'total:chicago',
    ];
    const hash = `#w=1&p=${entries.map(encodeURIComponent).join(',')}`;
    for (const [name, viewport] of VIEWPORTS) {
      const page = await stack.page(hash, { viewport });
      await until(`${name}: readouts filled`, async () => {
        const st = await state(page);
        return st && st.panels.length === entries.length && st.panels.every((p) => p.in_bps != null);
      }, 20000, 200);
      // Panels off screen are not drawn: bring each into view once.
      for (let i = 0; i < entries.length; i++) {
        const p = page.locator('.panel').nth(i);
        await p.scrollIntoViewIfNeeded();
        await until(`${name}: panel ${i} drawn`, async () => /bps/.test(await p.locator('.rout').textContent()), 5000, 50);
      }
      if (name === '1600') {
        const lefts = await page.locator('.panel').evaluateAll((els) => new Set(els.map((e) => Math.round(e.getBoundingClientRect().left))).size);
        assert.equal(lefts, 3, 'three columns at 1600 px with the picker');
      }
      const bad = [...await overflows(page, '.panel .rin, .panel .rout', '.panel'),
        ...await overflows(page, '.panel .readout', '.panel')];
      await shot(page, `fit-board-${name}`);
      assert.deepEqual(bad, [], `${name}: ${bad.join('; ')}`);
      assert.deepEqual(page.errors, []);
      await page.close();
    }
  });

  it('keeps every number of the overview inside its site, from a phone to a wall', async () => {
    for (const [name, viewport] of VIEWPORTS) {
      const page = await stack.page('', { viewport });
      await until(`${name}: five sites with rows`, async () => {
        const st = await state(page);
        return st && st.overview.length === 5 && st.overview.every((s) => s.rows.length === 10 && s.total.reporting === 2) &&
          st.events.active.length >= 5 && (await page.locator('#ov-active .ev:not(.none)').count()) >= 5;
      }, 20000, 200);
      const bad = [...await overflows(page, '.site-card td.num, .site-card .totals span', '.site-card'),
        ...await overflows(page, '.site-card', '#overview'), ...await overflows(page, '#ov-events .ev > :is(.time, .kind, .state, .val)', '#ov-events'),
        ...await overflows(page, '#ov-events .ev > :is(.dev, .itf)', '#ov-events', true)];
      const horiz = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      await shot(page, `fit-overview-${name}`);
      assert.deepEqual(bad, [], `${name}: ${bad.join('; ')}`);
      assert.ok(horiz <= 0, `${name}: the page scrolls sideways by ${horiz} px`);
      assert.deepEqual(page.errors, []);
      await page.close();
    }
  });

  it('kiosk: no controls, five sites fill a 1920x1080 screen without scrollbars, in large type', async () => {
    for (const [name, viewport] of [['1920', { width: 1920, height: 1080 }], ['wall', { width: 3840, height: 2160 }]]) {
      const page = await stack.page('', { viewport, query: '&kiosk=1' });
      const st = await until(`${name}: kiosk overview with rows`, async () => {
        const s = await state(page);
        return s && s.kiosk && s.overview.length === 5 && s.overview.every((x) => x.rows.length >= 3 && x.total.reporting === 2) && s;
      }, 20000, 200);
      assert.equal(st.view, 'overview');
      assert.equal(await page.locator('#bar').isVisible(), false);
      assert.equal(await page.locator('#picker').isVisible(), false);
      assert.equal(await page.locator('#filter').isVisible(), false);
      // Rows per site adapt: they fill the card, and all of them are seen.
      await until(`${name}: rows fitted`, async () => {
        const rows = await page.evaluate(() => [...document.querySelectorAll('.site-card')].map((c) => {
          const box = c.getBoundingClientRect();
          const trs = [...c.querySelectorAll('tbody tr')].filter((t) => !t.hidden);
          return { n: trs.length, inside: trs.every((t) => t.getBoundingClientRect().bottom <= box.bottom + 0.5) };
        }));
        return rows.every((r) => r.inside && r.n >= 3);
      }, 5000, 100);
      const bars = await scrollbars(page, ['#overview', '#ov-sites', '.site-card', '.site-card .rows']);
      assert.deepEqual(bars, [], `${name}: ${bars.join('; ')}`);
      const cut = [...await overflows(page, '.site-card td.num, .site-card .totals span', '.site-card'),
        ...await overflows(page, '#ov-events .ev > :is(.time, .kind, .state, .val)', '#ov-events'),
        ...await overflows(page, '#ov-events .ev > :is(.dev, .itf)', '#ov-events', true)];
      assert.deepEqual(cut, [], `${name}: ${cut.join('; ')}`);
      const px = await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.site-card td.num')).fontSize));
      assert.ok(px >= (name === 'wall' ? 32 : 20), `${name}: numbers in ${px} px type`);
      await shot(page, `kiosk-overview-${name}`);
      assert.deepEqual(page.errors, []);
      await page.close();
    }
    // A board in kiosk mode: the panels, no controls.
    const page = await stack.page('#w=1&p=total:amsterdam,total:berlin', { viewport: { width: 1920, height: 1080 }, query: '&kiosk=1' });
    await until('kiosk board', async () => (await state(page))?.panels.every((p) => p.in_bps != null), 20000, 200);
    assert.equal(await page.locator('#bar').isVisible(), false);
    assert.equal(await page.locator('.panel .close').first().isVisible(), false);
    assert.deepEqual(await scrollbars(page, ['#panels']), []);
    await shot(page, 'kiosk-board');
    await page.close();
  });
});
