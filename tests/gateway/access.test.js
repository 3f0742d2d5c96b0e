// Who may connect: Origin, token, connection limit, path; and the plain
// HTTP side of the port (files, /healthz, /metrics).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { setup, httpGet, rawHttp, until, PREFIX } = require('./lib');

// Until the gateway has exactly n WebSockets open (closed ones are gone).
function connections(env, n) {
  return until(`${n} connections`, async () =>
    (await env.gw.metrics()).ifmon_gateway_connections === n);
}

async function refused(env, options) {
  try {
    const c = await env.connect(options);
    c.close();
  } catch (e) {
    return e.status;
  }
  return 0;
}

describe('gateway with default origin policy', () => {
  let env;
  before(async () => {
    env = await setup({ maxConnections: 3 });
  });
  after(async () => {
    await env.teardown();
  });

  it('accepts a client without Origin header and without subprotocol', async () => {
    const c = await env.connect();
    assert.equal(c.ws.protocol, '');
    c.close();
  });

  it('accepts the subprotocol "ifmon"', async () => {
    const c = await env.connect({ protocols: ['ifmon'] });
    assert.equal(c.ws.protocol, 'ifmon');
    c.close();
  });

  it('accepts the gateway\'s own origin and refuses any other with 403', async () => {
    const port = env.gw.port;
    const c = await env.connect({ origin: `http://127.0.0.1:${port}` });
    c.close();
    assert.equal(await refused(env, { origin: 'http://evil.example' }), 403);
    assert.equal(await refused(env, { origin: `http://127.0.0.1:${port + 1}` }), 403);
    assert.equal(await refused(env, { origin: 'null' }), 403);
    assert.equal(await refused(env, { origin: `ftp://127.0.0.1:${port}` }), 403);
  });

  it('refuses an upgrade on another path with 404', async () => {
    assert.equal(await refused(env, { url: `ws://127.0.0.1:${env.gw.port}/other` }), 404);
  });

  it('refuses connections beyond max_connections with 503', async () => {
    await connections(env, 0); // earlier clients closed
    const held = [await env.connect(), await env.connect(), await env.connect()];
    assert.equal(await refused(env), 503);
    held[0].close();
    await connections(env, 2);
    const again = await env.connect();
    again.close();
    for (const c of held) c.close();
  });

  it('serves /healthz and /metrics in Prometheus text format', async () => {
    const h = await httpGet(`${env.gw.base}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(h.body, 'ok\n');
    const r = await httpGet(`${env.gw.base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/plain/);
    const names = ['connections', 'subscriptions', 'redis_channels', 'messages_in_total',
      'messages_out_total', 'frames_out_total', 'dropped_total', 'redis_reconnects_total', 'redis_up',
      'io_uring'];
    for (const n of names) {
      const full = `ifmon_gateway_${n}`;
      const type = n.endsWith('_total') ? 'counter' : 'gauge';
      assert.match(r.body, new RegExp(`^# HELP ${full} \\S.*$`, 'm'));
      assert.match(r.body, new RegExp(`^# TYPE ${full} ${type}$`, 'm'));
      assert.match(r.body, new RegExp(`^${full} \\d+$`, 'm'));
    }
    // Every line is a comment or "name value" (a histogram's buckets with
    // their le label, its sum a decimal).
    for (const line of r.body.trimEnd().split('\n')) {
      assert.match(line, /^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{le="[^"]+"\})? \d+(\.\d+)?)$/);
    }
    assert.ok(r.body.endsWith('\n'));
    assert.match(r.body, /^ifmon_gateway_redis_up 1$/m);
    // The loop's busy time per turn: cumulative buckets, +Inf the count,
    // and the loop has turned (it served this request).
    const busy = 'ifmon_gateway_loop_busy_seconds';
    assert.match(r.body, new RegExp(`^# TYPE ${busy} histogram$`, 'm'));
    const buckets = [...r.body.matchAll(new RegExp(`^${busy}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))];
    assert.deepEqual(buckets.map((m) => m[1]),
      ['0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '+Inf']);
    const counts = buckets.map((m) => Number(m[2]));
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], `bucket ${i}`);
    const count = Number(new RegExp(`^${busy}_count (\\d+)$`, 'm').exec(r.body)[1]);
    assert.equal(counts[counts.length - 1], count);
    assert.ok(count > 0);
    assert.match(r.body, new RegExp(`^${busy}_sum \\d+\\.\\d{6}$`, 'm'));
  });

  it('counts connections, subscriptions and deliveries in /metrics', async () => {
    await connections(env, 0);
    const before = await env.gw.metrics();
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:m1`, `${PREFIX}:m2:*`] }, 'subscribed');
    await env.pub.command('PUBLISH', `${PREFIX}:m1`, '{"ts":1}');
    await c.waitFor('data', () => c.data(`${PREFIX}:m1`).length);
    const m = await env.gw.metrics();
    assert.equal(m.ifmon_gateway_connections, before.ifmon_gateway_connections + 1);
    assert.equal(m.ifmon_gateway_subscriptions, before.ifmon_gateway_subscriptions + 2);
    assert.ok(m.ifmon_gateway_messages_in_total > before.ifmon_gateway_messages_in_total);
    assert.ok(m.ifmon_gateway_messages_out_total > before.ifmon_gateway_messages_out_total);
    c.close();
  });

  it('answers 404 for files when web_root does not exist', async () => {
    assert.equal((await httpGet(`${env.gw.base}/`)).status, 404);
    assert.equal((await httpGet(`${env.gw.base}/index.html`)).status, 404);
    assert.match(env.gw.stderr, /web_root/);
  });
});

describe('gateway with allowed_origins, a token and a web_root', () => {
  let env;
  let webRoot;
  let webBase;
  before(async () => {
    // web_root inside a folder whose own index.html must never be served.
    webBase = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'ifmon-web-'));
    webRoot = path.join(webBase, 'web');
    fs.mkdirSync(webRoot);
    fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>ifmon</title>\n');
    fs.writeFileSync(path.join(webBase, 'index.html'), 'PARENT-SECRET\n');
    env = await setup({ allowedOrigins: ['https://noc.example.net'], token: 's3cret-token-long', webRoot });
  });
  after(async () => {
    await env.teardown();
    fs.rmSync(webBase, { recursive: true, force: true });
  });

  const url = (env, q = '') => `ws://127.0.0.1:${env.gw.port}/ws${q}`;

  it('requires the token: none or a wrong one is refused with 401', async () => {
    assert.equal(await refused(env, { url: url(env) }), 401);
    assert.equal(await refused(env, { url: url(env, '?token=wrong') }), 401);
    assert.equal(await refused(env, { url: url(env, '?token=s3cret-token-lon') }), 401);
    assert.equal(await refused(env, { url: url(env, '?token=s3cret-token-long2') }), 401);
    assert.equal(await refused(env, { url: url(env), headers: { Authorization: 'Bearer nope' } }), 401);
    assert.equal(await refused(env, { url: url(env), headers: { Authorization: 'Basic s3cret-token-long' } }), 401);
  });

  it('accepts the token as ?token= or as a Bearer header', async () => {
    const a = await env.connect({ url: url(env, '?token=s3cret-token-long') });
    const b = await env.connect({ url: url(env), headers: { Authorization: 'Bearer s3cret-token-long' } });
    await a.request({ op: 'list', id: 1 }, 'list');
    await b.request({ op: 'list', id: 2 }, 'list');
    a.close();
    b.close();
  });

  it('accepts only the listed origins', async () => {
    const ok = await env.connect({ url: url(env, '?token=s3cret-token-long'), origin: 'https://noc.example.net' });
    ok.close();
    assert.equal(await refused(env, { url: url(env, '?token=s3cret-token-long'), origin: `http://127.0.0.1:${env.gw.port}` }), 403);
    assert.equal(await refused(env, { url: url(env, '?token=s3cret-token-long'), origin: 'https://evil.example' }), 403);
  });

  it('never serves a file outside web_root, however the request line is written', async () => {
    // Raw request lines, sent as they are (Node's URL parser would
    // normalise "/../" away before sending): lws resolves "/../" in a full
    // HTTP/1.1 request, but a line ending right after "/.." once reached
    // web_root's parent. Each must get an answer, a 404 or what resolving
    // the path inside web_root gives (its index.html), never the parent's
    // file and never silence (a crash would look like an empty reply), and
    // the gateway must go on serving.
    const lines = [
      ['GET /..\r\n\r\n', 404],
      ['GET /..\n\n', 404],
      ['GET /%2e%2e\r\n\r\n', 404],
      ['GET ..\r\n\r\n', 403],
      ['GET /%2E%2E/\r\n\r\n', 200], // "/../" resolved to "/": web_root's index.html
      ['GET /.. HTTP/1.1\r\nHost: localhost\r\n\r\n', 200],
      ['GET /../index.html HTTP/1.1\r\nHost: localhost\r\n\r\n', 200],
      ['GET /%2e%2e/index.html HTTP/1.1\r\nHost: localhost\r\n\r\n', 200],
      ['GET /..%2findex.html HTTP/1.1\r\nHost: localhost\r\n\r\n', 200],
      ['GET /x/../../index.html HTTP/1.1\r\nHost: localhost\r\n\r\n', 200],
      ['GET /../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n', 404],
      ['GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n', 404],
      ['GET /%2e%2e%2f%2e%2e%2fetc%2fpasswd HTTP/1.1\r\nHost: localhost\r\n\r\n', 404],
      ['GET /../../etc/passwd HTTP/1.0\r\n\r\n', 404],
    ];
    for (const [line, status] of lines) {
      const what = JSON.stringify(line);
      const r = await rawHttp(env.gw.port, line);
      assert.notEqual(r.status, null, `${what}: no status line came back:\n${r.text}`);
      assert.equal(r.status, status, `${what}: status ${r.status}:\n${r.text}`);
      assert.ok(!r.text.includes('PARENT-SECRET'), `${what} served the parent's file:\n${r.text}`);
      assert.ok(!r.text.includes('root:'), `${what} served /etc/passwd:\n${r.text}`);
      if (r.status === 200) assert.match(r.text, /<title>ifmon<\/title>/, `${what}: not web_root's index.html`);
      assert.equal((await httpGet(`${env.gw.base}/healthz`)).status, 200, `${what}: /healthz afterwards`);
    }
    assert.equal((await httpGet(`${env.gw.base}/index.html`)).status, 200);
  });

  it('serves web_root at / with index.html as default', async () => {
    const r = await httpGet(`${env.gw.base}/`);
    assert.equal(r.status, 200);
    assert.match(r.body, /<title>ifmon<\/title>/);
    assert.equal((await httpGet(`${env.gw.base}/missing.js`)).status, 404);
    assert.equal((await httpGet(`${env.gw.base}/healthz`)).status, 200);
  });
});
