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
// The channel fence() publishes its markers on: the inventory channel,
// which every token may subscribe and no test publishes to otherwise.
const FENCE = `${PREFIX}:inventory`;

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

  // The YAML of this.opts (with this.port).
  configText() {
    const o = this.opts;
    const lines = [
      'redis:',
      `  host: 127.0.0.1`,
      `  port: ${o.redisPort}`,
      ...(o.redisPassword ? [`  password: ${yamlString(o.redisPassword)}`] : []),
      `  prefix: ${PREFIX}`,
      `  history: ${o.history || 300}`,
      ...(o.redisExtra || []),
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
      ...(o.extra || []),
    ];
    return lines.join('\n') + '\n';
  }

  async start() {
    const o = this.opts;
    this.port = o.port || (await freePort());
    this.config = path.join(this.dir, 'gateway.yml');
    fs.writeFileSync(this.config, this.configText());
    const env = { ...process.env };
    if (SAN) {
      // A small quarantine keeps RSS meaningful for the memory test.
      env.ASAN_OPTIONS = `${env.ASAN_OPTIONS || 'detect_leaks=1'}:quarantine_size_mb=16`;
      const supp = path.join(__dirname, 'lsan.supp');
      env.LSAN_OPTIONS = `suppressions=${supp}:print_suppressions=0`;
    }
    // IFMON_GW_VERBOSE=1 runs it with --verbose (debug lines in its stderr).
    const args = ['--config', this.config, ...(process.env.IFMON_GW_VERBOSE ? ['--verbose'] : [])];
    // opts.nofile: started under that RLIMIT_NOFILE (soft and hard), as a
    // small `ulimit -n` would.
    this.proc = o.nofile
      ? spawn('prlimit', [`--nofile=${o.nofile}:${o.nofile}`, GATEWAY, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env })
      : spawn(GATEWAY, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
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

  // CPU seconds the gateway has used so far (utime + stime).
  cpuSeconds() {
    const f = fs.readFileSync(`/proc/${this.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  }

  rssKiB() {
    const status = fs.readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  }

  // Wait until the gateway's stderr, from offset `from` on, matches re;
  // returns the match.
  async waitLog(re, from = 0, timeoutMs = 5000) {
    return until(`gateway log ${re}`, () => {
      if (this.proc && this.proc.exitCode !== null) throw new Error(`gateway exited:\n${this.stderr}`);
      return re.exec(this.stderr.slice(from));
    }, timeoutMs);
  }

  // Rewrite the configuration with `changes` merged into the options (or
  // write `text` as it is) and send SIGHUP; resolves with the log lines of
  // the reload once it is done (applied, or refused for an invalid file).
  async reload(changes = {}, text = null) {
    this.opts = { ...this.opts, ...changes };
    fs.writeFileSync(this.config, text === null ? this.configText() : text);
    const from = this.stderr.length;
    this.proc.kill('SIGHUP');
    await this.waitLog(/SIGHUP: (applied|\S+ is invalid)/, from);
    return this.stderr.slice(from);
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
    this.fences = new Set(); // fence() markers received (kept out of messages)
    this.frames = 0;
    this.waiters = [];
    this.closed = null;
    ws.on('message', (data, isBinary) => {
      assert.ok(!isBinary, 'the gateway sent a binary frame');
      this.frames++;
      const v = JSON.parse(data.toString());
      for (const m of Array.isArray(v) ? v : [v]) {
        if (m.channel === FENCE && m.data && m.data.fence !== undefined) this.fences.add(m.data.fence);
        else this.messages.push(m);
      }
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

// A fence: once it returns, everything published on `pub` before the call
// has reached these clients (or will never reach them). It publishes a
// marker on FENCE, which each client holds (subscribed on first use: the
// gateway's "subscribed" means Redis has confirmed it), after everything
// else on the same Redis connection; Redis and the gateway keep that order
// per connection and client, so the marker comes last. Markers are not in
// client.messages.
let fenceSeq = 0;
async function fence(pub, clients) {
  const n = ++fenceSeq;
  for (const c of clients) {
    if (!c.fenced) {
      const r = await c.request({ op: 'subscribe', channels: [FENCE], id: `fence-${n}` }, 'subscribed');
      c.messages.splice(c.messages.indexOf(r), 1); // invisible, like the markers
      c.fenced = true;
    }
  }
  await pub.command('PUBLISH', FENCE, JSON.stringify({ fence: n }));
  for (const c of clients) {
    await c.waitFor(`fence ${n}`, () => c.fences.has(n));
  }
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

// An HTTP exchange over a raw socket: `request` is written as it is (no
// URL parsing, no normalisation). The reply is complete when the gateway
// closes, or when a response with a Content-Length has all its body; a
// gateway that goes quiet for 2 s without either gives what came so far.
// Resolves with {status, text}: status is the number of the status line,
// or null when none came.
function rawHttp(port, request) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const finish = () => {
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(got);
      resolve({ status: m ? Number(m[1]) : null, text: got });
      sock.destroy();
    };
    sock.setTimeout(2000, finish);
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)\r\n/i.exec(got.slice(0, end + 2));
      if (end >= 0 && len && got.length >= end + 4 + Number(len[1])) finish();
    });
    sock.on('close', finish);
    sock.on('error', reject);
  });
}

// --------------------------------------------------- raw WebSocket side

// An upgrade request over a raw socket, written as given (any Host, any
// Origin, any path), from `from` (a local address: 127.0.0.1 or
// 127.0.0.2). Resolves as soon as the response head is in: {status,
// head, sock, rest} with rest the bytes after the head; the socket stays
// open (the caller destroys it). status is null when the gateway closed
// without a status line.
function rawUpgrade(port, { path: p = '/ws', host = `127.0.0.1:${port}`, origin, headers = {}, from = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from });
    let got = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const end = got.indexOf('\r\n\r\n');
      const head = end >= 0 ? got.subarray(0, end).toString('latin1') : got.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      sock.pause(); // what follows waits for readFrames()
      sock.removeAllListeners('data');
      resolve({ status: m ? Number(m[1]) : null, head, sock, rest: end >= 0 ? got.subarray(end + 4) : Buffer.alloc(0) });
    };
    sock.setTimeout(5000, finish);
    sock.on('connect', () => {
      const lines = [`GET ${p} HTTP/1.1`, `Host: ${host}`, 'Upgrade: websocket', 'Connection: Upgrade',
        `Sec-WebSocket-Key: ${require('node:crypto').randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13'];
      if (origin) lines.push(`Origin: ${origin}`);
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.indexOf('\r\n\r\n') >= 0) finish();
    });
    sock.on('close', finish);
    sock.on('error', (e) => (done ? null : reject(e)));
  });
}

