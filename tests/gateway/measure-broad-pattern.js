#!/usr/bin/env node
// What one client subscribing to `ifmon:*` costs the gateway: a Redis with
// N interfaces x 300 stored samples (as the collector writes them), a few
// clients each receiving a live message every 10 ms, then one more client
// subscribing to `ifmon:*` and reading everything it is sent. Measured:
// the gateway's RSS increase (VmHWM after, against VmRSS before) and the
// live clients' lag (publish to receipt) from the subscribe until its
// history is done and one second more.
//
//   node tests/gateway/measure-broad-pattern.js [--gateway PATH] [--interfaces 5000]
//        [--samples 300] [--live 4] [--max-rss-mib 64] [--max-p99-ms 50]
//
// Prints one line of figures and exits 1 when the RSS increase or the p99
// lag is over its limit (DEBUG_LAG=1: each delay over 20 ms, when it was). Not part of tests/gateway/run.sh (a minute and
// half a GiB of Redis); the figures are in docs/RELIABILITY.md.
'use strict';

const { fork } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

// ------------------------------------------------- the broad subscriber
//
// A process of its own, so that parsing what it is sent (hundreds of MB
// from a gateway without bounds) does not delay the live clients' clock.
if (process.argv[2] === '--broad-child') {
  const WebSocket = require('ws');
  const [url, pattern] = process.argv.slice(3);
  const ws = new WebSocket(url);
  ws.on('error', (e) => process.stderr.write(`# broad subscriber: ${e.message}\n`));
  let frames = 0;
  let bytes = 0;
  let lastHistory = 0;
  let notice = null;
  let acked = 0;
  const done = () => {
    process.send({ frames, bytes, notice, ackMs: acked });
    ws.terminate();
    setTimeout(() => process.exit(0), 100);
  };
  ws.on('open', () => {
    const t0 = Date.now();
    ws.send(JSON.stringify({ op: 'subscribe', channels: [pattern], id: 'broad' }));
    ws.on('message', (buf) => {
      const text = buf.toString();
      if (!acked && text.includes('"op":"subscribed"')) acked = Date.now() - t0;
      if (text.startsWith('{"channel":') && text.includes('"history":[')) {
        frames++;
        bytes += buf.length;
        lastHistory = Date.now();
      } else if (text.includes('"op":"history_truncated"')) {
        notice = JSON.parse(text);
        done();
      }
    });
    // A gateway that sends no notice: done when history stops coming.
    const idle = setInterval(() => {
      if (lastHistory && Date.now() - lastHistory > 3000) {
        clearInterval(idle);
        done();
      }
    }, 100);
  });
  return;
}

// ------------------------------------------------------------ the run

const gatewayArg = opt('gateway', null);
if (gatewayArg) process.env.IFMON_GATEWAY = path.resolve(gatewayArg);
const { setup, connect, PREFIX } = require('./lib');

const N = Number(opt('interfaces', 5000));
const SAMPLES = Number(opt('samples', 300));
const LIVE = Number(opt('live', 4));
const MAX_RSS_MIB = Number(opt('max-rss-mib', 64));
const MAX_P99_MS = Number(opt('max-p99-ms', 50));
const PER_DEVICE = 50;

function status(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)[1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)[1]) };
}

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] : NaN;
}

// The inventory of the collector (docs/PROTOCOL.md, part 1) for N
// interfaces, PER_DEVICE per device.
function inventoryOf(devices) {
  return JSON.stringify({
    version: 1, prefix: PREFIX, ts: 1764052800,
    sites: [{
      name: 'bench',
      devices: devices.map(({ name, ifaces }) => ({
        name, site: 'bench', channel: `${PREFIX}:${name}`, status: 'up', interval: 1,
        interfaces: ifaces.map((i, k) => ({
          name: i, descr: i, ifindex: k + 1, channel: `${PREFIX}:${name}:${i}`,
          history: `${PREFIX}:history:${name}:${i}`, speed_bps: 1e10,
        })),
      })),
    }],
  });
}

