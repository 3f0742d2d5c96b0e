// The real stack for the web page tests, on 127.0.0.1 high ports in a temp
// dir: redis-server, snmpsimd serving two simulated sites, the collector
// (env IFMON_COLLECTOR), the gateway (env IFMON_GATEWAY) serving web/, and
// headless Chromium (/usr/bin/chromium, env IFMON_CHROMIUM) driven by
// playwright-core. Everything started here is stopped by stop(), and
// killed on process exit as a last resort.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const dgram = require('node:dgram');
const os = require('node:os');
const path = require('node:path');

const TOP = path.resolve(__dirname, '..', '..');
const COLLECTOR = path.resolve(TOP, process.env.IFMON_COLLECTOR || 'collector/ifmon-collector');
const GATEWAY = path.resolve(TOP, process.env.IFMON_GATEWAY || 'gateway/ifmon-gateway');
const ADMIN_TOKEN = 'web-admin-token-0001';
const TOKYO_TOKEN = 'tokyo-view-token-0002';
const CHROMIUM = process.env.IFMON_CHROMIUM || '/usr/bin/chromium';
const WEB_ROOT = path.join(TOP, 'web');
const OUT = path.join(TOP, 'tests', 'out', 'web');
const SLOW = process.env.IFMON_SAN === '1' ? 3 : 1;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeoutMs = 10000, stepMs = 100) {
  const end = Date.now() + timeoutMs * SLOW;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await sleep(stepMs);
  }
}

/** What a panel or row shows once drawn. window.ifmon.state() computes on
 * demand and runs ahead of the DOM, which follows at the next draw: wait
 * (3 s) for `locator` to count `n` elements, or for its text to match
 * `re` (then the match is returned). */
function drawn(what, locator, { n, re }) {
  if (re) return until(what, async () => re.exec(await locator.innerText()), 3000, 50);
  return until(what, async () => (await locator.count()) === n, 3000, 50);
}

function freePort(udp = false) {
  return new Promise((resolve, reject) => {
    if (udp) {
      const s = dgram.createSocket('udp4');
      s.on('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
      return;
    }
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpGet(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('http timeout')));
  });
}

// ----------------------------------------------------------- processes

const live = new Set();

function killAll() {
  for (const p of live) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {}
  }
  live.clear();
}
process.on('exit', killAll);

class Proc {
  constructor(name, argv, logPath, opts = {}) {
    this.name = name;
    this.argv = argv;
    this.logPath = logPath;
    this.opts = opts;
  }

