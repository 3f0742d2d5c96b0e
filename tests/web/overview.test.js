// End-to-end tests of the overview, the events, the panels' metric switch
// and site totals, in headless Chromium against the real stack (the two
// simulated sites of lib.js: tokyo with two site_total uplinks, errors and
// an errors alert on tokyo-edge1 ge-0/0/0; paris with no site total and no
// packet counters). Screenshots go to tests/out/web/.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Stack, TOKYO_TOKEN, expected, state, near, until, drawn, OUT } = require('./lib.js');

const shot = (page, name) => page.screenshot({ path: path.join(OUT, `${name}.png`) });
const site = (st, name) => st.overview.find((s) => s.name === name);
const row = (st, ch) => st.overview.flatMap((s) => s.rows).find((r) => r.channel === ch);
const panel = (st, id) => st.panels.find((p) => p.id === id);

const TOKYO_UP_A = 'ifmon:tokyo-edge1:xe-1/0/0';
const TOKYO_UP_B = 'ifmon:tokyo-core1:xe-0/0/1';
const TOKYO_GE = 'ifmon:tokyo-edge1:ge-0/0/0';
const PARIS_ETH0 = 'ifmon:paris-core1:eth0';

/** An overview page whose sites all have rows. */
async function overview(stack, opts = {}) {
  const page = await stack.page('', opts);
  await until('the overview with rows', async () => {
    const st = await state(page);
    return st && st.view === 'overview' && st.overview.length === 2 && st.overview.every((s) => s.rows.length === s.interfaces);
  }, 15000, 200);
  return page;
}

