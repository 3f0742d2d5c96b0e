// History under hostile clients: a connection may have Redis send it at
// most HISTORY_CONN_RATE samples a second (bursts of HISTORY_CONN_BURST),
// past which a subscribe gets live data only and a notice; and
// subscriptions that need the same lists at the same time share one LRANGE
// per list (docs/PROTOCOL.md, part 2, "Caps"). At a small scale; the 20 s
// attack of the issue is tests/gateway/measure-hostile.js history.
// Registered by hostile.test.js, which runs it beside the deadlines' waits.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, inventory, lagProbe, LAG_SERVED_MS, percentile, redisInfo, PREFIX } = require('./lib');
const { runFlood } = require('./flood');

const IFACES = 60; // x 300 samples: 18,000, under one request's cap of 20,000
const SAMPLES = 300;
const PATTERN = `${PREFIX}:hh:*`;
const ifname = (k) => `e${String(k).padStart(2, '0')}`;

const calls = (info, cmd) => {
  const s = info[`cmdstat_${cmd}`];
  return s ? Number(/calls=(\d+)/.exec(s)[1]) : 0;
};

// Subscribe c to PATTERN and wait for its history: every frame, or the
// notice of the channels that got none. Returns the notice (or undefined).
async function subscribeAll(c, id) {
  await c.request({ op: 'subscribe', channels: [PATTERN], id }, 'subscribed');
  const from = c.messages.length;
  await c.waitFor(`the history of ${id}`, (ms) => {
    const mine = ms.slice(from);
    const notice = mine.find((m) => m.op === 'history_truncated');
    const frames = mine.filter((m) => Array.isArray(m.history)).length;
    return frames === IFACES || (notice && frames + notice.skipped === IFACES);
  }, 20000);
  return c.messages.slice(from).find((m) => m.op === 'history_truncated');
}

describe('gateway history under hostile clients', () => {
  let env;
  before(async () => {
    env = await setup();
    const names = Array.from({ length: IFACES }, (_, k) => ifname(k));
    await env.pub.command('SET', `${PREFIX}:inventory`, inventory({ hh: names }));
    let last;
    for (const name of names) {
      const samples = [];
      for (let seq = 1; seq <= SAMPLES; seq++) {
        samples.push(JSON.stringify({
          device: 'hh', site: 'test', interface: name, ifindex: 1, ts: 1764052800 + seq / 1000,
          interval: 1, in_bps: 8000362 + seq, out_bps: 4000185 + seq, speed_bps: 1e9, oper: 'up', seq,
          pad: 'x'.repeat(40),
        }));
      }
      last = env.pub.command('RPUSH', `${PREFIX}:history:hh:${name}`, ...samples);
    }
    await last;
  });
  after(async () => {
    await env.teardown();
  });

  it('gives a connection that asks for history again and again live data only, with a notice', async () => {
    const c = await env.connect();
    let notice;
    let rounds = 0;
    // 18,000 samples a round against a bucket of 40,000 that refills by
    // 2,000 a second: the third or fourth round finds it empty.
    while (!notice && rounds < 5) {
      rounds++;
      notice = await subscribeAll(c, `round-${rounds}`);
      await c.request({ op: 'unsubscribe', channels: [PATTERN], id: `un-${rounds}` }, 'unsubscribed');
    }
    assert.ok(notice, `no history_truncated notice in ${rounds} rounds`);
    assert.ok(rounds >= 3 && rounds <= 4, `the notice came in round ${rounds}`);
    assert.equal(notice.channel, PATTERN);
    assert.ok(notice.skipped > 0);
    // Another connection has its own bucket.
    const d = await env.connect();
    assert.equal(await subscribeAll(d, 'fresh'), undefined);
  });

  it('shares LRANGEs between connections subscribing to the same lists at once', async (t) => {
    const clients = [];
    for (let k = 0; k < 20; k++) clients.push(await env.connect());
    const before = calls(await redisInfo(env.pub, 'commandstats'), 'lrange');
    await Promise.all(clients.map((c, k) => subscribeAll(c, `same-${k}`)));
    const lranges = calls(await redisInfo(env.pub, 'commandstats'), 'lrange') - before;
    for (const c of clients) {
      assert.equal(c.messages.filter((m) => Array.isArray(m.history)).length, IFACES);
      c.close();
    }
    t.diagnostic(`${lranges} LRANGEs for 20 x ${IFACES} lists`);
    assert.ok(lranges <= 20 * IFACES / 2, `${lranges} LRANGEs for 20 x ${IFACES} lists`);
  });

  it('bounds what two connections subscribing and unsubscribing every 100 ms cost Redis, and others\' lag', async (t) => {
    const c = await env.connect();
    const probe = await lagProbe(env, c);
    const out0 = (await redisInfo(env.pub, 'stats')).total_net_output_bytes;
    const stats = await runFlood({
      port: env.gw.port, localAddress: '127.0.0.2', connections: 2, intervalMs: 100,
      durationMs: 3000, messages: [
        JSON.stringify({ op: 'subscribe', channels: [PATTERN] }),
        JSON.stringify({ op: 'unsubscribe', channels: [PATTERN] }),
      ],
    });
    const out = (await redisInfo(env.pub, 'stats')).total_net_output_bytes - out0;
    const { lags, sent } = await probe.stop();
    const sample = 230; // bytes of one stored sample, about
    // Per connection: the bucket's burst and 3 s of its rate.
    const bound = 2 * (40000 + 3.5 * 2000) * sample * 1.2;
    t.diagnostic(`flood: ${stats.sent} requests; redis sent ${(out / 1e6).toFixed(1)} MB ` +
      `(bound ${(bound / 1e6).toFixed(1)} MB); lag p50 ${percentile(lags, 50)} p99 ${percentile(lags, 99)} ms`);
    assert.ok(stats.sent >= 40, `the flood sent ${stats.sent} requests`);
    assert.ok(out < bound, `Redis sent ${out} bytes`);
    assert.ok(lags.length >= sent * 0.99, `${lags.length} of ${sent} live samples`);
    assert.ok(percentile(lags, 99) < LAG_SERVED_MS, `live lag p99 ${percentile(lags, 99)} ms`);
  });
});
