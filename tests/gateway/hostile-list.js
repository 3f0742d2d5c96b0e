// `list` under hostile clients: the gateway reads the inventory once per
// change (the collector announces each on <prefix>:inventory) and answers
// every list from its copy, so connections listing as fast as the rate
// limit lets them cost it next to nothing, and a well-behaved client's list
// and live data are not delayed; a change is still seen by the next list
// (docs/PROTOCOL.md, part 2, "list").
// Registered by hostile.test.js, which runs it beside the deadlines' waits.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, inventory, until, lagProbe, LAG_SERVED_MS, timed, percentile, redisInfo, sleep, SAN, PREFIX } =
  require('./lib');
const { runFlood } = require('./flood');

// 50 devices of 100 interfaces: a 5,000-interface snapshot.
const DEVICES = Object.fromEntries(Array.from({ length: 50 }, (_, d) =>
  [`dev${d}`, Array.from({ length: 100 }, (_, i) => `xe-0/0/${i}`)]));
// Served, not starved (see LAG_SERVED_MS): lists timed out when each
// re-parsed the inventory; the 200 ms goal is `make attack`'s.
const LIST_MAX_MS = SAN ? 1000 : 500;
// Re-parsing the inventory for each list held a core at 100%.
const CPU_SHARE_MAX = SAN ? 0.75 : 0.5;

