// Shared helpers for the gateway integration tests: a throwaway
// redis-server on a free 127.0.0.1 port in a temp dir, the gateway binary
// (env IFMON_GATEWAY) with a generated config, a minimal Redis client
// (RESP over node:net, so the tests need no Redis package), and a
// WebSocket client that collects what the gateway sends.
//
// Under IFMON_SAN=1 the gateway is the ASan+UBSan build: stopping it fails
// the test when its stderr has a sanitizer report or it did not exit 0.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');

const TOP = path.resolve(__dirname, '..', '..');
const GATEWAY = path.resolve(TOP, process.env.IFMON_GATEWAY || 'gateway/ifmon-gateway');
const SAN = process.env.IFMON_SAN === '1';
const PREFIX = 'ifmon';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeoutMs = 5000, stepMs = 20) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-gw-'));
}

function waitExit(proc, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pid ${proc.pid} did not exit`)), timeoutMs);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

// ------------------------------------------------------------------ Redis

// Minimal RESP client: command(...args) resolves with the reply (arrays as
// JS arrays, errors as Error objects). Commands are pipelined.
class RedisClient {
  constructor(port) {
    this.port = port;
    this.pending = [];
    this.buf = Buffer.alloc(0);
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, '127.0.0.1', () => resolve(this));
      this.sock.once('error', reject);
      this.sock.on('error', () => {});
      this.sock.on('data', (d) => this.onData(d));
      this.sock.on('close', () => {
        for (const p of this.pending.splice(0)) p.reject(new Error('redis connection closed'));
      });
    });
  }

  command(...args) {
    let out = `*${args.length}\r\n`;
    for (const a of args) {
      const s = Buffer.from(String(a));
      out += `$${s.length}\r\n${s.toString('binary')}\r\n`;
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.sock.write(Buffer.from(out, 'binary'));
    });
  }

  // Parse one reply at buf[i]; returns [value, next] or null if incomplete.
  parse(i) {
    const nl = this.buf.indexOf('\r\n', i);
    if (nl < 0) return null;
    const type = String.fromCharCode(this.buf[i]);
    const line = this.buf.toString('utf8', i + 1, nl);
    const next = nl + 2;
    if (type === '+') return [line, next];
    if (type === '-') return [new Error(line), next];
    if (type === ':') return [Number(line), next];
    if (type === '$') {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (this.buf.length < next + n + 2) return null;
      return [this.buf.toString('utf8', next, next + n), next + n + 2];
    }
    if (type === '*') {
      const n = Number(line);
      if (n < 0) return [null, next];
      const arr = [];
      let at = next;
      for (let k = 0; k < n; k++) {
        const r = this.parse(at);
        if (!r) return null;
        arr.push(r[0]);
        at = r[1];
      }
      return [arr, at];
    }
    throw new Error(`bad RESP type ${type}`);
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    let at = 0;
    for (;;) {
      const r = this.parse(at);
      if (!r) break;
      at = r[1];
      const p = this.pending.shift();
      if (p) p.resolve(r[0]);
    }
    this.buf = this.buf.subarray(at);
  }

  close() {
    this.sock.destroy();
  }
}

class RedisServer {
  constructor(dir, port, password) {
    this.dir = dir;
    this.port = port;
    this.password = password;
  }

  // A client connection, authenticated when the server has a password.
  async client() {
    const c = await new RedisClient(this.port).connect();
    if (this.password) assert.equal(await c.command('AUTH', this.password), 'OK');
    return c;
  }

  async start() {
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', this.dir, '--logfile', path.join(this.dir, 'redis.log'),
        ...(this.password ? ['--requirepass', this.password] : [])],
      { stdio: 'ignore' },
    );
    await until('redis-server', async () => {
      if (this.proc.exitCode !== null) {
        let log = '';
        try {
          log = fs.readFileSync(path.join(this.dir, 'redis.log'), 'utf8');
        } catch {}
        throw new Error(`redis-server exited with status ${this.proc.exitCode}:\n${log}`);
      }
      let c = null;
      try {
        c = await this.client();
        return (await c.command('PING')) === 'PONG';
      } catch {
        return false;
      } finally {
        if (c) c.close();
      }
    });
    return this;
  }

  async kill(signal = 'SIGKILL') {
    if (!this.proc) return;
    this.proc.kill(signal);
    await waitExit(this.proc, 5000);
    this.proc = null;
  }
}

// ---------------------------------------------------------------- Gateway

function yamlString(s) {
  return JSON.stringify(s); // a JSON string is a YAML double-quoted scalar
}

class Gateway {
  constructor(dir, opts) {
    this.dir = dir;
    this.opts = opts;
    this.stderr = '';
  }

  async start() {
    const o = this.opts;
    this.port = o.port || (await freePort());
    const lines = [
      'redis:',
      `  host: 127.0.0.1`,
      `  port: ${o.redisPort}`,
      ...(o.redisPassword ? [`  password: ${yamlString(o.redisPassword)}`] : []),
      `  prefix: ${PREFIX}`,
      `  history: ${o.history || 300}`,
      'gateway:',
      `  listen: "127.0.0.1:${this.port}"`,
      `  web_root: ${yamlString(o.webRoot || path.join(this.dir, 'no-such-web-root'))}`,
      `  allowed_origins: [${(o.allowedOrigins || []).map(yamlString).join(', ')}]`,
      `  token: ${yamlString(o.token || '')}`,
      ...(o.tokens ? ['  tokens:', ...o.tokens.flatMap((t) => [
        `    - token: ${yamlString(t.token)}`,
        `      channels: [${t.channels.map(yamlString).join(', ')}]`,
      ])] : []),
      `  max_connections: ${o.maxConnections || 100}`,
      `  max_channels: ${o.maxChannels || 64}`,
      `  max_frame: ${o.maxFrame || 65536}`,
    ];
    this.config = path.join(this.dir, 'gateway.yml');
    fs.writeFileSync(this.config, lines.join('\n') + '\n');
    const env = { ...process.env };
    if (SAN) {
      // A small quarantine keeps RSS meaningful for the memory test.
      env.ASAN_OPTIONS = `${env.ASAN_OPTIONS || 'detect_leaks=1'}:quarantine_size_mb=16`;
      const supp = path.join(__dirname, 'lsan.supp');
      env.LSAN_OPTIONS = `suppressions=${supp}:print_suppressions=0`;
    }
    this.proc = spawn(GATEWAY, ['--config', this.config], { stdio: ['ignore', 'ignore', 'pipe'], env });
    this.proc.stderr.on('data', (d) => {
      this.stderr += d.toString();
    });
    this.url = `ws://127.0.0.1:${this.port}/ws`;
    this.base = `http://127.0.0.1:${this.port}`;
    await until('gateway to listen', async () => {
      if (this.proc.exitCode !== null) throw new Error(`gateway exited:\n${this.stderr}`);
      try {
        return (await httpGet(`${this.base}/healthz`)).status === (o.expectRedisDown ? 503 : 200);
      } catch {
        return false;
      }
    }, 10000);
    return this;
  }

  rssKiB() {
    const status = fs.readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  }

  async metrics() {
    const r = await httpGet(`${this.base}/metrics`);
    assert.equal(r.status, 200);
    const values = {};
    for (const line of r.body.split('\n')) {
      const m = /^(ifmon_gateway_\w+) (\d+)$/.exec(line);
      if (m) values[m[1]] = Number(m[2]);
    }
    return values;
  }

  // SIGTERM; the gateway must exit 0 and (ASan build) report nothing.
  async stop() {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    if (proc.exitCode === null) proc.kill('SIGTERM');
    await waitExit(proc, 15000);
    // IFMON_GATEWAY_LOG=FILE keeps the gateway's stderr for debugging.
    if (process.env.IFMON_GATEWAY_LOG) fs.appendFileSync(process.env.IFMON_GATEWAY_LOG, this.stderr);
    checkSanitizer(this.stderr);
    assert.equal(proc.exitCode, 0, `gateway exit status ${proc.exitCode}:\n${this.stderr}`);
  }
}