// A client frame (RFC 6455 5.2): FIN set, opcode, payload; masked with a
// random key unless `masked` is false (what a client MUST NOT send).
function wsFrame(opcode, payload, masked = true) {
  const data = Buffer.from(payload);
  const len = data.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | len])
    : Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  if (!masked) return Buffer.concat([head, data]);
  const key = require('node:crypto').randomBytes(4);
  return Buffer.concat([head, key, data.map((b, i) => b ^ key[i % 4])]);
}

// Reads server frames (unmasked, lengths under 64 KiB) from sock, `first`
// being bytes already read; resolves with {frames: [{opcode, payload}],
// closed} once a close frame came, stop(frames) is true, the socket
// closed, or timeoutMs passed.
function readFrames(sock, first = Buffer.alloc(0), timeoutMs = 5000, stop = () => false) {
  return new Promise((resolve) => {
    let buf = first;
    const frames = [];
    let closed = false;
    const parse = () => {
      for (;;) {
        if (buf.length < 2) return false;
        let len = buf[1] & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) return false;
          len = buf.readUInt16BE(2);
          at = 4;
        }
        if (buf.length < at + len) return false;
        frames.push({ opcode: buf[0] & 0x0f, payload: buf.subarray(at, at + len) });
        buf = buf.subarray(at + len);
        if (frames[frames.length - 1].opcode === 8 || stop(frames)) return true;
      }
    };
    const t = setTimeout(() => finish(), timeoutMs);
    function finish() {
      clearTimeout(t);
      sock.removeAllListeners('data');
      resolve({ frames, closed });
    }
    if (parse()) {
      finish();
      return;
    }
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (parse()) finish();
    });
    sock.once('close', () => {
      closed = true;
      finish();
    });
    sock.resume();
  });
}

module.exports = {
  PREFIX, FENCE, SAN, TOP, GATEWAY, sleep, until, freePort, tempDir, httpGet, rawHttp, connect,
  setup, fence, RedisClient, RedisServer, Gateway, publishSample, inventory, checkSanitizer,
  rawUpgrade, wsFrame, readFrames,
};

// ------------------------------------------------ Hostile clients (additions)

