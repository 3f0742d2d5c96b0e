// Limits per client, not only global (docs/PROTOCOL.md part 2, "Limits"):
// one address cannot take every connection (gateway.max_connections_per_address,
// plain TCP connections that never upgrade counted too) nor every
// subscription (gateway.max_subscriptions_per_address, under
// gateway.max_subscriptions); behind a balancer the address is the one
// its PROXY protocol header names, read from gateway.trusted_proxies only;
// the gateway keeps descriptors in reserve under RLIMIT_NOFILE; and
// /healthz tells a balancer when the gateway is full. A second source
// address is 127.0.0.2 (127.0.0.3, ... too).
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const { describe, it, before, after } = require('node:test');
const { setup, httpGet, until, publishSample, PREFIX } = require('./lib');

const TOKEN = 'limits-test-token-0123456789abc';

// A plain TCP connection from `from` that never sends a byte; resolves
// once connected.
function openIdle(port, from) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(sock));
    sock.on('error', (e) => (sock.connecting ? reject(e) : null));
  });
}

// Writes `prefix` (bytes: a PROXY header, or nothing) then an HTTP
// request head from `from`; resolves with {status, head, sock} once the
// response head is in, or {status: null} when the gateway closes or
// resets the connection without one. The socket stays open (the caller
// destroys it).
function exchange(port, { from = '127.0.0.1', prefix = Buffer.alloc(0), path = '/ws', upgrade = true, headers = {} } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from });
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (why) => {
      if (done) return;
      done = true;
      const end = got.indexOf('\r\n\r\n');
      const head = (end >= 0 ? got.subarray(0, end) : got).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      sock.removeAllListeners('data');
      resolve({ status: m ? Number(m[1]) : null, head, sock, why });
    };
    sock.setTimeout(5000, () => finish('timeout'));
    sock.on('connect', () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
      if (upgrade) {
        lines.push('Upgrade: websocket', 'Connection: Upgrade',
          `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13');
      }
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      sock.write(Buffer.concat([prefix, Buffer.from(`${lines.join('\r\n')}\r\n\r\n`)]));
    });
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.indexOf('\r\n\r\n') >= 0) finish('head');
    });
    sock.on('close', () => finish('closed'));
    sock.on('error', () => finish('reset'));
  });
}

function header(head, name) {
  const m = new RegExp(`^${name}: *(.*)$`, 'im').exec(head);
  return m ? m[1].trim() : null;
}

// A refusal at accept: a 503 with Retry-After, or (when the client's
// request crossed the gateway's close) a connection closed without one.
function assertRefusedAtOnce(r, what) {
  assert.notEqual(r.status, 101, `${what}: upgraded`);
  if (r.status !== null) {
    assert.equal(r.status, 503, `${what}: ${r.head}`);
    assert.equal(header(r.head, 'retry-after'), '10', r.head);
  } else {
    assert.notEqual(r.why, 'timeout', `${what}: no answer within 5 s`);
  }
}

// A PROXY protocol v1 header naming `client` (IPv4).
const proxyV1 = (client, port) => Buffer.from(`PROXY TCP4 ${client} 127.0.0.1 40000 ${port}\r\n`);

// The same in v2 (PROXY command, TCP over IPv4).
function proxyV2(client, port) {
  const h = Buffer.alloc(28);
  Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]).copy(h);
  h[12] = 0x21;
  h[13] = 0x11;
  h.writeUInt16BE(12, 14);
  Buffer.from(client.split('.').map(Number)).copy(h, 16);
  Buffer.from([127, 0, 0, 1]).copy(h, 20);
  h.writeUInt16BE(40000, 24);
  h.writeUInt16BE(port, 26);
  return h;
}

async function tcpConnections(env) {
  return (await env.gw.metrics()).ifmon_gateway_tcp_connections;
}

describe('connections per client address (default gateway.max_connections_per_address: 256)', () => {
  let env;
  const socks = [];
  before(async () => {
    env = await setup({ maxConnections: 1000 });
  });
  after(async () => {
    for (const s of socks) s.destroy();
    await env.teardown();
  });

  it('counts plain TCP connections and WebSockets alike, refuses the 257th at once, not another address', async () => {
    const port = env.gw.port;
    for (let i = 0; i < 250; i++) socks.push(await openIdle(port, '127.0.0.2'));
    for (let i = 0; i < 6; i++) {
      const r = await exchange(port, { from: '127.0.0.2' });
      socks.push(r.sock);
      assert.equal(r.status, 101, `WebSocket ${i + 1} of 6 on top of 250 idle: ${r.head}`);
    }
    const refused = await exchange(port, { from: '127.0.0.2' });
    refused.sock.destroy();
    assertRefusedAtOnce(refused, 'connection 257 of 127.0.0.2');
    const plain = await exchange(port, { from: '127.0.0.2', path: '/healthz', upgrade: false });
    plain.sock.destroy();
    assertRefusedAtOnce(plain, 'a plain request as connection 257');
    const other = await exchange(port, { from: '127.0.0.3' });
    socks.push(other.sock);
    assert.equal(other.status, 101, other.head);
    const m = await env.gw.metrics();
    assert.ok(m.ifmon_gateway_tcp_connections >= 257, JSON.stringify(m));
    assert.ok(m.ifmon_gateway_refused_total >= 2, JSON.stringify(m));
    assert.match(env.gw.stderr, /refusing a connection from 127\.0\.0\.2: 256 connections from this address already/);

    // One of them goes: one more may come.
    const before = await tcpConnections(env);
    socks.shift().destroy();
    await until('the gateway to see the close', async () => (await tcpConnections(env)) < before);
    const again = await exchange(port, { from: '127.0.0.2' });
    socks.push(again.sock);
    assert.equal(again.status, 101, again.head);
  });
});

describe('a full gateway says so (gateway.max_connections)', () => {
  let env;
  before(async () => {
    env = await setup({ maxConnections: 2 });
  });
  after(async () => {
    await env.teardown();
  });

  it('answers /healthz 503 with Retry-After at max_connections, 200 again below it', async () => {
    assert.equal((await httpGet(`${env.gw.base}/healthz`)).status, 200);
    const a = await env.connect();
    const b = await env.connect();
    const full = await httpGet(`${env.gw.base}/healthz`);
    assert.equal(full.status, 503, full.body);
    assert.equal(full.body, 'full\n');
    assert.equal(full.headers['retry-after'], '10');
    const third = await exchange(env.gw.port);
    third.sock.destroy();
    assert.equal(third.status, 503, third.head);
    assert.equal(header(third.head, 'retry-after'), '10');
    a.close();
    await until('/healthz to be 200 again', async () =>
      (await httpGet(`${env.gw.base}/healthz`)).status === 200);
    assert.equal(b.closed, null);
  });
});

describe('descriptors in reserve (a gateway started with RLIMIT_NOFILE 128)', () => {
  let env;
  const socks = [];
  before(async () => {
    env = await setup({ nofile: 128 });
  });
  after(async () => {
    for (const s of socks) s.destroy();
    await env.teardown();
  });

  it('refuses connections past the reserve with 503, keeps its clients and /healthz answering', async () => {
    const c = await env.connect();
    const ch = `${PREFIX}:fd:eth0`;
    await c.request({ op: 'subscribe', channels: [ch], id: 1 }, 'subscribed');
    // More connections than descriptors, from two addresses (each under
    // its own limit of 256).
    for (let i = 0; i < 160; i++) socks.push(await openIdle(env.gw.port, i % 2 ? '127.0.0.2' : '127.0.0.3'));
    // /healthz is still answered, at once: 503, the gateway being out of
    // descriptors (its own connection lands in the reserve).
    let r;
    await until('/healthz to answer 503', async () => {
      r = await exchange(env.gw.port, { path: '/healthz', upgrade: false });
      r.sock.destroy();
      assert.notEqual(r.why, 'timeout', '/healthz not answered within 5 s');
      return r.status === 503;
    }, 10000);
    assert.equal(header(r.head, 'retry-after'), '10', r.head);
    assert.match(env.gw.stderr, /refusing a connection from 127\.0\.0\.[23]: descriptor \d+ of RLIMIT_NOFILE 128/);
    // The client it had keeps being served.
    await publishSample(env.pub, 'fd', 'eth0', 1);
    await c.waitFor('the sample', () => c.data(ch).length === 1);
    // Connections go: it takes new ones again.
    for (const s of socks.splice(0)) s.destroy();
    await until('/healthz to be 200 again', async () => {
      try {
        return (await httpGet(`${env.gw.base}/healthz`)).status === 200;
      } catch {
        return false;
      }
    }, 10000);
    const d = await env.connect();
    await d.request({ op: 'list', id: 'l' }, 'list');
  });
});

describe('behind a balancer: the PROXY protocol from gateway.trusted_proxies only', () => {
  let env;
  const socks = [];
  before(async () => {
    env = await setup({
      token: TOKEN,
      extra: ['  trusted_proxies: ["127.0.0.3", "10.9.0.0/16"]', '  max_connections_per_address: 2'],
    });
  });
  after(async () => {
    for (const s of socks) s.destroy();
    await env.teardown();
  });

  const path = `/ws?token=${TOKEN}`;

  it('counts a balancer\'s connections against the client its header names (v1 and v2)', async () => {
    const port = env.gw.port;
    for (const prefix of [proxyV1('198.51.100.7', port), proxyV2('198.51.100.7', port)]) {
      const r = await exchange(port, { from: '127.0.0.3', prefix, path });
      socks.push(r.sock);
      assert.equal(r.status, 101, r.head);
    }
    // 198.51.100.7 has 2 now, through the same balancer address.
    const third = await exchange(port, { from: '127.0.0.3', prefix: proxyV1('198.51.100.7', port), path });
    third.sock.destroy();
    assert.equal(third.status, 503, third.head);
    assert.equal(header(third.head, 'retry-after'), '10');
    // Another client behind it is not affected, nor is the balancer's own
    // address (its health checks: PROXY UNKNOWN).
    const other = await exchange(port, { from: '127.0.0.3', prefix: proxyV2('198.51.100.8', port), path });
    socks.push(other.sock);
    assert.equal(other.status, 101, other.head);
    for (let i = 0; i < 3; i++) {
      const h = await exchange(port, { from: '127.0.0.3', prefix: Buffer.from('PROXY UNKNOWN\r\n'), path: '/healthz', upgrade: false });
      h.sock.destroy();
      assert.equal(h.status, 200, h.head);
    }
    assert.match(env.gw.stderr, /refusing a connection from 198\.51\.100\.7: 2 connections/);
  });

  it('throttles wrong tokens by the client its header names', async () => {
    const port = env.gw.port;
    const attempt = async (client, token) => {
      const r = await exchange(port, { from: '127.0.0.3', prefix: proxyV1(client, port), path: `/ws?token=${token}` });
      r.sock.destroy();
      return r.status;
    };
    for (let i = 0; i < 10; i++) assert.equal(await attempt('203.0.113.5', `wrong-${i}`), 401);
    assert.equal(await attempt('203.0.113.5', TOKEN), 429);
    assert.equal(await attempt('203.0.113.6', TOKEN), 101);
  });

  it('reads no header from another address, and wants one from a trusted proxy', async () => {
    const port = env.gw.port;
    // From an address not in trusted_proxies a header is not read (lws
    // skips the line it does not know): each connection counts against
    // the sender, whatever client its header names.
    for (const client of ['198.51.100.97', '198.51.100.98']) {
      const forged = await exchange(port, { from: '127.0.0.2', prefix: proxyV1(client, port), path });
      socks.push(forged.sock);
      assert.equal(forged.status, 101, forged.head);
    }
    const third = await exchange(port, { from: '127.0.0.2', prefix: proxyV1('198.51.100.99', port), path });
    third.sock.destroy();
    assertRefusedAtOnce(third, 'a third connection of 127.0.0.2 naming another client');
    // A trusted proxy's connection without a header is dropped unanswered.
    const bare = await exchange(port, { from: '127.0.0.3', path });
    bare.sock.destroy();
    assert.equal(bare.status, null, bare.head);
    assert.notEqual(bare.why, 'timeout');
    assert.match(env.gw.stderr, /closing a connection from 127\.0\.0\.3 \(gateway\.trusted_proxies\): not a PROXY protocol header/);
  });
});

describe('subscriptions per client address and in all', () => {
  let env;
  before(async () => {
    env = await setup({ maxChannels: 64, extra: ['  max_subscriptions_per_address: 10', '  max_subscriptions: 25'] });
  });
  after(async () => {
    await env.teardown();
  });

  const chans = (tag, n) => Array.from({ length: n }, (_, k) => `${PREFIX}:${tag}${k}`);

  it('refuses a subscribe that takes an address past max_subscriptions_per_address, over its connections', async () => {
    const a1 = await env.connect({ localAddress: '127.0.0.2' });
    const a2 = await env.connect({ localAddress: '127.0.0.2' });
    await a1.request({ op: 'subscribe', channels: chans('a', 6), id: 1 }, 'subscribed');
    const refused = await a2.request({ op: 'subscribe', channels: chans('b', 6), id: 2 }, 'error');
    assert.match(refused.error, /^too many subscriptions from this address: at most 10 .*\(it holds 6\)/);
    // All or nothing: a2 holds nothing of it; 4 more fit.
    await a2.request({ op: 'subscribe', channels: chans('b', 4), id: 3 }, 'subscribed');
    // What one gives back, another may take; a connection that goes gives
    // back all it held.
    await a1.request({ op: 'unsubscribe', channels: chans('a', 2), id: 4 }, 'unsubscribed');
    await a2.request({ op: 'subscribe', channels: chans('c', 2), id: 5 }, 'subscribed');
    a1.close();
    await until('a1 to be gone', async () => (await env.gw.metrics()).ifmon_gateway_connections === 1);
    await a2.request({ op: 'subscribe', channels: chans('d', 4), id: 6 }, 'subscribed');
    // Another address has its own count.
    const b = await env.connect({ localAddress: '127.0.0.3' });
    await b.request({ op: 'subscribe', channels: chans('e', 10), id: 7 }, 'subscribed');
  });

  it('refuses past max_subscriptions over every address', async () => {
    // 10 (127.0.0.2) + 10 (127.0.0.3) held from the test above: 5 left.
    const c = await env.connect({ localAddress: '127.0.0.4' });
    const refused = await c.request({ op: 'subscribe', channels: chans('f', 6), id: 8 }, 'error');
    assert.match(refused.error, /^too many subscriptions: the gateway holds at most 25/);
    await c.request({ op: 'subscribe', channels: chans('f', 5), id: 9 }, 'subscribed');
  });
});

describe('limits per address follow SIGHUP', () => {
  let env;
  const socks = [];
  before(async () => {
    env = await setup({ token: TOKEN });
  });
  after(async () => {
    for (const s of socks) s.destroy();
    await env.teardown();
  });

  it('applies max_connections_per_address and trusted_proxies to what comes next', async () => {
    const port = env.gw.port;
    for (let i = 0; i < 3; i++) socks.push(await openIdle(port, '127.0.0.2'));
    const log = await env.gw.reload({ extra: ['  max_connections_per_address: 3', '  trusted_proxies: [127.0.0.3]'] });
    assert.match(log, /max_connections_per_address 3, max_subscriptions 1000000, max_subscriptions_per_address 16384, 1 trusted proxies/);
    const refused = await exchange(port, { from: '127.0.0.2', path: `/ws?token=${TOKEN}` });
    refused.sock.destroy();
    assertRefusedAtOnce(refused, 'a fourth connection after the reload');
    const proxied = await exchange(port, { from: '127.0.0.3', prefix: proxyV1('198.51.100.1', port), path: `/ws?token=${TOKEN}` });
    socks.push(proxied.sock);
    assert.equal(proxied.status, 101, proxied.head);
  });
});
