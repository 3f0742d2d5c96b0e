#!/usr/bin/env node
// make soak: the whole system for a long time (SOAK_SECONDS, default one
// hour): redis-server, the simulator (tests/sim/simagent) with a few
// hundred interfaces, one collector at 1 s, two gateways, steady WebSocket
// clients that stay all along and churning clients that connect, subscribe
// and leave. Every SOAK_EVERY seconds it records RSS and open descriptors
// of each daemon. It fails when a daemon dies, a steady client stops
// receiving, or RSS / descriptors grow between the first and the last
// quarter of the run.
//
//   node tests/soak/soak.js [--seconds N] [--devices N] [--interfaces N]
//                           [--clients N] [--churn PER_S] [--markdown]
//
// IFMON_COLLECTOR / IFMON_GATEWAY choose the binaries (e.g. the ASan
// build); IFMON_WRAP a command they run under (make valgrind).
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const { snmprec } = require('../sim/snmprec');
const { freePort, sleep } = require('../web/lib');

const TOP = path.resolve(__dirname, '..', '..');
const COLLECTOR = path.resolve(TOP, process.env.IFMON_COLLECTOR || 'collector/ifmon-collector');
const GATEWAY = path.resolve(TOP, process.env.IFMON_GATEWAY || 'gateway/ifmon-gateway');
const SIMAGENT = path.join(TOP, 'tests', 'sim', 'simagent');
const PREFIX = 'soak';

function options() {
  const o = {
    seconds: Number(process.env.SOAK_SECONDS || 3600),
    every: Number(process.env.SOAK_EVERY || 10),
    devices: 30, interfaces: 10, clients: 20, churn: 5, markdown: false,
  };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i].replace(/^--/, '');
    if (k === 'markdown') o.markdown = true;
    else if (k in o) o[k] = Number(a[++i]);
    else throw new Error(`unknown option ${a[i]}`);
  }
  return o;
}

async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// ------------------------------------------------------------ processes

const procs = [];

// IFMON_WRAP: a command the daemons run under (tests/valgrind/memcheck.sh).
const WRAP = process.env.IFMON_WRAP ? [path.resolve(TOP, process.env.IFMON_WRAP)] : [];

function start(name, argv, dir) {
  const log = fs.openSync(path.join(dir, `${name}.log`), 'a');
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  p.label = name;
  p.logPath = path.join(dir, `${name}.log`);
  procs.push(p);
  return p;
}

function alive(p) {
  return p.exitCode === null && p.signalCode === null;
}

function stopAll() {
  for (const p of procs.reverse()) if (alive(p)) p.kill('SIGTERM');
}

function usage(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop().trim().split(/\s+/);
  const cpu = (Number(stat[11]) + Number(stat[12])) / 100; // USER_HZ
  return { rss, fds, cpu };
}


// ------------------------------------------------------------- clients

// A WebSocket client that counts the data it gets per channel.
class Client {
  constructor(url, channels) {
    this.channels = channels;
    this.data = 0;
    this.lastData = 0;
    this.errors = [];
    this.closed = false;
    this.ws = new WebSocket(url);
    this.ws.on('open', () => this.ws.send(JSON.stringify({ op: 'subscribe', channels })));
    this.ws.on('message', (buf) => {
      const v = JSON.parse(buf.toString());
      for (const m of Array.isArray(v) ? v : [v]) {
        if (m.data) {
          this.data++;
          this.lastData = Date.now();
        } else if (m.op === 'error') {
          this.errors.push(m.error);
        }
      }
    });
    this.ws.on('close', () => {
      this.closed = true;
    });
    this.ws.on('error', () => {});
  }

  close() {
    this.ws.close();
  }
}

// -------------------------------------------------------------- report

function slopePerHour(points) { // [[t_s, v]...]: least squares, v per hour
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((s, p) => s + p[0], 0) / n;
  const mv = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of points) {
    num += (t - mt) * (v - mv);
    den += (t - mt) ** 2;
  }
  return den ? (num / den) * 3600 : 0;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

