#!/usr/bin/env node
// The attacks of "the gateway under hostile clients", at full scale and
// length, against one gateway binary; prints one line of figures each.
// Run it on the old and the new binary to compare (docs/RELIABILITY.md).
// Not part of tests/gateway/run.sh: each runs 20 s to a minute, and
// `cap` holds a million subscriptions. The tests of the same attacks, at a
// smaller scale, are tests/gateway/hostile-*.test.js.
//
//   node tests/gateway/measure-hostile.js ATTACK [--gateway PATH] [--seconds 20]
//
//   list       10 connections x 19 list/s on a 5,000-interface inventory;
//              gateway CPU, a bystander's list time and live lag
//   history    2 connections subscribing and unsubscribing a 1,000-interface
//              pattern every 100 ms; Redis' bytes sent, its latency (PING
//              round trips), LRANGEs, a bystander's lag
//   subscribe  3 connections x 19 requests/s of 64 KB (6,300 channels);
//              gateway CPU, a bystander's lag
//   fragments  1,000 connections each leaving a 61 KB message unfinished;
//              gateway RSS, connections left after 12 s
//   idle       200 WebSockets holding nothing; connections left after 62 s
//   cap        1,000 connections x 1,000 channels, then one more subscribe
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
const attack = args[0];
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
if (opt('gateway')) process.env.IFMON_GATEWAY = path.resolve(opt('gateway'));
const SECONDS = Number(opt('seconds', 20));

const { setup, inventory, until, lagProbe, timed, percentile, redisInfo, sleep, PREFIX } =
  require('./lib');
const { runFlood, openRaw } = require('./flood');

function rssMiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
}

const fmt = (lags) => `p50 ${percentile(lags, 50)} p99 ${percentile(lags, 99)} max ${Math.max(...lags)} ms`;

async function measureList() {
  const devices = Object.fromEntries(Array.from({ length: 50 }, (_, d) =>
    [`dev${d}`, Array.from({ length: 100 }, (_, i) => `xe-0/0/${i}`)]));
  const env = await setup({ maxConnections: 200 });
  try {
    const inv = inventory(devices);
    await env.pub.command('SET', `${PREFIX}:inventory`, inv);
    const c = await env.connect();
    const probe = await lagProbe(env, c);
    const cpu0 = env.gw.cpuSeconds();
    const t0 = Date.now();
    const flood = runFlood({
      port: env.gw.port, localAddress: '127.0.0.2', connections: 10, intervalMs: 1000 / 19,
      durationMs: SECONDS * 1000, startStaggerMs: 50, messages: ['{"op":"list","id":$n}'],
    });
    const times = [];
    let timeouts = 0;
    while (Date.now() - t0 < SECONDS * 1000 - 500) {
      try {
        times.push((await timed(c, { op: 'list', id: `own-${times.length}` }, 'list', 10000))[0]);
      } catch {
        timeouts++;
      }
      await sleep(250); // pacing
    }
    const stats = await flood;
    const cpu = (env.gw.cpuSeconds() - cpu0) / ((Date.now() - t0) / 1000);
    const { lags, sent } = await probe.stop();
    console.log(`list: inventory ${(inv.length / 1024).toFixed(0)} KiB; flood ${stats.sent} lists, ` +
      `${(stats.bytesIn / 1e6).toFixed(0)} MB answered; gateway CPU ${(cpu * 100).toFixed(0)}%; ` +
      `own list p50 ${percentile(times, 50).toFixed(1)} max ${Math.max(...times).toFixed(1)} ms ` +
      `(${timeouts} over 10 s); lag ${fmt(lags)} (${lags.length} of ${sent})`);
  } finally {
    await env.teardown();
  }
}