describe('gateway list under a flood of lists', () => {
  let env;
  before(async () => {
    env = await setup();
    await env.pub.command('SET', `${PREFIX}:inventory`, inventory(DEVICES));
  });
  after(async () => {
    await env.teardown();
  });

  it('reads the inventory from Redis once per change, not once per list', async () => {
    const c = await env.connect();
    const first = await c.request({ op: 'list', id: 0 }, 'list');
    assert.equal(first.inventory.sites[0].devices.length, 50);
    const gets0 = (await redisInfo(env.pub, 'commandstats')).cmdstat_get;
    for (let i = 1; i <= 30; i++) await c.request({ op: 'list', id: i }, 'list');
    const gets1 = (await redisInfo(env.pub, 'commandstats')).cmdstat_get;
    const n = (s) => (s ? Number(/calls=(\d+)/.exec(s)[1]) : 0);
    assert.equal(n(gets1) - n(gets0), 0, `GETs for 30 lists: ${n(gets1) - n(gets0)}`);
  });

  it('serves a well-behaved client its lists and live data, at under half a core, while 10 connections list 19 times a second', async (t) => {
    const c = await env.connect();
    const probe = await lagProbe(env, c);
    const before = (await env.gw.metrics()).ifmon_gateway_connections;
    const cpu0 = env.gw.cpuSeconds();
    const t0 = Date.now();
    const flood = runFlood({
      port: env.gw.port, localAddress: '127.0.0.2', connections: 10, intervalMs: 1000 / 19,
      durationMs: 4000, startStaggerMs: 50, messages: ['{"op":"list","id":$n}'],
    });
    await until('the flood to connect', async () =>
      (await env.gw.metrics()).ifmon_gateway_connections >= before + 10, 5000, 20);
    const times = [];
    for (let i = 0; i < 10; i++) {
      const [ms, r] = await timed(c, { op: 'list', id: `own-${i}` }, 'list', 10000);
      assert.equal(r.inventory.sites[0].devices.length, 50);
      times.push(ms);
      await sleep(250); // pacing: a list every quarter second, under the rate limit
    }
    const stats = await flood;
    const cpuMs = (env.gw.cpuSeconds() - cpu0) * 1000;
    const share = cpuMs / (Date.now() - t0);
    const { lags, sent } = await probe.stop();
    t.diagnostic(`flood: ${stats.sent} lists sent, ${(stats.bytesIn / 1e6).toFixed(0)} MB received; ` +
      `gateway CPU ${(share * 100).toFixed(0)}% of a core, ${(cpuMs / (stats.sent + times.length)).toFixed(2)} ms a list; ` +
      `own list ms max ${Math.max(...times).toFixed(1)} (${times.map((x) => x.toFixed(1)).join(' ')}); ` +
      `lag p50 ${percentile(lags, 50)} p99 ${percentile(lags, 99)} max ${Math.max(...lags)} ms ` +
      `(${lags.length} of ${sent})`);
    assert.ok(stats.sent >= 10 * 19 * 3, `the flood sent ${stats.sent} lists`);
    assert.ok(share < CPU_SHARE_MAX, `gateway CPU ${(share * 100).toFixed(0)}% of a core`);
    assert.ok(Math.max(...times) < LIST_MAX_MS, `list took ${times}`);
    assert.ok(lags.length >= sent * 0.99, `${lags.length} of ${sent} live samples`);
    assert.ok(percentile(lags, 99) < LAG_SERVED_MS, `live lag p99 ${percentile(lags, 99)} ms`);
  });

  it('shows a change of the inventory to the next list', async () => {
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:inventory`], id: 'inv' }, 'subscribed');
    const old = await c.request({ op: 'list', id: 'old' }, 'list');
    assert.equal(old.inventory.sites[0].devices.length, 50);
    await env.pub.command('SET', `${PREFIX}:inventory`, inventory({ changed: ['eth0'] }));
    // The announcement reached the client: the gateway had it first.
    await c.waitFor('the announcement', (ms) => ms.some((m) => m.channel === `${PREFIX}:inventory` && m.data));
    const now = await c.request({ op: 'list', id: 'new' }, 'list');
    assert.deepEqual(now.inventory.sites[0].devices.map((d) => d.name), ['changed']);
    await env.pub.command('DEL', `${PREFIX}:inventory`);
    await c.waitFor('the second announcement',
      (ms) => ms.filter((m) => m.channel === `${PREFIX}:inventory` && m.data).length >= 2);
    assert.equal((await c.request({ op: 'list', id: 'none' }, 'list')).inventory, null);
  });
});

describe('gateway list under a flood of lists, restricted tokens', () => {
  let env;
  const tokens = [{ token: 'restricted-token-1', channels: [`${PREFIX}:dev1*`] }];
  before(async () => {
    env = await setup({ token: 'admin-token-000001', tokens });
    await env.pub.command('SET', `${PREFIX}:inventory`, inventory(DEVICES));
  });
  after(async () => {
    await env.teardown();
  });

  it('cuts a restricted token\'s view once per change, and answers it under the flood', async (t) => {
    const url = (tok) => `ws://127.0.0.1:${env.gw.port}/ws?token=${tok}`;
    const c = await env.connect({ url: url('restricted-token-1') });
    const probe = await lagProbe(env, await env.connect({ url: url('admin-token-000001') }));
    const view = await c.request({ op: 'list', id: 0 }, 'list');
    // dev1, dev10..dev19: 11 devices.
    assert.equal(view.inventory.sites[0].devices.length, 11);
    const flood = runFlood({
      port: env.gw.port, localAddress: '127.0.0.2', path: '/ws?token=restricted-token-1',
      connections: 10, intervalMs: 1000 / 19, durationMs: 3000, startStaggerMs: 50,
      messages: ['{"op":"list","id":$n}'],
    });
    const times = [];
    for (let i = 0; i < 8; i++) {
      await sleep(250); // pacing
      const [ms, r] = await timed(c, { op: 'list', id: `own-${i}` }, 'list', 10000);
      assert.equal(r.inventory.sites[0].devices.length, 11);
      times.push(ms);
    }
    const stats = await flood;
    const { lags } = await probe.stop();
    t.diagnostic(`flood: ${stats.sent} lists; own list ms max ${Math.max(...times).toFixed(1)}; ` +
      `lag p99 ${percentile(lags, 99)} ms`);
    assert.ok(Math.max(...times) < LIST_MAX_MS, `list took ${times}`);
    assert.ok(percentile(lags, 99) < LAG_SERVED_MS, `live lag p99 ${percentile(lags, 99)} ms`);
  });
});