async function main() {
  const o = options();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-soak-'));
  fs.chmodSync(dir, 0o755);
  const problems = [];
  let code = 1;
  const clients = [];
  try {
    // Agent and Redis.
    const data = path.join(dir, 'data');
    fs.mkdirSync(data);
    for (let d = 0; d < o.devices; d++) fs.writeFileSync(path.join(data, `dev${d}.snmprec`), snmprec(o.interfaces, d));
    const redisPort = await freePort();
    const agentPort = await freePort(true);
    const redis = start('redis', ['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', dir], dir);
    start('simagent', [SIMAGENT, '--data-dir', data, '--listen', `127.0.0.1:${agentPort}`], dir);
    await until('redis', () => {
      try {
        return execFileSync('redis-cli', ['-p', String(redisPort), 'PING'], { encoding: 'utf8' }).trim() === 'PONG';
      } catch {
        return false;
      }
    });

    // One configuration per gateway (its own listen port), same Redis and devices.
    const gwPorts = [await freePort(), await freePort()];
    const devices = [];
    for (let d = 0; d < o.devices; d++) {
      devices.push(`  - {name: dev${d}, site: site${d % 5}, address: "127.0.0.1:${agentPort}", community: dev${d}}`);
    }
    const configs = gwPorts.map((port, k) => {
      const file = path.join(dir, `ifmon${k}.yml`);
      fs.writeFileSync(file, [
        `redis: {host: 127.0.0.1, port: ${redisPort}, prefix: ${PREFIX}, history: 120}`,
        'defaults: {interval: 1s, timeout: 800ms, retries: 1, version: 2c}',
        'devices:', ...devices,
        'gateway:', `  listen: "127.0.0.1:${port}"`, `  web_root: ${JSON.stringify(path.join(TOP, 'web'))}`,
        '  max_connections: 10000', '',
      ].join('\n'));
      return file;
    });
    const collector = start('collector', [...WRAP, COLLECTOR, '--config', configs[0]], dir);
    const gws = gwPorts.map((port, k) => start(`gateway${k + 1}`, [...WRAP, GATEWAY, '--config', configs[k]], dir));
    for (const port of gwPorts) {
      await until(`gateway on ${port}`, async () => {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`);
          return r.status === 200;
        } catch {
          return false;
        }
      });
    }
    await until('the inventory', () => {
      const inv = execFileSync('redis-cli', ['-p', String(redisPort), '--raw', 'GET', `${PREFIX}:inventory`], { encoding: 'utf8' });
      return inv.includes(`dev${o.devices - 1}`);
    }, 30000);

    const channel = (d, i) => `${PREFIX}:dev${d}:ge-0/0/${i}`;
    const rnd = (n) => Math.floor(Math.random() * n);
    const pick = () => {
      const r = rnd(3);
      if (r === 0) return [`${PREFIX}:dev${rnd(o.devices)}:*`];
      return Array.from({ length: 1 + rnd(8) }, () => channel(rnd(o.devices), 1 + rnd(o.interfaces)));
    };
    const url = (k) => `ws://127.0.0.1:${gwPorts[k % 2]}/ws`;

    // Steady clients: there all along, each must keep receiving.
    for (let k = 0; k < o.clients; k++) clients.push(new Client(url(k), [channel(k % o.devices, 1 + (k % o.interfaces))]));
    const daemons = [['collector', collector], ['gateway1', gws[0]], ['gateway2', gws[1]], ['redis', redis]];
    const series = Object.fromEntries(daemons.map(([n]) => [n, []]));
    // Baseline with only the steady clients, before any churn.
    await until('the steady clients to get data', () => clients.every((c) => c.data > 0), 20000);
    const t0 = Date.now();
    for (const [n, p] of daemons) series[n].push([0, usage(p.pid)]);
    let churned = 0;
    let churnLive = [];
    const churnTimer = setInterval(() => {
      for (let k = 0; k < o.churn; k++) {
        const c = new Client(url(churned++), [...new Set(pick())]);
        churnLive.push(c);
        setTimeout(() => c.close(), 1000 + rnd(20000));
      }
      churnLive = churnLive.filter((c) => !c.closed);
    }, 1000);

    let stale = 0;
    const end = t0 + o.seconds * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(o.every * 1000, Math.max(0, end - Date.now())));
      const t = (Date.now() - t0) / 1000;
      for (const [n, p] of daemons) {
        if (!alive(p)) throw new Error(`${n} died (exit ${p.exitCode}, signal ${p.signalCode}); log: ${p.logPath}`);
        series[n].push([t, usage(p.pid)]);
      }
      const now = Date.now();
      const quiet = clients.filter((c) => now - c.lastData > 5000);
      if (t > 10 && quiet.length) stale++;
      const u = daemons.map(([n]) => {
        const x = series[n].at(-1)[1];
        return `${n} rss=${x.rss}KiB fds=${x.fds} cpu=${x.cpu.toFixed(1)}s`;
      });
      console.log(`# t=${t.toFixed(0)}s churned=${churned} live=${churnLive.length} quiet_steady=${quiet.length} ${u.join(' ')}`);
    }
    clearInterval(churnTimer);
    // Let the churners leave, then one more reading with only the steady clients.
    for (const c of churnLive) c.close();
    await sleep(3000);
    const tEnd = (Date.now() - t0) / 1000;
    for (const [n, p] of daemons) series[n].push([tEnd, usage(p.pid)]);

    // Compare the first quarter (after 60 s of warm-up, or 10% for a
    // short run) with the last quarter: medians of RSS, and descriptors
    // at the start and at the end (both with only the steady clients).
    const warm = Math.min(60, o.seconds * 0.1);
    const rows = [];
    for (const [n] of daemons) {
      const pts = series[n].filter(([t]) => t >= warm);
      const q = Math.max(1, Math.floor(pts.length / 4));
      const first = median(pts.slice(0, q).map(([, x]) => x.rss));
      const last = median(pts.slice(-q).map(([, x]) => x.rss));
      const fdStart = series[n][0][1].fds;
      const fdEnd = series[n].at(-1)[1].fds;
      const cpu = series[n].at(-1)[1].cpu - series[n][0][1].cpu;
      const slope = slopePerHour(pts.slice(Math.floor(pts.length / 2)).map(([t, x]) => [t, x.rss]));
      rows.push({ n, first, last, slope, fdStart, fdEnd, cpu });
      // Flat: allow allocator noise (2 MiB + 5%); descriptors back to
      // where they were with the same clients connected.
      // Under valgrind RSS is mostly the tool's own (shadow memory,
      // translations, the freed-block queue): its leak check counts there.
      if (n !== 'redis' && !WRAP.length && last > first * 1.05 + 2048) problems.push(`${n}: RSS grew from ${first} to ${last} KiB`);
      if (n !== 'redis' && fdEnd > fdStart + 2) problems.push(`${n}: descriptors grew from ${fdStart} to ${fdEnd}`);
    }
    const dead = clients.filter((c) => c.closed).length;
    if (dead) problems.push(`${dead} steady clients were disconnected`);
    if (stale > 1) problems.push(`steady clients went 5 s without data at ${stale} readings`);
    const errors = clients.flatMap((c) => c.errors);
    if (errors.length) problems.push(`error replies to steady clients: ${errors.slice(0, 3).join('; ')}`);

    const secs = tEnd;
    const minutes = (secs / 60).toFixed(0);
    console.log(`# soak: ${minutes} min, ${o.devices * o.interfaces} interfaces at 1 s, ${o.clients} steady clients, ` +
      `${churned} churning clients (${o.churn}/s, each 1-21 s)`);
    if (o.markdown) {
      console.log('| daemon | RSS first quarter (KiB, median) | RSS last quarter | RSS trend, 2nd half (KiB/h) | fds start | fds end | CPU s |');
      console.log('|---|---|---|---|---|---|---|');
    }
    for (const r of rows) {
      if (o.markdown) {
        console.log(`| ${r.n} | ${r.first} | ${r.last} | ${r.slope.toFixed(0)} | ${r.fdStart} | ${r.fdEnd} | ${r.cpu.toFixed(1)} |`);
      } else {
        console.log(`# ${r.n}: rss ${r.first} -> ${r.last} KiB (trend ${r.slope.toFixed(0)} KiB/h), fds ${r.fdStart} -> ${r.fdEnd}, cpu ${r.cpu.toFixed(1)} s`);
      }
    }
    // A clean stop: SIGTERM, exit 0, no sanitizer report.
    for (const [n, p] of daemons) {
      p.kill('SIGTERM');
      await new Promise((r) => (alive(p) ? p.once('exit', r) : r()));
      const log = fs.readFileSync(p.logPath, 'utf8');
      if (p.exitCode !== 0) problems.push(`${n} exited with ${p.exitCode ?? p.signalCode}`);
      for (const bad of ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:', 'definitely lost: [1-9]']) {
        if (new RegExp(bad).test(log)) problems.push(`${n}: "${bad}" in its log (${p.logPath})`);
      }
    }
    for (const p of problems) console.log(`# problem: ${p}`);
    code = problems.length ? 1 : 0;
    console.log(`soak: ${code ? 'FAILED' : 'passed'}`);
  } catch (e) {
    console.log(`# soak aborted: ${e.stack || e}`);
    console.log(`# logs kept in ${dir}`);
    code = 1;
    console.log('soak: FAILED');
  } finally {
    for (const c of clients) c.close();
    stopAll();
    if (code === 0) fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
}

process.on('SIGINT', () => {
  stopAll();
  process.exit(130);
});
main();
