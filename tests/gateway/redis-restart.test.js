// Redis goes away and comes back: clients keep their WebSockets and data
// resumes without them doing anything; /healthz follows the subscriber.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, httpGet, publishSample, sleep, until, PREFIX } = require('./lib');

describe('gateway across a Redis restart', () => {
  let env;
  before(async () => {
    env = await setup();
  });
  after(async () => {
    await env.teardown();
  });

  it('answers /healthz 503 while Redis is down, resubscribes, and delivery resumes on the same connections', async () => {
    const a = await env.connect();
    const b = await env.connect();
    await a.request({ op: 'subscribe', channels: [`${PREFIX}:rr1:eth0`] }, 'subscribed');
    await b.request({ op: 'subscribe', channels: [`${PREFIX}:rr1:*`, `${PREFIX}:rr2`] }, 'subscribed');
    await a.waitFor('history', () => a.history(`${PREFIX}:rr1:eth0`).length);
    await sleep(100);
    await publishSample(env.pub, 'rr1', 'eth0', 1);
    await a.waitFor('first sample', () => a.data(`${PREFIX}:rr1:eth0`).length === 1);
    await b.waitFor('first sample', () => b.data(`${PREFIX}:rr1:eth0`).length === 1);
    assert.equal((await httpGet(`${env.gw.base}/healthz`)).status, 200);

    env.pub.close();
    await env.redis.kill('SIGKILL');
    await until('healthz 503', async () => (await httpGet(`${env.gw.base}/healthz`)).status === 503);
    const down = await env.gw.metrics();
    assert.equal(down.ifmon_gateway_redis_up, 0);
    // Requests while Redis is away get an answer, not silence.
    const e = await a.request({ op: 'list', id: 'down' }, 'error');
    assert.match(e.error, /redis/);
    await sleep(1000);

    await env.redis.start(); // same port
    env.pub = await env.redis.client();
    await until('healthz 200', async () => (await httpGet(`${env.gw.base}/healthz`)).status === 200, 10000);
    // Publish until the resubscription is in place (backoff at most 0.5 s).
    let seq = 1;
    await until('delivery to resume', async () => {
      seq++;
      publishSample(env.pub, 'rr1', 'eth0', seq);
      await env.pub.command('PUBLISH', `${PREFIX}:rr2`, `{"device":"rr2","status":"up","ts":${seq}}`);
      return a.data(`${PREFIX}:rr1:eth0`).length > 1 && b.data(`${PREFIX}:rr1:eth0`).length > 1 &&
        b.data(`${PREFIX}:rr2`).length > 0;
    }, 10000, 100);
    assert.equal(a.closed, null);
    assert.equal(b.closed, null);
    const m = await env.gw.metrics();
    assert.equal(m.ifmon_gateway_redis_up, 1);
    assert.ok(m.ifmon_gateway_redis_reconnects_total >= 1);
    assert.equal(m.ifmon_gateway_redis_channels, 3);
    // No duplicates after the restart either.
    const seqs = a.data(`${PREFIX}:rr1:eth0`).map((d) => d.seq);
    assert.equal(new Set(seqs).size, seqs.length);
    // New subscriptions work too, with history.
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:rr1:eth0`] }, 'subscribed');
    const h = await c.waitFor('history', () => c.history(`${PREFIX}:rr1:eth0`)[0]);
    assert.ok(h.history.length >= 1);
  });

  it('starts with Redis down and connects when it appears', async () => {
    // A second gateway on the same Redis, started while Redis is stopped.
    const { Gateway } = require('./lib');
    await env.redis.kill('SIGKILL');
    env.pub.close();
    const dir2 = require('node:path').join(env.dir, 'second');
    require('node:fs').mkdirSync(dir2);
    const gw2 = await new Gateway(dir2, { redisPort: env.redis.port, expectRedisDown: true }).start();
    try {
      assert.equal((await httpGet(`${gw2.base}/healthz`)).status, 503);
      await env.redis.start();
      env.pub = await env.redis.client();
      await until('healthz 200', async () => (await httpGet(`${gw2.base}/healthz`)).status === 200, 10000);
    } finally {
      await gw2.stop();
    }
  });
});

describe('gateway with a Redis password', () => {
  let env;
  before(async () => {
    env = await setup({ redisPassword: 'r3dis pass' });
  });
  after(async () => {
    await env.teardown();
  });

  it('authenticates both connections: history, live data and list work', async () => {
    await env.pub.command('SET', `${PREFIX}:inventory`, '{"version":1,"sites":[]}');
    publishSample(env.pub, 'pw1', 'eth0', 1);
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:pw1:eth0`] }, 'subscribed');
    const h = await c.waitFor('history', () => c.history(`${PREFIX}:pw1:eth0`)[0]);
    assert.deepEqual(h.history.map((s) => s.seq), [1]);
    publishSample(env.pub, 'pw1', 'eth0', 2);
    await c.waitFor('live', () => c.data(`${PREFIX}:pw1:eth0`).length === 1);
    const l = await c.request({ op: 'list', id: 1 }, 'list');
    assert.equal(l.inventory.version, 1);
  });
});