async function main() {
  const env = await setup({ maxConnections: 100 });
  try {
    const devices = [];
    for (let d = 0; d * PER_DEVICE < N; d++) {
      const ifaces = [];
      for (let k = 0; k < PER_DEVICE && d * PER_DEVICE + k < N; k++) ifaces.push(`xe-0/0/${k}`);
      devices.push({ name: `dev${String(d).padStart(4, '0')}`, ifaces });
    }
    // N lists of SAMPLES samples, as the collector writes them.
    const t0 = Date.now();
    let last;
    let n = 0;
    for (const { name, ifaces } of devices) {
      for (const [k, i] of ifaces.entries()) {
        const samples = [];
        for (let seq = 1; seq <= SAMPLES; seq++) {
          samples.push(JSON.stringify({
            device: name, site: 'bench', interface: i, ifindex: k + 1,
            ts: Math.round((1764052800 + seq) * 1000 + 123) / 1000, interval: 1.001,
            in_bps: 8000362 + seq * 17, out_bps: 4000185 + seq * 13, speed_bps: 10000000000,
            oper: 'up', seq,
          }));
        }
        last = env.pub.command('RPUSH', `${PREFIX}:history:${name}:${i}`, ...samples);
        if (++n % 200 === 0) await last;
      }
    }
    await last;
    await env.pub.command('SET', `${PREFIX}:inventory`, inventoryOf(devices));
    const used = await env.pub.command('INFO', 'memory');
    const redisMiB = Number(/used_memory:(\d+)/.exec(used)[1]) / 1048576;
    process.stderr.write(`# redis filled in ${((Date.now() - t0) / 1000).toFixed(1)} s: ` +
      `${N} lists x ${SAMPLES} samples, ${redisMiB.toFixed(0)} MiB\n`);

    // Live clients, a message every 10 ms each, stamped with its send time.
    const live = [];
    for (let k = 0; k < LIVE; k++) {
      const c = await connect(env.gw.url);
      await c.request({ op: 'subscribe', channels: [`${PREFIX}:lag${k}`], id: k }, 'subscribed');
      live.push(c);
    }
    let window = null; // delays recorded while set
    const delays = [];
    for (const [k, c] of live.entries()) {
      c.ws.on('message', (buf) => {
        const now = Date.now();
        const v = JSON.parse(buf.toString());
        for (const m of Array.isArray(v) ? v : [v]) {
          if (m.channel === `${PREFIX}:lag${k}` && m.data && window) {
            delays.push(now - m.data.sent);
            if (process.env.DEBUG_LAG && now - m.data.sent > 20) {
              process.stderr.write(`# lag ${now - m.data.sent} ms, sent at +${m.data.sent - window} ms\n`);
            }
          }
        }
      });
    }
    const publisher = setInterval(() => {
      const sent = Date.now();
      for (let k = 0; k < LIVE; k++) {
        env.pub.command('PUBLISH', `${PREFIX}:lag${k}`, JSON.stringify({ device: `lag${k}`, status: 'up', ts: sent / 1000, sent }));
      }
    }, 10);
    await new Promise((r) => setTimeout(r, 1000)); // warm, steady
    const before = status(env.gw.proc.pid);

    // The broad subscriber.
    let peak = before.rss;
    const poll = setInterval(() => {
      peak = Math.max(peak, status(env.gw.proc.pid).rss);
    }, 20);
    window = Date.now();
    const child = fork(__filename, ['--broad-child', env.gw.url, `${PREFIX}:*`], { stdio: 'inherit' });
    const broad = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`broad subscriber exited ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 1000));
    window = null;
    clearInterval(poll);
    clearInterval(publisher);
    const after = status(env.gw.proc.pid);
    peak = Math.max(peak, after.hwm);
    const riseMiB = (peak - before.rss) / 1024;
    delays.sort((a, b) => a - b);
    const p50 = quantile(delays, 0.5);
    const p99 = quantile(delays, 0.99);
    const result = {
      gateway: path.relative(process.cwd(), env.gw.proc.spawnfile || process.env.IFMON_GATEWAY || ''),
      interfaces: N, samples: SAMPLES,
      rss_before_mib: +(before.rss / 1024).toFixed(1), rss_rise_mib: +riseMiB.toFixed(1),
      lag_p50_ms: p50, lag_p99_ms: p99, lag_max_ms: delays.at(-1), lag_samples: delays.length,
      ack_ms: broad.ackMs, history_frames: broad.frames, history_mib: +(broad.bytes / 1048576).toFixed(1),
      skipped: broad.notice ? broad.notice.skipped : null,
    };
    console.log(JSON.stringify(result));
    for (const c of live) c.close();
    const ok = riseMiB < MAX_RSS_MIB && p99 < MAX_P99_MS;
    if (!ok) console.log(`# over the limits: RSS rise < ${MAX_RSS_MIB} MiB and lag p99 < ${MAX_P99_MS} ms required`);
    return ok;
  } finally {
    await env.teardown().catch((e) => console.error(`# teardown: ${e.message}`));
  }
}

main().then((ok) => process.exit(ok ? 0 : 1), (e) => {
  console.error(e);
  process.exit(2);
});