describe('overview', { timeout: 240000 }, () => {
  const stack = new Stack();

  before(async () => {
    await stack.start();
    await stack.launchBrowser();
    // The errors alert of tokyo-edge1 ge-0/0/0 (3 errors/s, above 1 for 2 s).
    await until('the errors alert raised', () => /"kind":"errors"/.test(stack.redisCmd('GET', 'ifmon:alerts')), 20000, 200);
  });

  after(async () => {
    await stack.stop();
  });

  it('opens on the overview: site totals of the site_total interfaces, busiest first, errors and alerts marked', async () => {
    const page = await overview(stack);
    const want = {
      in: expected('tokyo-edge1', 'xe-1/0/0').in_bps + expected('tokyo-core1', 'xe-0/0/1').in_bps,
      out: expected('tokyo-edge1', 'xe-1/0/0').out_bps + expected('tokyo-core1', 'xe-0/0/1').out_bps,
    };
    const st = await until('tokyo total near the sum of its two uplinks', async () => {
      const s = await state(page);
      const t = site(s, 'tokyo').total;
      return t.reporting === 2 && near(t.in_bps, want.in) && near(t.out_bps, want.out) && s;
    }, 15000, 200);
    const tokyo = site(st, 'tokyo');
    assert.equal(tokyo.total.members, 2);
    assert.equal(site(st, 'paris').total.defined, false);
    // Busiest first: utilization never grows down the list.
    const utils = tokyo.rows.map((r) => r.util);
    assert.deepEqual(utils, [...utils].sort((a, b) => b - a), utils.join(' '));
    assert.equal(tokyo.rows[0].channel, TOKYO_UP_A); // 8% of 10 Gb/s
    assert.equal(row(st, TOKYO_UP_A).alias, 'uplink to ISP-A, circuit 12345');
    // Errors and discards, and the active alert, marked on the row.
    const ge = row(st, TOKYO_GE);
    assert.equal(ge.errors, true);
    assert.equal(ge.discards, true);
    assert.deepEqual(ge.alerts, ['errors']);
    assert.equal(row(st, TOKYO_UP_A).errors, false);
    // What the screen says.
    const card = page.locator('.site-card[data-site="tokyo"]');
    await drawn('the tokyo card\'s note', card.locator('.note'), { re: /sum of 2 site_total interfaces: tokyo-core1 xe-0\/0\/1, tokyo-edge1 xe-1\/0\/0/ });
    await drawn('the paris card\'s note', page.locator('.site-card[data-site="paris"] .note'), { re: /no site_total interfaces defined/ });
    const geRow = card.locator(`tr[data-ch="${TOKYO_GE}"]`);
    await drawn('the row\'s alias', geRow, { re: /backbone to Osaka/ });
    await drawn('the row\'s alert badge', geRow.locator('.badge.alert', { hasText: 'errors' }), { n: 1 });
    await drawn('the row\'s errors badge', geRow.locator('.badge.err'), { n: 1 });
    // Opened after the alert was raised: active from the events op.
    assert.equal(st.events.op, 'ok');
    assert.ok(st.events.active.some((e) => e.device === 'tokyo-edge1' && e.interface === 'ge-0/0/0' && e.kind === 'errors'));
    await until('the alert listed', async () => /tokyo-edge1\s+ge-0\/0\/0/.test(await page.locator('#ov-active').innerText()), 3000, 50);
    await shot(page, 'overview');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('shows an alert the collector raises live, in the events and on its row; a page opened later has it active', async () => {
    const page = await overview(stack);
    assert.deepEqual(row(await state(page), PARIS_ETH0).alerts, []);
    // paris eth0 carries 16% of 100 Mb/s: utilization above 5% for 2 s.
    stack.reconfigureDevice('paris-core1', { alerts: { utilization: { above: '5%', for: '2s' } } });
    const st = await until('the utilization alert on the paris row', async () => {
      const s = await state(page);
      return row(s, PARIS_ETH0)?.alerts.includes('utilization') && s;
    }, 15000, 200);
    assert.ok(st.events.active.some((e) => e.device === 'paris-core1' && e.kind === 'utilization'));
    await until('the event listed', async () => /paris-core1\s+eth0[\s\S]*utilization/.test(await page.locator('#ov-active').innerText()), 3000, 100);
    await drawn('the event among the recent', page.locator('#ov-recent'), { re: /paris-core1\s+eth0[\s\S]*utilization/ });
    // Only one copy of the event, though it came live and the list has it.
    const later = await overview(stack);
    const st2 = await until('the alert active on a page opened later', async () => {
      const s = await state(later);
      return s.events.active.some((e) => e.device === 'paris-core1' && e.kind === 'utilization') && s;
    }, 5000, 100);
    assert.equal(st2.events.recent, (await state(page)).events.recent);
    // Clicking the event opens the interface's panel.
    await later.locator('#ov-active .ev', { hasText: 'paris-core1' }).first().click();
    await until('the paris panel', async () => {
      const s = await state(later);
      return s.view === 'board' && panel(s, PARIS_ETH0)?.alerts.includes('utilization');
    }, 5000, 100);
    await drawn('the panel\'s alert badge', later.locator('.panel .badge.alert', { hasText: 'utilization' }), { n: 1 });
    assert.deepEqual(page.errors, []);
    assert.deepEqual(later.errors, []);
    await page.close();
    await later.close();
  });

  it('opens a row\'s panel with one click; its switch shows packets, errors and discards, or "not polled"', async () => {
    const page = await overview(stack);
    await page.locator(`.site-card tr[data-ch="${TOKYO_UP_A}"]`).click();
    await until('the panel on the board', async () => {
      const s = await state(page);
      return s.view === 'board' && panel(s, TOKYO_UP_A)?.points > 3;
    }, 10000, 100);
    assert.equal(new URL(page.url()).hash, `#w=5&p=${TOKYO_UP_A}`);
    const el = page.locator('.panel').first();
    await drawn('the panel\'s title', el.locator('.title'), { re: /xe-1\/0\/0\s*uplink to ISP-A, circuit 12345/ });
    await el.locator('.metric button', { hasText: 'pps' }).click();
    const want = expected('tokyo-edge1', 'xe-1/0/0');
    const p = await until('packet rates near the simulated ones', async () => {
      const x = panel(await state(page), TOKYO_UP_A);
      return x.metric === 'packets' && near(x.in_pps, want.in_pps) && near(x.out_pps, want.out_pps) && x.charted && x;
    }, 10000, 100);
    assert.ok(p.points > 3);
    // The readout says the same rate in kpps (one decimal), within the
    // tolerance of the sampled value (the simulator's rate jitters).
    const ro = await drawn('the readout in kpps', el.locator('.readout'), { re: /in (\d+\.\d) kpps/ });
    assert.ok(near(Number(ro[1]) * 1000, want.in_pps), `readout ${ro[1]} kpps, want ${want.in_pps / 1000}`);
    // The metric is in the address: a link to it opens on packets.
    await until('the metric in the address', async () => new URL(page.url()).hash === `#w=5&p=${TOKYO_UP_A};pps`, 3000, 50);
    const linked = await stack.page(new URL(page.url()).hash);
    await until('the linked page on packets', async () => panel(await state(linked), TOKYO_UP_A)?.metric === 'packets', 10000, 100);
    await drawn('the pps button pressed', linked.locator('.panel .metric button[aria-pressed="true"]'), { re: /^pps$/ });
    assert.deepEqual(linked.errors, []);
    await linked.close();
    // Back to the overview (the toolbar), then another row: errors mode.
    await page.click('#view-overview');
    await until('the overview again', async () => (await state(page)).view === 'overview', 3000, 50);
    await page.locator(`.site-card tr[data-ch="${TOKYO_GE}"]`).click();
    const ge = page.locator('.panel', { hasText: 'backbone to Osaka' });
    await ge.locator('.metric button', { hasText: 'err' }).click();
    const e = await until('error and discard rates', async () => {
      const x = panel(await state(page), TOKYO_GE);
      return x && x.metric === 'errors' && near(x.in_errors_ps, 3, 0.05) && near(x.out_discards_ps, 2, 0.05) && x;
    }, 10000, 100);
    assert.deepEqual(e.alerts, ['errors']);
    await drawn('the readout in errors', ge.locator('.readout'), { re: /in err [23]\.\d\d\/s disc 0\/s/ });
    await drawn('the panel\'s alert badge', ge.locator('.badge.alert', { hasText: 'errors' }), { n: 1 });
    // paris-core1 does not poll packets: said, not an empty chart.
    await page.goto(`${stack.base}?token=web-admin-token-0001#w=1&p=${encodeURIComponent(PARIS_ETH0)}`);
    await until('paris panel', async () => panel(await state(page), PARIS_ETH0)?.points > 2, 10000, 100);
    await page.locator('.panel .metric button', { hasText: 'pps' }).click();
    await until('not polled', async () => panel(await state(page), PARIS_ETH0).not_polled, 3000, 50);
    await until('the notice drawn', async () => /Packets not polled on paris-core1 \(counters: \[octets, errors\]\)/.test(await page.locator('.panel .notice').innerText()), 3000, 50);
    assert.equal(await page.locator('.panel .chart').isVisible(), false);
    await shot(page, 'not-polled');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('says how a site total is made: its site_total interfaces, or the chosen ones when none is defined', async () => {
    const entries = ['total:tokyo', 'total:paris', PARIS_ETH0];
    const page = await stack.page(`#w=1&p=${entries.map(encodeURIComponent).join(',')}`);
    // A layout from the address gets its history at once, before the
    // inventory is there to say what each entry is.
    await until('history of the interface panel', async () => panel(await state(page), PARIS_ETH0)?.points >= 5, 3000, 50);
    const want = expected('tokyo-edge1', 'xe-1/0/0').in_bps + expected('tokyo-core1', 'xe-0/0/1').in_bps;
    const st = await until('site totals', async () => {
      const s = await state(page);
      return s && near(panel(s, 'total:tokyo')?.in_bps, want) &&
        near(panel(s, 'total:paris')?.in_bps, expected('paris-core1', 'eth0').in_bps) && s;
    }, 15000, 200);
    assert.equal(panel(st, 'total:tokyo').members, 2);
    assert.equal(panel(st, 'total:tokyo').note, 'sum of 2 site_total interfaces: tokyo-core1 xe-0/0/1, tokyo-edge1 xe-1/0/0');
    assert.match(panel(st, 'total:paris').note, /^no site_total interfaces defined in the inventory for paris \(set site_total: \[globs\] on its devices\); showing the sum of the 1 chosen interface: eth0$/);
    await drawn('the total\'s note', page.locator('.panel.kind-total .note').first(), { re: /sum of 2 site_total interfaces/ });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('with a token restricted to tokyo: the overview and the events of tokyo only, no error', async () => {
    const page = await stack.page('', { token: TOKYO_TOKEN });
    const st = await until('the tokyo overview with its alert', async () => {
      const s = await state(page);
      return s && s.overview.length === 1 && s.overview[0].rows.length === 5 &&
        s.events.active.some((e) => e.device === 'tokyo-edge1' && e.kind === 'errors') && s;
    }, 15000, 200);
    assert.equal(st.restricted, true);
    assert.deepEqual(st.sites, ['tokyo']);
    assert.ok(st.events.active.every((e) => e.device.startsWith('tokyo-')), JSON.stringify(st.events.active));
    assert.ok(st.subscribed.every((c) => /^ifmon:(events:)?tokyo-/.test(c) || c === 'ifmon:inventory'), st.subscribed.join(' '));
    assert.equal(st.error, null);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it('the picker\'s filter finds interfaces by their alias', async () => {
    const page = await stack.page('#w=5&v=board');
    await until('inventory', async () => (await state(page))?.inventory);
    await page.fill('#filter', 'isp-b');
    await until('filtered by alias', async () => (await page.locator('#tree .ifname').allTextContents()).join('|') === 'xe-0/0/1', 3000, 50);
    assert.match(await page.locator('#tree label').innerText(), /uplink to ISP-B/);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});