  start() {
    const fd = fs.openSync(this.logPath, 'a');
    this.proc = spawn(this.argv[0], this.argv.slice(1), {
      stdio: ['ignore', fd, fd], detached: true, env: this.opts.env || process.env,
    });
    fs.closeSync(fd);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, sig) => resolve({ code, sig })));
    live.add(this.proc);
    this.exited.then(() => live.delete(this.proc));
    return this;
  }

  alive() {
    return this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGTERM (or sig), SIGKILL to the process group after timeoutMs. */
  async stop(sig = 'SIGTERM', timeoutMs = 10000) {
    if (!this.proc) return null;
    if (this.alive()) {
      try {
        process.kill(-this.proc.pid, sig);
      } catch {}
    }
    const t = setTimeout(() => {
      try {
        process.kill(-this.proc.pid, 'SIGKILL');
      } catch {}
    }, timeoutMs * SLOW);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

// --------------------------------------------------------- SNMP data

function oidKey(o) {
  return o.split('.').map(Number);
}

function cmpOid(a, b) {
  const x = oidKey(a);
  const y = oidKey(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** snmprec of one simulated device (as tests/integration/harness.py):
 * octets, packets (64-bit unicast; multicast and broadcast stay still),
 * errors and discards (Counter32s), ifAlias, speed and status. Rates are
 * per second: inRate/outRate octets, inPps/outPps packets (default: 800-byte
 * packets), inErr/outErr errors, inDisc/outDisc discards (default 0). */
function snmprec(interfaces) {
  const recs = [
    ['1.3.6.1.2.1.1.1.0', '4', 'ifmon web test agent'],
    ['1.3.6.1.2.1.1.3.0', '67:numeric', 'rate=100'],
  ];
  const c32 = (rate) => `rate=${rate || 0},initial=0,max=4294967295,wrap=1`;
  for (const i of interfaces) {
    const n = i.index;
    const p = ppsOf(i);
    recs.push(
      [`1.3.6.1.2.1.2.2.1.1.${n}`, '2', String(n)],
      [`1.3.6.1.2.1.2.2.1.2.${n}`, '4', i.descr || i.name],
      [`1.3.6.1.2.1.2.2.1.5.${n}`, '66', String(Math.min(i.speedMbps * 1e6, 2 ** 32 - 1))],
      [`1.3.6.1.2.1.2.2.1.8.${n}`, '2', String(i.oper || 1)],
      [`1.3.6.1.2.1.2.2.1.10.${n}`, '65:numeric', `rate=${i.inRate},initial=0,max=4294967295,wrap=1`],
      [`1.3.6.1.2.1.2.2.1.13.${n}`, '65:numeric', c32(i.inDisc)],
      [`1.3.6.1.2.1.2.2.1.14.${n}`, '65:numeric', c32(i.inErr)],
      [`1.3.6.1.2.1.2.2.1.16.${n}`, '65:numeric', `rate=${i.outRate},initial=0,max=4294967295,wrap=1`],
      [`1.3.6.1.2.1.2.2.1.19.${n}`, '65:numeric', c32(i.outDisc)],
      [`1.3.6.1.2.1.2.2.1.20.${n}`, '65:numeric', c32(i.outErr)],
      [`1.3.6.1.2.1.31.1.1.1.1.${n}`, '4', i.name],
      [`1.3.6.1.2.1.31.1.1.1.6.${n}`, '70:numeric', `rate=${i.inRate},initial=7`],
      [`1.3.6.1.2.1.31.1.1.1.7.${n}`, '70:numeric', `rate=${p.in},initial=7`],
      [`1.3.6.1.2.1.31.1.1.1.8.${n}`, '70:numeric', 'rate=0,initial=3'],
      [`1.3.6.1.2.1.31.1.1.1.9.${n}`, '70:numeric', 'rate=0,initial=2'],
      [`1.3.6.1.2.1.31.1.1.1.10.${n}`, '70:numeric', `rate=${i.outRate},initial=7`],
      [`1.3.6.1.2.1.31.1.1.1.11.${n}`, '70:numeric', `rate=${p.out},initial=7`],
      [`1.3.6.1.2.1.31.1.1.1.12.${n}`, '70:numeric', 'rate=0,initial=3'],
      [`1.3.6.1.2.1.31.1.1.1.13.${n}`, '70:numeric', 'rate=0,initial=2'],
      [`1.3.6.1.2.1.31.1.1.1.15.${n}`, '66', String(i.speedMbps)],
      [`1.3.6.1.2.1.31.1.1.1.18.${n}`, '4', i.alias || ''],
    );
  }
  recs.sort((a, b) => cmpOid(a[0], b[0]));
  return recs.map((r) => r.join('|') + '\n').join('');
}

/** Packets per second of a simulated interface. */
function ppsOf(i) {
  return { in: i.inPps ?? Math.round(i.inRate / 800), out: i.outPps ?? Math.round(i.outRate / 800) };
}

// Two sites. Rates are octets per second; the page shows bits per second.
// Some names are awkward on purpose (space, comma, '#', '&', '%').
// tokyo's total is defined (site_total: its two uplinks), paris's is not;
// tokyo-edge1 ge-0/0/0 has errors and discards, and an errors alert
// (DEVICES); paris-core1 does not poll packets.
const SITES = {
  tokyo: {
    'tokyo-edge1': [
      { index: 1, name: 'ge-0/0/0', descr: 'to osaka', alias: 'backbone to Osaka, circuit OSK-7', inRate: 1250000, outRate: 625000, speedMbps: 1000, inErr: 3, outDisc: 2 },
      { index: 2, name: 'xe-1/0/0', descr: 'uplink', alias: 'uplink to ISP-A, circuit 12345', inRate: 100000000, outRate: 25000000, speedMbps: 10000, inPps: 90000, outPps: 30000 },
      { index: 3, name: 'ae1.100 cust,#1&%', descr: 'customer A', alias: 'Kunde Müller GmbH', inRate: 250000, outRate: 1000000, speedMbps: 1000 },
    ],
    'tokyo-core1': [
      { index: 5, name: 'et-0/0/1', descr: 'core', alias: 'core ring east', inRate: 500000000, outRate: 400000000, speedMbps: 100000 },
      { index: 6, name: 'xe-0/0/1', descr: 'uplink', alias: 'uplink to ISP-B', inRate: 25000000, outRate: 50000000, speedMbps: 10000 },
    ],
  },
  paris: {
    'paris-core1': [
      { index: 1, name: 'eth0', descr: 'transit', alias: 'transit Cogent', inRate: 2000000, outRate: 1000000, speedMbps: 100 },
      { index: 2, name: 'eth1', descr: 'peering', alias: '', inRate: 30000, outRate: 60000, speedMbps: 1000, oper: 2 },
    ],
  },
};

// Per-device inventory settings besides name, site, address, community
// (written as YAML flow maps); a test may change them and reload.
const DEVICES = {
  'tokyo-edge1': { site_total: ['xe-1/0/0'], alerts: { errors: { above: 1, for: '2s' } } },
  'tokyo-core1': { site_total: ['xe-0/0/1'] },
  'paris-core1': { counters: ['octets', 'errors'] },
};

function expected(device, iface) {
  for (const devs of Object.values(SITES)) {
    for (const i of devs[device] || []) {
      if (i.name === iface) {
        const p = ppsOf(i);
        return {
          in_bps: i.inRate * 8, out_bps: i.outRate * 8, speed_bps: i.speedMbps * 1e6,
          in_pps: p.in, out_pps: p.out, in_errors_ps: i.inErr || 0, out_errors_ps: i.outErr || 0,
          in_discards_ps: i.inDisc || 0, out_discards_ps: i.outDisc || 0, alias: i.alias || '',
        };
      }
    }
  }
  throw new Error(`no ${device} ${iface}`);
}

// --------------------------------------------------------------- stack

class Stack {
  /** opts: sites (default SITES), devices (per-device settings, default
   * DEVICES), agent: 'snmpsimd' (default) or 'simagent' (tests/sim/simagent,
   * for many interfaces), maxChannels (gateway.max_channels, 256). */
  constructor(opts = {}) {
    this.sites = opts.sites || SITES;
    this.deviceOpts = opts.devices || DEVICES;
    this.agent = opts.agent || 'snmpsimd';
    this.maxChannels = opts.maxChannels || 256;
  }

  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-web-'));
    fs.chmodSync(this.dir, 0o755);
    fs.mkdirSync(OUT, { recursive: true });
    if (!fs.existsSync(path.join(WEB_ROOT, 'vendor', 'uPlot.esm.js'))) {
      execFileSync(path.join(WEB_ROOT, 'build.sh'), { stdio: 'inherit' });
    }
    this.redisPort = await freePort();
    this.snmpPort = await freePort(true);
    this.gwPort = await freePort();

    this.redis = new Proc('redis-server', ['redis-server', '--port', String(this.redisPort), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no', '--dir', this.dir], path.join(this.dir, 'redis.log')).start();
    await until('redis-server', () => this.redisCmd('PING') === 'PONG');

    // The agent: one data file per device, named by its community.
    const data = path.join(this.dir, 'data');
    fs.mkdirSync(data, { mode: 0o755 });
    this.devices = [];
    for (const [site, devs] of Object.entries(this.sites)) {
      for (const [name, ifs] of Object.entries(devs)) {
        const community = name.replace(/-/g, '');
        fs.writeFileSync(path.join(data, `${community}.snmprec`), snmprec(ifs));
        this.devices.push({ name, site, address: `127.0.0.1:${this.snmpPort}`, community });
      }
    }
    if (this.agent === 'simagent') {
      const bin = path.join(TOP, 'tests', 'sim', 'simagent');
      execFileSync('make', ['-s', '-C', path.dirname(bin)], { stdio: 'inherit' });
      this.sim = new Proc('simagent', [bin, '--data-dir', data, '--listen', `127.0.0.1:${this.snmpPort}`],
        path.join(this.dir, 'simagent.log')).start();
    } else {
      const cache = path.join(this.dir, 'snmpsim-cache');
      fs.mkdirSync(cache);
      const simArgv = ['snmpsimd', `--data-dir=${data}`, `--agent-udpv4-endpoint=127.0.0.1:${this.snmpPort}`,
        '--logging-method=null', `--cache-dir=${cache}`];
      if (process.getuid() === 0) { // snmpsimd refuses to run as root
        execFileSync('chown', ['nobody:nogroup', cache]);
        simArgv.push('--process-user=nobody', '--process-group=nogroup');
      }
      this.sim = new Proc('snmpsimd', simArgv, path.join(this.dir, 'snmpsimd.log')).start();
    }
    await until('the SNMP agent', () => {
      try {
        return execFileSync('snmpget', ['-v2c', '-c', this.devices[0].community, '-r0', '-t0.5', '-Onqv',
          `127.0.0.1:${this.snmpPort}`, '1.3.6.1.2.1.1.3.0'], { stdio: ['ignore', 'pipe', 'ignore'] }).length > 0;
      } catch {
        return false;
      }
    }, 30000, 300);

    this.config = path.join(this.dir, 'ifmon.yml');
    this.writeConfig();
    this.collector = new Proc('collector', [COLLECTOR, '--config', this.config], path.join(this.dir, 'collector.log')).start();
    this.collectorStarted = Date.now();
    await this.startGateway();
    this.base = `http://127.0.0.1:${this.gwPort}/`;
    const nsites = Object.keys(this.sites).length;
    await until('the inventory in Redis', () => {
      const inv = this.redisCmd('GET', 'ifmon:inventory');
      return inv && JSON.parse(inv).sites.length === nsites;
    }, 20000);
    return this;
  }

  /** Writes the one YAML of both daemons (JSON values are valid YAML),
   * with this.deviceOpts. */
  writeConfig() {
    const j = JSON.stringify;
    const extra = (name) => Object.entries(this.deviceOpts[name] || {}).map(([k, v]) => `, ${k}: ${j(v)}`).join('');
    fs.writeFileSync(this.config, [
      `redis: {host: 127.0.0.1, port: ${this.redisPort}, prefix: ifmon, history: 300}`,
      'defaults: {interval: "1s", timeout: "800ms", retries: 1, version: "2c", counters: [octets, packets, errors]}',
      'devices:',
      ...this.devices.map((d) => `  - {name: ${j(d.name)}, site: ${j(d.site)}, address: ${j(d.address)}, ` +
        `community: ${j(d.community)}${extra(d.name)}}`),
      'gateway:',
      `  listen: "127.0.0.1:${this.gwPort}"`,
      `  web_root: ${j(WEB_ROOT)}`,
      '  allowed_origins: []',
      // Pages present ADMIN_TOKEN unless a test gives another; a
      // restricted token sees tokyo only (gateway.tokens).
      `  token: ${j(ADMIN_TOKEN)}`,
      '  tokens:',
      `    - {token: ${j(TOKYO_TOKEN)}, channels: ["ifmon:tokyo-*", "ifmon:events:tokyo-*"]}`,
      '  max_connections: 100',
      `  max_channels: ${this.maxChannels}`,
      '  max_frame: 65536',
      '',
    ].join('\n'));
  }

  /** Changes one device's settings and makes the collector read the file
   * again (SIGHUP). */
  reconfigureDevice(name, opts) {
    this.deviceOpts = { ...this.deviceOpts, [name]: { ...(this.deviceOpts[name] || {}), ...opts } };
    this.writeConfig();
    process.kill(this.collector.proc.pid, 'SIGHUP');
  }

  redisCmd(...args) {
    return execFileSync('redis-cli', ['-p', String(this.redisPort), '--raw', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  }

  async startGateway() {
    this.gateway = new Proc('gateway', [GATEWAY, '--config', this.config], path.join(this.dir, 'gateway.log')).start();
    await until('the gateway', async () => {
      if (!this.gateway.alive()) throw new Error(`gateway exited:\n${this.gateway.log()}`);
      try {
        return (await httpGet(`http://127.0.0.1:${this.gwPort}/healthz`)).status === 200;
      } catch {
        return false;
      }
    }, 10000);
  }

  async killGateway() {
    await this.gateway.stop('SIGKILL');
  }

  async launchBrowser() {
    const { chromium } = require('playwright-core');
    this.profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-chromium-'));
    this.browser = await chromium.launchPersistentContext(this.profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 1920, height: 1080 },
    });
    return this.browser;
  }

  /** A new page at the gateway's URL + hash; console errors are kept. */
  async page(hash = '', opts = {}) {
    const page = await this.browser.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') page.errors.push(m.text());
    });
    if (opts.viewport) await page.setViewportSize(opts.viewport);
    if (opts.colorScheme) await page.emulateMedia({ colorScheme: opts.colorScheme });
    const token = opts.token ?? ADMIN_TOKEN;
    await page.goto(`${this.base}?token=${encodeURIComponent(token)}${opts.query ?? ''}${hash}`);
    return page;
  }

  async stop() {
    const errors = [];
    if (this.browser) await this.browser.close().catch((e) => errors.push(e));
    for (const p of [this.gateway, this.collector, this.sim, this.redis]) {
      if (p) await p.stop().catch((e) => errors.push(e));
    }
    if (this.profile) fs.rmSync(this.profile, { recursive: true, force: true });
    if (this.dir && process.env.IFMON_KEEP_TMP !== '1') fs.rmSync(this.dir, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  }
}

/** window.ifmon.state() of a page. */
function state(page) {
  return page.evaluate(() => window.ifmon && window.ifmon.state());
}

function near(v, want, tol = 0.02) {
  return typeof v === 'number' && Math.abs(v - want) <= tol * want;
}

module.exports = { ADMIN_TOKEN, TOKYO_TOKEN, Stack, Proc, SITES, DEVICES, snmprec, expected, state, near, until, drawn, sleep, freePort, OUT, TOP };