// The collector announces every change of the inventory on its channel
// (docs/PROTOCOL.md, part 1), and the gateway keeps a copy it reads again
// only then: a test that writes the key plays the collector, so a SET or
// DEL of it through RedisClient is followed by the announcement (in the
// same pipeline; the promise is the SET's or DEL's reply, once both are
// in). The gateway has read the announcement before anything sent after
// that promise resolves: Redis writes it to the gateway before it answers
// the PUBLISH.
const plainCommand = RedisClient.prototype.command;
RedisClient.prototype.command = function command(...args) {
  const verb = String(args[0]).toUpperCase();
  if ((verb === 'SET' || verb === 'DEL') && args[1] === `${PREFIX}:inventory`) {
    const done = plainCommand.apply(this, args);
    const told = plainCommand.call(this, 'PUBLISH', `${PREFIX}:inventory`,
      JSON.stringify({ ts: Date.now() / 1000 }));
    return Promise.all([done, told]).then(([reply]) => reply);
  }
  return plainCommand.apply(this, args);
};

// SET or DEL the inventory (announced, above) and wait until the gateway
// has read the announcement: Redis wrote it to the gateway before its
// reply, but the gateway may read a client's next request before it in the
// same turn of its loop, and then rightly answers from the copy it has.
async function changeInventory(env, ...args) {
  const in0 = (await env.gw.metrics()).ifmon_gateway_messages_in_total;
  const reply = await env.pub.command(...args);
  await until('the gateway to read the inventory\'s announcement', async () =>
    (await env.gw.metrics()).ifmon_gateway_messages_in_total > in0);
  return reply;
}

// The p-th percentile (0..100) of numbers.
function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

// Redis INFO (one section) as {field: value}.
async function redisInfo(pub, section) {
  const info = {};
  for (const line of String(await pub.command('INFO', section)).split('\r\n')) {
    const m = /^(\w+):(.*)$/.exec(line);
    if (m) info[m[1]] = Number.isNaN(Number(m[2])) ? m[2] : Number(m[2]);
  }
  return info;
}

// What the attack tests of `make test` ask of a bystander's live lag p99:
// that it was served throughout, not starved. A regression that makes a
// request cost tens of ms pushes it to seconds; the goal under the whole
// attack table (p99 under 50 ms, `list` under 200 ms) is `make attack`'s
// (tests/gateway/attack.js), which measures from a thread of its own on a
// machine doing nothing else: this machine is shared, and a bound that
// tight fails here on noise alone (p99 126 ms once under ASan in CI).
const LAG_SERVED_MS = SAN ? 500 : 250;

// Live lag of a well-behaved client: `client` (subscribed here to
// <prefix>:<device>:<iface>) gets a sample published every everyMs, each
// carrying the time it was published; stop() resolves with the lags in ms
// of those received (and how many were sent), once the last one came or
// 5 s after it was published.
async function lagProbe(env, client, { device = 'lag', iface = 'eth0', everyMs = 20 } = {}) {
  const channel = `${PREFIX}:${device}:${iface}`;
  await client.request({ op: 'subscribe', channels: [channel], id: `lag-${channel}` }, 'subscribed');
  const lags = [];
  client.ws.on('message', (data) => {
    const now = Date.now();
    const v = JSON.parse(data.toString());
    for (const m of Array.isArray(v) ? v : [v]) {
      if (m.channel === channel && m.data && m.data.sent) lags.push(now - m.data.sent);
    }
  });
  let seq = 0;
  const timer = setInterval(() => {
    seq++;
    publishSample(env.pub, device, iface, seq, { sent: Date.now() });
  }, everyMs);
  timer.unref(); // a test that failed before stop() does not keep the process alive
  return {
    lags,
    async stop() {
      clearInterval(timer);
      const sent = seq;
      const end = Date.now() + 5000;
      while (lags.length < sent && Date.now() < end) {
        await client.waitFor('the last lag sample', () => lags.length >= sent, end - Date.now()).catch(() => {});
      }
      return { lags, sent };
    },
  };
}

// Time one request of client: resolves with [ms, reply].
async function timed(client, obj, replyOp, timeoutMs = 5000) {
  const t0 = process.hrtime.bigint();
  client.send(obj);
  const r = await client.reply(replyOp, obj.id, timeoutMs);
  return [Number(process.hrtime.bigint() - t0) / 1e6, r];
}

module.exports.percentile = percentile;
module.exports.changeInventory = changeInventory;
module.exports.redisInfo = redisInfo;
module.exports.lagProbe = lagProbe;
module.exports.LAG_SERVED_MS = LAG_SERVED_MS;
module.exports.timed = timed;