function checkSanitizer(stderr) {
  for (const bad of ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:']) {
    assert.ok(!stderr.includes(bad), `gateway stderr has "${bad}":\n${stderr}`);
  }
}

function httpGet(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('http timeout')));
  });
}

// -------------------------------------------------------------- WebSocket

// A client that keeps every message object the gateway sent (a frame that
// is an array counts as its elements) and lets a test wait for some.
class Client {
  constructor(ws) {
    this.ws = ws;
    this.messages = [];
    this.frames = 0;
    this.waiters = [];
    this.closed = null;
    ws.on('message', (data, isBinary) => {
      assert.ok(!isBinary, 'the gateway sent a binary frame');
      this.frames++;
      const v = JSON.parse(data.toString());
      for (const m of Array.isArray(v) ? v : [v]) this.messages.push(m);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  // Wait until pred(messages) is truthy; returns its value.
  async waitFor(what, pred, timeoutMs = 5000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = pred(this.messages);
      if (v) return v;
      if (this.closed) throw new Error(`connection closed (${this.closed.code}) waiting for ${what}`);
      const left = end - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages).slice(-2000)}`);
      }
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  // The first reply with this op (and id, if given) not yet taken.
  async reply(op, id, timeoutMs = 5000) {
    const m = await this.waitFor(`reply ${op}`, (ms) =>
      ms.find((x) => x.op === op && !x.taken && (id === undefined || JSON.stringify(x.id) === JSON.stringify(id))), timeoutMs);
    m.taken = true;
    return m;
  }

  async request(obj, replyOp) {
    this.send(obj);
    return this.reply(replyOp, obj.id);
  }

  data(channel) {
    return this.messages.filter((m) => m.channel === channel && m.data).map((m) => m.data);
  }

  history(channel) {
    return this.messages.filter((m) => m.channel === channel && m.history);
  }

  close() {
    this.ws.terminate();
  }
}

// Open a WebSocket; resolves with a Client, or rejects with an Error
// carrying .status for a refused upgrade.
function connect(url, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols || [], { handshakeTimeout: 5000, ...options });
    ws.once('open', () => resolve(new Client(ws)));
    ws.once('unexpected-response', (req, res) => {
      const err = new Error(`upgrade refused: ${res.statusCode}`);
      err.status = res.statusCode;
      res.resume();
      ws.on('error', () => {});
      req.destroy();
      reject(err);
    });
    ws.once('error', reject);
  });
}

// ------------------------------------------------------------ Environment

// Redis + gateway for one test file. `opts` go to the gateway config.
async function setup(opts = {}) {
  const dir = tempDir();
  const redisPort = await freePort();
  const redis = await new RedisServer(dir, redisPort, opts.redisPassword).start();
  const pub = await redis.client();
  const gw = await new Gateway(dir, { redisPort, ...opts }).start();
  const clients = [];
  return {
    dir,
    redis,
    pub,
    gw,
    async connect(options) {
      const c = await connect(options && options.url ? options.url : gw.url, options);
      clients.push(c);
      return c;
    },
    async teardown() {
      for (const c of clients) c.close();
      try {
        pub.close();
      } catch {}
      try {
        await gw.stop();
      } finally {
        await redis.kill('SIGTERM');
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

// One interface sample as the collector writes it: RPUSH to the history
// list, LTRIM, PUBLISH (docs/PROTOCOL.md). Pipelined; returns a promise.
function publishSample(pub, device, iface, seq, extra = {}) {
  const channel = `${PREFIX}:${device}:${iface}`;
  const sample = JSON.stringify({
    device, site: 'test', interface: iface, ifindex: 1, ts: 1764052800 + seq / 1000,
    interval: 1, in_bps: seq, out_bps: seq, speed_bps: 1e9, oper: 'up', seq, ...extra,
  });
  const key = `${PREFIX}:history:${device}:${iface}`;
  // Callers often do not await: a connection closed under a pending
  // command must not become an unhandled rejection that fails the file.
  pub.command('RPUSH', key, sample).catch(() => {});
  pub.command('LTRIM', key, -300, -1).catch(() => {});
  const p = pub.command('PUBLISH', channel, sample);
  p.catch(() => {});
  return p;
}

function inventory(devices) {
  // devices: {name: [iface, ...]}
  return JSON.stringify({
    version: 1, prefix: PREFIX, ts: 1764052800,
    sites: [{
      name: 'test',
      devices: Object.entries(devices).map(([name, ifaces]) => ({
        name, site: 'test', channel: `${PREFIX}:${name}`, status: 'up', interval: 1,
        interfaces: ifaces.map((i, k) => ({
          name: i, descr: i, ifindex: k + 1, channel: `${PREFIX}:${name}:${i}`,
          history: `${PREFIX}:history:${name}:${i}`, speed_bps: 1e9,
        })),
      })),
    }],
  });
}

module.exports = {
  PREFIX, SAN, TOP, GATEWAY, sleep, until, freePort, tempDir, httpGet, connect, setup,
  RedisClient, RedisServer, Gateway, publishSample, inventory, checkSanitizer,
};