async function measureHistory() {
  const IFACES = 1000;
  const env = await setup();
  try {
    const names = Array.from({ length: IFACES }, (_, k) => `e${k}`);
    await env.pub.command('SET', `${PREFIX}:inventory`, inventory({ hc: names }));
    let last;
    for (const name of names) {
      const samples = [];
      for (let seq = 1; seq <= 300; seq++) {
        samples.push(JSON.stringify({
          device: 'hc', site: 'test', interface: name, ifindex: 1, ts: 1764052800 + seq / 1000,
          interval: 1, in_bps: 8000362 + seq, out_bps: 4000185 + seq, speed_bps: 1e9, oper: 'up', seq,
        }));
      }
      last = env.pub.command('RPUSH', `${PREFIX}:history:hc:${name}`, ...samples);
    }
    await last;
    // Redis' latency as a client sees it: PING round trips on a connection
    // of their own.
    const pinger = await env.redis.client();
    const pings = async (ms) => {
      const rtts = [];
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const t = process.hrtime.bigint();
        await pinger.command('PING');
        rtts.push(Number(process.hrtime.bigint() - t) / 1e6);
        await sleep(10); // pacing
      }
      return rtts;
    };
    const idle = await pings(2000);
    const c = await env.connect();
    const probe = await lagProbe(env, c);
    const info0 = await redisInfo(env.pub, 'stats');
    const cmd0 = await redisInfo(env.pub, 'commandstats');
    const redisCpu0 = (await redisInfo(env.pub, 'cpu')).used_cpu_sys + (await redisInfo(env.pub, 'cpu')).used_cpu_user;
    const flood = runFlood({
      port: env.gw.port, localAddress: '127.0.0.2', connections: 2, intervalMs: 100,
      durationMs: SECONDS * 1000, messages: [
        JSON.stringify({ op: 'subscribe', channels: [`${PREFIX}:hc:*`] }),
        JSON.stringify({ op: 'unsubscribe', channels: [`${PREFIX}:hc:*`] }),
      ],
    });
    const busy = await pings(SECONDS * 1000 - 500);
    const stats = await flood;
    const info1 = await redisInfo(env.pub, 'stats');
    const cmd1 = await redisInfo(env.pub, 'commandstats');
    const cpu1 = await redisInfo(env.pub, 'cpu');
    const calls = (i, cmd) => (i[`cmdstat_${cmd}`] ? Number(/calls=(\d+)/.exec(i[`cmdstat_${cmd}`])[1]) : 0);
    const { lags } = await probe.stop();
    const out = info1.total_net_output_bytes - info0.total_net_output_bytes;
    console.log(`history: ${stats.sent} requests in ${SECONDS} s; redis sent ${(out / 1e6).toFixed(1)} MB, ` +
      `${calls(cmd1, 'lrange') - calls(cmd0, 'lrange')} LRANGEs, ${calls(cmd1, 'get') - calls(cmd0, 'get')} GETs, ` +
      `redis CPU ${((cpu1.used_cpu_sys + cpu1.used_cpu_user - redisCpu0) / SECONDS * 100).toFixed(0)}%; ` +
      `PING idle p50 ${percentile(idle, 50).toFixed(2)} p99 ${percentile(idle, 99).toFixed(2)} ms, ` +
      `under attack p50 ${percentile(busy, 50).toFixed(2)} p99 ${percentile(busy, 99).toFixed(2)} ` +
      `max ${Math.max(...busy).toFixed(1)} ms; bystander lag ${fmt(lags)}`);
    pinger.close();
  } finally {
    await env.teardown();
  }
}

async function measureSubscribe() {
  const env = await setup({ maxFrame: 65536, maxChannels: 256 });
  try {
    const big = (op) => {
      const channels = [];
      let len = JSON.stringify({ op, channels: [] }).length;
      for (let k = 0; ; k++) {
        const ch = `${PREFIX}:${k.toString(36)}`;
        if (len + ch.length + 3 > 65536) break;
        channels.push(ch);
        len += ch.length + 3;
      }
      return { text: JSON.stringify({ op, channels }), count: channels.length };
    };
    const sub = big('subscribe');
    const c = await env.connect();
    const probe = await lagProbe(env, c);
    const cpu0 = env.gw.cpuSeconds();
    const t0 = Date.now();
    const stats = await runFlood({
      port: env.gw.port, localAddress: '127.0.0.2', connections: 3, intervalMs: 1000 / 19,
      durationMs: SECONDS * 1000, startStaggerMs: 20, messages: [sub.text, big('unsubscribe').text],
    });
    const cpu = (env.gw.cpuSeconds() - cpu0) / ((Date.now() - t0) / 1000);
    const { lags } = await probe.stop();
    console.log(`subscribe: ${stats.sent} requests of ${sub.count} channels (${sub.text.length} bytes); ` +
      `gateway CPU ${(cpu * 100).toFixed(0)}%, ${(cpu * 1000 / (stats.sent / SECONDS)).toFixed(2)} ms a request; ` +
      `bystander lag ${fmt(lags)}`);
  } finally {
    await env.teardown();
  }
}

