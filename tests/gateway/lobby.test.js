// The lobby (gateway/lobby.h): an accepted connection waits, outside
// libwebsockets, until its first request head is in. What a client sees
// does not change (a head sent a byte at a time, or behind a PROXY header
// in pieces, is answered as any other; a head over the limits is answered
// 414 as soon as it is over them); a connection that sends nothing is
// counted against its address while it waits, and closed after 10 s; one
// that ends in the lobby is forgotten at once.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const { describe, it, before, after } = require('node:test');
const { setup, until, publishSample, PREFIX } = require('./lib');

const WAIT_MS = 10000; // LOBBY_WAIT_MS

// A TCP connection from `from`; resolves once connected. Collects what
// the gateway sends (sock.got) and when it closed (sock.closedAt).
function open(port, from = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(sock));
    sock.setNoDelay(true);
    sock.got = Buffer.alloc(0);
    sock.on('data', (d) => {
      sock.got = Buffer.concat([sock.got, d]);
    });
    sock.on('close', () => {
      sock.closedAt = Date.now();
    });
    sock.on('error', (e) => (sock.connecting ? reject(e) : null));
  });
}

function upgradeHead(port, extra = []) {
  return [
    'GET /ws HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13',
    ...extra, '', '',
  ].join('\r\n');
}

// A masked client text frame of a short payload (RFC 6455 5.2).
function frame(text) {
  const data = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(data.map((b, i) => b ^ mask[i & 3]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | data.length]), mask, body]);
}

// Writes bytes one at a time, each in a segment of its own (the next once
// the previous left this process), then resolves.
async function dribble(sock, bytes) {
  for (const b of Buffer.from(bytes)) {
    await new Promise((resolve) => sock.write(Buffer.from([b]), resolve));
  }
}

const status = (sock) => {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(sock.got.toString('latin1'));
  return m && Number(m[1]);
};

describe('gateway lobby', () => {
  let env;
  before(async () => {
    env = await setup({
      extra: ['  trusted_proxies: ["127.0.0.3"]', '  max_connections_per_address: 3'],
    });
  });
  after(async () => {
    await env.teardown();
  });

  it('answers an upgrade whose head comes a byte at a time, and the frame that follows it', async () => {
    const s = await open(env.gw.port);
    const waiting = async () => (await env.gw.metrics()).ifmon_gateway_lobby_connections;
    await until('the connection in the lobby', async () => (await waiting()) === 1, 2000, 20);
    await dribble(s, upgradeHead(env.gw.port).slice(0, 40));
    // Not in yet: it still waits.
    assert.equal(await waiting(), 1);
    assert.equal(status(s), null);
    await dribble(s, upgradeHead(env.gw.port).slice(40));
    await until('101', () => status(s) === 101, 5000, 10);
    assert.equal(await waiting(), 0);
    s.write(frame(JSON.stringify({ op: 'subscribe', channels: [`${PREFIX}:lb:eth0`], id: 'l' })));
    await until('subscribed', () => s.got.toString('latin1').includes('"op":"subscribed"'), 5000, 10);
    await publishSample(env.pub, 'lb', 'eth0', 7);
    await until('the sample', () => s.got.toString('latin1').includes('"seq":7'), 5000, 10);
    s.destroy();
  });

  it('reads a PROXY header and the head behind it, both in pieces, from a trusted balancer', async () => {
    const s = await open(env.gw.port, '127.0.0.3');
    const bytes = `PROXY TCP4 198.51.100.7 127.0.0.1 40000 ${env.gw.port}\r\n` + upgradeHead(env.gw.port);
    await dribble(s, bytes.slice(0, 20));
    await dribble(s, bytes.slice(20, 70));
    await dribble(s, bytes.slice(70));
    await until('101', () => status(s) === 101, 5000, 10);
    s.destroy();
  });

  it('answers 414 as soon as a request line is over the limit, without waiting for its end', async () => {
    const s = await open(env.gw.port);
    s.write(`GET /${'a'.repeat(3000)}`); // no end of line: the head never ends
    await until('414', () => status(s) === 414, 5000, 10);
    s.destroy();
  });

  it('counts a connection that sends nothing against its address, closes it after 10 s, and forgets one that ends at once', async () => {
    const from = '127.0.0.5';
    const idle = await open(env.gw.port, from);
    const t0 = Date.now();
    const gone = await open(env.gw.port, from);
    const waiting = async () => (await env.gw.metrics()).ifmon_gateway_lobby_connections;
    await until('both in the lobby', async () => (await waiting()) === 2, 2000, 20);
    gone.destroy();
    // Its end is seen at once: the address has room for two more again.
    await until('the one that ended forgotten', async () => (await waiting()) === 1, 2000, 20);
    const [a, b] = await Promise.all([open(env.gw.port, from), open(env.gw.port, from)]);
    a.write(upgradeHead(env.gw.port));
    await until('101 for the second', () => status(a) === 101, 5000, 10);
    // The address is full now (3): the next is refused at once.
    const c = await open(env.gw.port, from);
    await until('503', () => status(c) === 503, 5000, 10);
    const m = await env.gw.metrics();
    await until('the idle one closed', () => idle.closedAt, WAIT_MS + 5000, 50);
    const waited = idle.closedAt - t0;
    assert.ok(waited >= WAIT_MS - 100 && waited < WAIT_MS + 3000, `closed after ${waited} ms`);
    assert.equal(idle.got.length, 0, 'closed without an answer');
    assert.ok(m.ifmon_gateway_lobby_connections >= 2, JSON.stringify(m));
    await until('b closed too, and counted', async () => {
      const x = await env.gw.metrics();
      return b.closedAt && x.ifmon_gateway_lobby_expired_total >= m.ifmon_gateway_lobby_expired_total + 2 &&
        x.ifmon_gateway_lobby_connections === 0;
    }, WAIT_MS + 5000, 100);
    a.destroy();
    c.destroy();
  });
});
