// Two gateways behind a real HAProxy (config/haproxy.cfg, ports changed)
// with one Redis: clients land on both, each gets only its channels; when
// one gateway dies its clients reconnect through HAProxy to the other and
// receive data again. HAProxy connects from 127.0.0.3 (`source`), the
// gateways' trusted proxy: its PROXY protocol header (send-proxy) names
// each browser, which the gateways count as itself.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { describe, it, before, after } = require('node:test');
const { setup, connect, freePort, httpGet, publishSample, until, Gateway, TOP, PREFIX } =
  require('./lib');

const CLIENTS = 24;
const CHANNELS = 4;

describe('gateways behind HAProxy', () => {
  let env;
  let gw2;
  let haproxy;
  let front;
  let haproxyLog = '';
  const extra = []; // clients opened outside env.connect()

  const trusted = ['  trusted_proxies: [127.0.0.3]'];

  before(async () => {
    env = await setup({ extra: trusted });
    const dir2 = path.join(env.dir, 'gw2');
    fs.mkdirSync(dir2);
    gw2 = await new Gateway(dir2, { redisPort: env.redis.port, extra: trusted }).start();
    front = await freePort();
    // The example configuration, with this test's ports.
    const cfg = fs.readFileSync(path.join(TOP, 'config', 'haproxy.cfg'), 'utf8')
      .replace(/bind \S+/, `bind 127.0.0.1:${front}`)
      .replace(/maxconn \d+/, 'maxconn 1000') // within this process's file limit
      .replace(/server gw1 \S+/, `server gw1 127.0.0.1:${env.gw.port} source 127.0.0.3`)
      .replace(/server gw2 \S+/, `server gw2 127.0.0.1:${gw2.port} source 127.0.0.3`);
    const cfgPath = path.join(env.dir, 'haproxy.cfg');
    fs.writeFileSync(cfgPath, cfg);
    haproxy = spawn('haproxy', ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout.on('data', (d) => { haproxyLog += d; });
    haproxy.stderr.on('data', (d) => { haproxyLog += d; });
    try {
      await until('haproxy health checks to pass', async () => {
        try {
          return (await httpGet(`http://127.0.0.1:${front}/healthz`)).status === 200;
        } catch {
          return false;
        }
      }, 15000);
    } catch (e) {
      throw new Error(`${e.message}\nhaproxy: ${haproxyLog}`);
    }
    // Both servers in the rotation (rise 2, inter 1s): two connections
    // open at once land on both (leastconn).
    await until('both gateways in the rotation', async () => {
      const probes = [];
      try {
        probes.push(await connect(`ws://127.0.0.1:${front}/ws`));
        probes.push(await connect(`ws://127.0.0.1:${front}/ws`));
        const [a, b] = [await env.gw.metrics(), await gw2.metrics()];
        return a.ifmon_gateway_connections > 0 && b.ifmon_gateway_connections > 0;
      } catch {
        return false;
      } finally {
        for (const p of probes) p.close();
        await until('the probes to close', async () =>
          (await env.gw.metrics()).ifmon_gateway_connections === 0 &&
          (await gw2.metrics()).ifmon_gateway_connections === 0);
      }
    }, 15000, 200);
  });

  after(async () => {
    for (const c of extra) c.close();
    if (haproxy && haproxy.exitCode === null) haproxy.kill('SIGTERM');
    if (gw2) await gw2.stop();
    await env.teardown();
  });

  const channelOf = (i) => `${PREFIX}:lb:eth${i % CHANNELS}`;

  it('sees each browser behind HAProxy as its own address (PROXY protocol)', async () => {
    // A request from 127.0.0.4 through HAProxy for a name that is not the
    // gateways': the gateway that gets it names the browser, not HAProxy
    // (127.0.0.3), in its refusal.
    const status = await new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: front, path: '/', localAddress: '127.0.0.4',
        headers: { Host: 'rebound.example' }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
    });
    assert.equal(status, 421);
    await until('the refusal in a gateway log', () =>
      /refusing a request from \S+ for Host "rebound\.example"/.test(env.gw.stderr + gw2.stderr));
    const line = /refusing a request from (\S+) for Host "rebound\.example"/.exec(env.gw.stderr + gw2.stderr);
    assert.equal(line[1], '127.0.0.4');
  });

  // Subscribe each client to its channel; resolves once its history has
  // come (live data follows it).
  async function subscribeAll(clients) {
    await Promise.all(clients.map(async (c, i) => {
      await c.request({ op: 'subscribe', channels: [channelOf(i)] }, 'subscribed');
      await c.waitFor('history', () => c.history(channelOf(i)).length);
    }));
  }

  it('spreads clients over both gateways, delivers only what each asked, and fails over', async () => {
    const url = `ws://127.0.0.1:${front}/ws`;
    const clients = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await env.connect({ url }));
    await subscribeAll(clients);
    const m1 = await env.gw.metrics();
    const m2 = await gw2.metrics();
    assert.ok(m1.ifmon_gateway_connections > 0, `gateway 1 has no client: ${JSON.stringify(m1)}`);
    assert.ok(m2.ifmon_gateway_connections > 0, `gateway 2 has no client: ${JSON.stringify(m2)}`);
    assert.equal(m1.ifmon_gateway_connections + m2.ifmon_gateway_connections, CLIENTS);

    for (let k = 0; k < CHANNELS; k++) await publishSample(env.pub, 'lb', `eth${k}`, 1);
    await until('every client got its sample', () =>
      clients.every((c, i) => c.data(channelOf(i)).length >= 1), 5000);
    clients.forEach((c, i) => {
      for (let k = 0; k < CHANNELS; k++) {
        const ch = `${PREFIX}:lb:eth${k}`;
        if (ch !== channelOf(i)) assert.equal(c.data(ch).length, 0, `client ${i} got ${ch}`);
      }
    });

    // Gateway 1 dies. Its clients see their socket close and reconnect
    // through HAProxy, as the web page does, and subscribe again.
    const port1 = env.gw.port;
    env.gw.proc.kill('SIGKILL');
    await new Promise((r) => env.gw.proc.once('exit', r));
    env.gw.proc = null;
    // Wait for every one of them: a client whose close is still in flight
    // would look connected and never move.
    await until('the clients of gateway 1 to see their socket close', () =>
      clients.filter((c) => c.closed).length === m1.ifmon_gateway_connections, 10000);
    const again = [];
    for (let i = 0; i < CLIENTS; i++) {
      if (!clients[i].closed) {
        again.push(clients[i]);
        continue;
      }
      let c = null;
      await until(`client ${i} to reconnect`, async () => {
        try {
          c = await connect(url);
          extra.push(c);
          return true;
        } catch {
          return false;
        }
      }, 10000, 200);
      again.push(c);
    }
    await until('all on gateway 2', async () =>
      (await gw2.metrics()).ifmon_gateway_connections === CLIENTS, 10000, 200);
    const moved = again.filter((c, i) => c !== clients[i]);
    assert.ok(moved.length > 0, 'no client was on gateway 1');
    await Promise.all(moved.map(async (c) => {
      const i = again.indexOf(c);
      await c.request({ op: 'subscribe', channels: [channelOf(i)] }, 'subscribed');
      await c.waitFor('history', () => c.history(channelOf(i)).length);
    }));
    for (let k = 0; k < CHANNELS; k++) await publishSample(env.pub, 'lb', `eth${k}`, 2);
    await until('every client got data again', () =>
      again.every((c, i) => c.data(channelOf(i)).some((d) => d.seq === 2)), 5000);
    again.forEach((c, i) => {
      for (let k = 0; k < CHANNELS; k++) {
        const ch = `${PREFIX}:lb:eth${k}`;
        if (ch !== channelOf(i)) assert.equal(c.data(ch).length, 0, `client ${i} got ${ch}`);
      }
    });
    assert.ok(port1 > 0);
    assert.equal(haproxy.exitCode, null, haproxyLog);
  });
});