// A client text frame, not final (RFC 6455 5.4), masked.
function firstFragment(payload) {
  const data = Buffer.from(payload);
  const head = Buffer.from([0x01, 0x80 | 126, data.length >> 8, data.length & 0xff]);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([head, mask, data.map((b, i) => b ^ mask[i & 3])]);
}

async function measureFragments() {
  const N = 1000;
  const env = await setup({ maxConnections: N + 100, maxFrame: 65536 });
  try {
    const pid = env.gw.proc.pid;
    const rss0 = rssMiB(pid);
    const socks = [];
    const frame = firstFragment(`{"op":"list","pad":"${'x'.repeat(61 * 1024)}`);
    for (let k = 0; k < N; k++) {
      const s = await openRaw({ port: env.gw.port, localAddress: '127.0.0.2' });
      s.on('error', () => {});
      s.write(frame);
      socks.push(s);
    }
    await until('the connections', async () =>
      (await env.gw.metrics()).ifmon_gateway_connections >= N, 30000, 200);
    await sleep(1000); // for the gateway to read what was sent
    const m0 = await env.gw.metrics();
    const rss1 = rssMiB(pid);
    const t0 = Date.now();
    let left = m0.ifmon_gateway_connections;
    await until('12 s', async () => {
      left = (await env.gw.metrics()).ifmon_gateway_connections;
      return Date.now() - t0 > 12000;
    }, 15000, 500);
    console.log(`fragments: ${N} connections x 61 KiB unfinished: gateway RSS ${rss0.toFixed(0)} -> ` +
      `${rss1.toFixed(0)} MiB (+${((rss1 - rss0) * 1024 / N).toFixed(0)} KiB each), then ` +
      `${rssMiB(pid).toFixed(0)} MiB; connections ${m0.ifmon_gateway_connections} -> ${left} after 12 s`);
    for (const s of socks) s.destroy();
  } finally {
    await env.teardown();
  }
}

async function measureIdle() {
  const N = 200;
  const env = await setup({ maxConnections: N + 10 });
  try {
    const socks = [];
    for (let k = 0; k < N; k++) {
      const s = await openRaw({ port: env.gw.port, localAddress: '127.0.0.2' });
      s.on('error', () => {});
      socks.push(s);
    }
    const t0 = Date.now();
    const n0 = (await env.gw.metrics()).ifmon_gateway_connections;
    let n = n0;
    await until('62 s', async () => {
      n = (await env.gw.metrics()).ifmon_gateway_connections;
      return Date.now() - t0 > 62000;
    }, 70000, 1000);
    console.log(`idle: ${N} WebSockets holding nothing: ${n0} open, ${n} after 62 s`);
    for (const s of socks) s.destroy();
  } finally {
    await env.teardown();
  }
}

async function measureCap() {
  const CONNS = 1000;
  const PER = 1000;
  const env = await setup({ maxConnections: CONNS + 10, maxChannels: PER, maxFrame: 65536 });
  try {
    const channels = Array.from({ length: PER }, (_, k) => `${PREFIX}:c${k}`);
    const clients = [];
    const t0 = Date.now();
    for (let k = 0; k < CONNS; k++) {
      const c = await env.connect();
      await c.request({ op: 'subscribe', channels, id: k }, 'subscribed', 30000);
      c.messages.length = 0;
      clients.push(c);
    }
    const m = await env.gw.metrics();
    const extra = await env.connect({ url: env.gw.url, localAddress: '127.0.0.2' });
    extra.send({ op: 'subscribe', channels: [`${PREFIX}:one-more`], id: 'more' });
    const r = await extra.waitFor('the answer', (ms) => ms.find((x) => x.id === 'more'), 30000);
    console.log(`cap: ${m.ifmon_gateway_subscriptions} subscriptions in ${((Date.now() - t0) / 1000).toFixed(0)} s, ` +
      `gateway RSS ${rssMiB(env.gw.proc.pid).toFixed(0)} MiB; one more: ${r.op}` +
      `${r.error ? ` "${r.error}"` : ''}`);
  } finally {
    await env.teardown();
  }
}

const attacks = {
  list: measureList, history: measureHistory, subscribe: measureSubscribe,
  fragments: measureFragments, idle: measureIdle, cap: measureCap,
};
if (!attacks[attack]) {
  console.error(`usage: measure-hostile.js ${Object.keys(attacks).join('|')} [--gateway PATH] [--seconds N]`);
  process.exit(2);
}
attacks[attack]().catch((e) => {
  console.error(e.stack);
  process.exit(1);
});
