// SIGHUP: the gateway reads its file again and applies what can change
// live (tokens, allowed origins, limits), closes with 1008 the connections
// whose token no longer lets them hold what they hold, keeps (and says so)
// what needs a restart, and keeps everything when the file is invalid.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, connect, httpGet, publishSample, PREFIX } = require('./lib');

function closed(c) {
  return new Promise((resolve) => (c.closed ? resolve(c.closed) : c.ws.once('close', () => resolve(c.closed))));
}

describe('gateway on SIGHUP', () => {
  let env;
  before(async () => {
    env = await setup({
      token: 'full-token-00000001',
      tokens: [{ token: 'tokyo-token-0000001', channels: [`${PREFIX}:tokyo-*`] }],
      maxChannels: 4,
      maxConnections: 20,
    });
  });
  after(async () => {
    await env.teardown();
  });

  const url = (t) => `ws://127.0.0.1:${env.gw.port}/ws?token=${encodeURIComponent(t)}`;
  const refused = async (options) => {
    try {
      (await connect(options.url, options)).close();
    } catch (e) {
      return e.status;
    }
    return 0;
  };

  it('applies new tokens: a revoked token is closed with 1008, a narrowed one only if it holds too much', async () => {
    const full = await env.connect({ url: url('full-token-00000001') });
    const narrow = await env.connect({ url: url('tokyo-token-0000001') });
    const broad = await env.connect({ url: url('tokyo-token-0000001') });
    await full.request({ op: 'subscribe', channels: [`${PREFIX}:osaka-core1:xe-0/0/0`] }, 'subscribed');
    await narrow.request({ op: 'subscribe', channels: [`${PREFIX}:tokyo-edge1:ge-0/0/0`] }, 'subscribed');
    await narrow.waitFor('history', () => narrow.history(`${PREFIX}:tokyo-edge1:ge-0/0/0`).length);
    await broad.request({ op: 'subscribe', channels: [`${PREFIX}:tokyo-*`] }, 'subscribed');

    const log = await env.gw.reload({
      token: 'full-token-00000002',
      tokens: [{ token: 'tokyo-token-0000001', channels: [`${PREFIX}:tokyo-edge1:*`] }],
    });
    assert.match(log, /SIGHUP: applied .*2 connections closed/);
    const [a, b] = await Promise.all([closed(full), closed(broad)]);
    assert.deepEqual(a, { code: 1008, reason: 'token no longer valid' });
    assert.deepEqual(b, { code: 1008, reason: 'token no longer permits a channel it holds' });
    assert.equal(narrow.closed, null);

    // The connection kept goes on, under its new grant.
    await publishSample(env.pub, 'tokyo-edge1', 'ge-0/0/0', 1);
    await narrow.waitFor('data after the reload', () => narrow.data(`${PREFIX}:tokyo-edge1:ge-0/0/0`).length === 1);
    const e = await narrow.request({ op: 'subscribe', channels: [`${PREFIX}:tokyo-edge2`], id: 'x' }, 'error');
    assert.match(e.error, /not permitted/);
    // New connections: the old token is refused, the new one accepted.
    assert.equal(await refused({ url: url('full-token-00000001') }), 401);
    const again = await env.connect({ url: url('full-token-00000002') });
    await again.request({ op: 'list', id: 1 }, 'list');
    assert.equal((await httpGet(`${env.gw.base}/healthz`)).status, 200);
  });

  it('applies limits and allowed origins to what comes next', async () => {
    const c = await env.connect({ url: url('full-token-00000002') });
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:l1`, `${PREFIX}:l2`, `${PREFIX}:l3`] }, 'subscribed');
    const origin = 'https://noc.example.net';
    assert.equal(await refused({ url: url('full-token-00000002'), origin }), 403);

    await env.gw.reload({ maxChannels: 3, maxFrame: 256, allowedOrigins: [origin] });
    const e = await c.request({ op: 'subscribe', channels: [`${PREFIX}:l4`], id: 'max' }, 'error');
    assert.match(e.error, /too many channels: a connection may hold at most 3/);
    c.send(JSON.stringify({ op: 'list', pad: 'x'.repeat(300) }));
    assert.match((await c.reply('error')).error, /larger than max_frame \(256 bytes\)/);
    assert.equal(await refused({ url: url('full-token-00000002'), origin }), 0);
    assert.equal(await refused({ url: url('full-token-00000002'), origin: 'https://other.example' }), 403);
    assert.equal(c.closed, null, 'a lower limit does not close what is already there');

    // max_connections below what is open: the open ones stay, new ones
    // are refused.
    await env.gw.reload({ maxConnections: 1 });
    assert.equal(await refused({ url: url('full-token-00000002') }), 503);
    assert.equal(c.closed, null);
    await env.gw.reload({ maxConnections: 20, maxChannels: 4, maxFrame: 65536, allowedOrigins: [] });
    assert.equal(await refused({ url: url('full-token-00000002') }), 0);
  });

  it('keeps the listen address, web_root and redis settings until a restart, and says so once', async () => {
    const c = await env.connect({ url: url('full-token-00000002') });
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:keep1`] }, 'subscribed');
    const text = env.gw.configText()
      .replace(`listen: "127.0.0.1:${env.gw.port}"`, `listen: "127.0.0.1:${env.gw.port + 1}"`)
      .replace(`port: ${env.redis.port}`, `port: ${env.redis.port + 1}`)
      .replace(/web_root: .*/, 'web_root: "/nowhere"')
      .replace(`prefix: ${PREFIX}`, 'prefix: other')
      .replace(new RegExp(`"${PREFIX}:`, 'g'), '"other:'); // the tokens' channels follow the prefix
    const log = await env.gw.reload({}, text);
    const restart = log.split('\n').filter((l) => /restart/.test(l));
    assert.equal(restart.length, 1, log);
    for (const what of ['redis host/port', 'redis.prefix', 'gateway.listen', 'gateway.web_root']) {
      assert.ok(restart[0].includes(what), `${what} not named in: ${restart[0]}`);
    }
    // Still the same port, Redis and prefix.
    assert.equal((await httpGet(`${env.gw.base}/healthz`)).status, 200);
    await env.pub.command('PUBLISH', `${PREFIX}:keep1`, '{"device":"keep1","status":"up","ts":1}');
    await c.waitFor('data on the old prefix', () => c.data(`${PREFIX}:keep1`).length === 1);
    const d = await env.connect({ url: url('full-token-00000002') });
    await d.request({ op: 'subscribe', channels: [`${PREFIX}:keep2`], id: 1 }, 'subscribed');
    await env.gw.reload({});
  });

  it('keeps the current settings when the file is invalid, with every problem logged', async () => {
    const c = await env.connect({ url: url('full-token-00000002') });
    const text = env.gw.configText()
      .replace('token: "full-token-00000002"', 'token: "full-token-00000003"')
      .replace('max_channels: 4', 'max_channels: 0')
      .concat('  bogus: 1\n');
    const log = await env.gw.reload({}, text);
    assert.match(log, /gateway\.yml:\d+:\d+: .*max_channels/);
    assert.match(log, /gateway\.yml:\d+:\d+: .*bogus/);
    assert.match(log, /SIGHUP: \S+ is invalid \(problems above\); keeping the current settings/);
    assert.equal(c.closed, null);
    assert.equal(await refused({ url: url('full-token-00000003') }), 401);
    assert.equal(await refused({ url: url('full-token-00000002') }), 0);
    // A problem in devices: is the collector's: the reload goes through.
    const withDevice = env.gw.configText().replace('token: "full-token-00000002"', 'token: "full-token-00000003"')
      .concat('devices:\n  - {name: "bad name", adress: 192.0.2.1}\n');
    const log2 = await env.gw.reload({}, withDevice);
    assert.match(log2, /SIGHUP: applied/);
    assert.ok(!/bad name|adress/.test(log2), log2);
    const e = await closed(c);
    assert.equal(e.code, 1008);
    assert.equal(await refused({ url: url('full-token-00000003') }), 0);
  });
});
