// Redis goes away and comes back: clients keep their WebSockets and data
// resumes without them doing anything; /healthz follows the subscriber.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, httpGet, publishSample, until, PREFIX } = require('./lib');

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
    // A subscribe while Redis is away waits for it (at most 5 s): its
    // "subscribed" comes once Redis is back and has confirmed it.
    const c = await env.connect();
    c.send({ op: 'subscribe', channels: [`${PREFIX}:rr3`], id: 'while-down' });

    await env.redis.start(); // same port
    env.pub = await env.redis.client();
    await until('healthz 200', async () => (await httpGet(`${env.gw.base}/healthz`)).status === 200, 10000);
    await c.reply('subscribed', 'while-down', 6000);
    await env.pub.command('PUBLISH', `${PREFIX}:rr3`, '{"device":"rr3","status":"up","ts":1}');
    await c.waitFor('the message published right after', () => c.data(`${PREFIX}:rr3`).length === 1);
    // The gateway subscribes again by itself: wait until Redis has its
    // subscriptions back (rr1:eth0, and the patterns rr1:* and rr2).
    await until('the resubscription', async () => {
      const numsub = await env.pub.command('PUBSUB', 'NUMSUB', `${PREFIX}:rr1:eth0`, `${PREFIX}:rr2`);
      return numsub[1] === 1 && numsub[3] === 1 && (await env.pub.command('PUBSUB', 'NUMPAT')) >= 1;
    }, 10000, 50);
    const seq = 2;
    publishSample(env.pub, 'rr1', 'eth0', seq);
    await env.pub.command('PUBLISH', `${PREFIX}:rr2`, `{"device":"rr2","status":"up","ts":${seq}}`);
    await a.waitFor('delivery to resume', () => a.data(`${PREFIX}:rr1:eth0`).length > 1);
    await b.waitFor('delivery to resume', () =>
      b.data(`${PREFIX}:rr1:eth0`).length > 1 && b.data(`${PREFIX}:rr2`).length > 0);
    assert.equal(a.closed, null);
    assert.equal(b.closed, null);
    const m = await env.gw.metrics();
    assert.equal(m.ifmon_gateway_redis_up, 1);
    assert.ok(m.ifmon_gateway_redis_reconnects_total >= 1);
    assert.equal(m.ifmon_gateway_redis_channels, 4);
    // No duplicates after the restart either.
    const seqs = a.data(`${PREFIX}:rr1:eth0`).map((d) => d.seq);
    assert.equal(new Set(seqs).size, seqs.length);
    // New subscriptions work too, with history.
    const d = await env.connect();
    await d.request({ op: 'subscribe', channels: [`${PREFIX}:rr1:eth0`] }, 'subscribed');
    const h = await d.waitFor('history', () => d.history(`${PREFIX}:rr1:eth0`)[0]);
    assert.ok(h.history.length >= 1);
  });

  it('refuses a subscribe that Redis does not confirm within 5 s, and holds nothing of it', async () => {
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:held1`], id: 'up' }, 'subscribed');
    const before = (await env.gw.metrics()).ifmon_gateway_subscriptions;
    env.pub.close();
    await env.redis.kill('SIGKILL');
    await until('healthz 503', async () => (await httpGet(`${env.gw.base}/healthz`)).status === 503);
    const t0 = Date.now();
    // held1, held before, stays held; what the request made goes.
    c.send({ op: 'subscribe', channels: [`${PREFIX}:held1`, `${PREFIX}:down1`, `${PREFIX}:down2:*`], id: 'down' });
    c.send({ op: 'unsubscribe', channels: [], id: 'behind' }); // answered in turn, after it
    // At most 16 subscribes wait per connection: 15 more wait, one more is refused.
    for (let k = 0; k < 16; k++) c.send({ op: 'subscribe', channels: [`${PREFIX}:more${k}`], id: `more-${k}` });
    const e = await c.reply('error', 'down', 10000);
    const waited = Date.now() - t0;
    assert.match(e.error, /^redis unavailable/);
    assert.ok(waited >= 4500 && waited < 8000, `refused after ${waited} ms`);
    await c.reply('unsubscribed', 'behind');
    for (let k = 0; k < 15; k++) assert.match((await c.reply('error', `more-${k}`)).error, /^redis unavailable/);
    assert.match((await c.reply('error', 'more-15')).error, /^too many subscribe requests waiting for redis/);
    const order = c.messages.filter((m) => /^(down|behind|more-)/.test(m.id)).map((m) => m.id);
    assert.deepEqual(order, ['down', 'behind', ...Array.from({ length: 16 }, (_, k) => `more-${k}`)]);
    assert.equal((await env.gw.metrics()).ifmon_gateway_subscriptions, before);
    assert.equal(c.closed, null);
    await env.redis.start();
    env.pub = await env.redis.client();
    await until('healthz 200', async () => (await httpGet(`${env.gw.base}/healthz`)).status === 200, 10000);
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
