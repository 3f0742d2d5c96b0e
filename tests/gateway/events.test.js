// Alert events through the gateway (docs/PROTOCOL.md, part 1 "Events",
// part 2 "events"): the `events` op answers the active alerts and the
// recent events as the collector stored them, filtered to the devices a
// token may see, from a copy read once per change; events channels are
// permitted with their device and carry no history; "history": false
// subscribes to live data only; `list` always names the prefix.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, publishSample, fence, inventory, redisInfo, until, changeInventory, PREFIX } = require('./lib');

const ADMIN = 'admin-secret-token-03';
const TOKYO = 'tokyo-noc-token-01';
const TOKENS = [{ token: TOKYO, channels: [`${PREFIX}:tokyo-*`] }];
const LIST = `${PREFIX}:events`;
const ALERTS = `${PREFIX}:alerts`;

let seq = 0;

// One event as the collector writes it; `threshold` keeps its ".0" so that
// a reply carrying it verbatim can be told from one re-serialised.
function event(device, extra = {}) {
  seq++;
  const ts = 1764052800 + seq / 1000;
  return `{"device":"${device}","site":"s","interface":"ge-0/0/0","alias":"","kind":"utilization",` +
    `"state":"raised","value":93.4,"threshold":90.0,"unit":"%","for":10.0,"direction":"in","error":null,` +
    `"since":${ts},"ts":${ts},"seq":${seq},"text":"${device} ge-0/0/0: utilization in 93.4%"` +
    `${Object.entries(extra).map(([k, v]) => `,"${k}":${JSON.stringify(v)}`).join('')}}`;
}

const deviceOf = (text) => JSON.parse(text).device;

// What the collector does for each event: append it to the list, then
// publish it (the alerts key first when given). Resolves once Redis has
// done all of it.
async function collectorWrites(pub, events, alerts = null) {
  const done = [];
  for (const e of events) done.push(pub.command('RPUSH', LIST, e));
  if (alerts) done.push(pub.command('SET', ALERTS, JSON.stringify({ ts: 1764052800, alerts: [] }).replace('[]', `[${alerts.join(',')}]`)));
  for (const e of events) done.push(pub.command('PUBLISH', `${PREFIX}:events:${deviceOf(e)}`, e));
  await Promise.all(done);
}

describe('events through the gateway', () => {
  let env;
  const url = (t) => `ws://127.0.0.1:${env.gw.port}/ws?token=${encodeURIComponent(t)}`;
  // A client of token t that has heard every event published before the
  // call returns (and so has the gateway: it marked its copy stale).
  async function watcher(t = ADMIN) {
    const c = await env.connect({ url: url(t) });
    const ch = t === ADMIN ? `${PREFIX}:events:*` : `${PREFIX}:events:tokyo-*`;
    await c.request({ op: 'subscribe', channels: [ch], id: 'watch' }, 'subscribed');
    return c;
  }
  // Replace what Redis holds (the list and the alerts) and wait until a
  // watcher has the marker event that tells the gateway.
  async function reset(recent, active) {
    const w = await watcher();
    await env.pub.command('DEL', LIST, ALERTS);
    const marker = event('reset-marker');
    await env.pub.command('PUBLISH', `${PREFIX}:events:reset-marker`, marker);
    await w.waitFor('the reset marker', () => w.data(`${PREFIX}:events:reset-marker`).length > 0);
    if (recent.length || active) {
      await collectorWrites(env.pub, recent, active);
      const last = JSON.parse(recent[recent.length - 1]).seq;
      await w.waitFor('the events written', (ms) => ms.some((m) => m.data && m.data.seq === last));
    }
    w.close();
  }

  before(async () => {
    env = await setup({ token: ADMIN, tokens: TOKENS });
  });
  after(async () => {
    await env.teardown();
  });

  it('answers events with empty arrays when Redis has none', async () => {
    const c = await env.connect({ url: url(ADMIN) });
    const r = await c.request({ op: 'events', id: 1 }, 'events');
    assert.deepEqual(r.active, []);
    assert.deepEqual(r.recent, []);
    assert.equal(r.id, 1);
  });

  it('answers events with the active alerts and the recent events as stored, oldest first', async () => {
    const recent = [event('tokyo-edge1'), event('paris-core1'), event('tokyo-edge2', { note: 'x' })];
    const active = [recent[0], recent[1]];
    await reset(recent, active);
    const c = await env.connect({ url: url(ADMIN) });
    const raw = [];
    c.ws.on('message', (d) => raw.push(d.toString()));
    const r = await c.request({ op: 'events', id: { k: [2] } }, 'events');
    assert.deepEqual(r.recent, recent.map((e) => JSON.parse(e)));
    assert.deepEqual(r.active, active.map((e) => JSON.parse(e)));
    assert.deepEqual(r.id, { k: [2] });
    // Each element embedded as the collector wrote it.
    const text = raw.find((t) => t.startsWith('{"op":"events"'));
    assert.equal(text, `{"op":"events","active":[${active.join(',')}],"recent":[${recent.join(',')}],"id":{"k":[2]}}`);
  });

  it('shows a restricted token the events of its devices only', async () => {
    const recent = [event('tokyo-edge1'), event('paris-core1'), event('tokyo-edge2'), event('paris-core2')];
    await reset(recent, [recent[1], recent[2]]);
    const t = await env.connect({ url: url(TOKYO) });
    const r = await t.request({ op: 'events', id: 't' }, 'events');
    assert.deepEqual(r.recent.map((e) => e.device), ['tokyo-edge1', 'tokyo-edge2']);
    assert.deepEqual(r.active.map((e) => e.device), ['tokyo-edge2']);
    const a = await env.connect({ url: url(ADMIN) });
    const all = await a.request({ op: 'events', id: 'a' }, 'events');
    assert.equal(all.recent.length, 4);
    assert.equal(all.active.length, 2);
  });

  it('permits an events channel with its device, and a pattern only over devices the token sees', async () => {
    const t = await env.connect({ url: url(TOKYO) });
    for (const ch of [`${PREFIX}:events:tokyo-edge1`, `${PREFIX}:events:tokyo-*`]) {
      const r = await t.request({ op: 'subscribe', channels: [ch], id: ch }, 'subscribed');
      assert.deepEqual(r.channels, [ch]);
    }
    for (const ch of [`${PREFIX}:events:paris-core1`, `${PREFIX}:events:*`, `${PREFIX}:events:tokyo*`, `${PREFIX}:e*`]) {
      const e = await t.request({ op: 'subscribe', channels: [ch], id: ch }, 'error');
      assert.equal(e.error, `not permitted for this token: ${ch}`);
    }
    const a = await env.connect({ url: url(ADMIN) });
    await a.request({ op: 'subscribe', channels: [`${PREFIX}:events:*`], id: 'all' }, 'subscribed');
    // Live: the restricted client gets tokyo's events, never paris'.
    const p = event('paris-core1');
    const k = event('tokyo-edge1');
    await collectorWrites(env.pub, [p, k]);
    await a.waitFor('both events', () => a.data(`${PREFIX}:events:tokyo-edge1`).length === 1);
    await fence(env.pub, [t]);
    assert.equal(t.data(`${PREFIX}:events:paris-core1`).length, 0);
    assert.deepEqual(t.data(`${PREFIX}:events:tokyo-edge1`), [JSON.parse(k)]); // once, however many subscriptions match
  });

  it('sends no history for events channels', async () => {
    // A list where a wrong reading would look (history:events:...).
    await env.pub.command('RPUSH', `${PREFIX}:history:events:tokyo-edge1`, event('tokyo-edge1'));
    const before = (await redisInfo(env.pub, 'commandstats')).cmdstat_lrange || '';
    const c = await env.connect({ url: url(ADMIN) });
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:events:tokyo-edge1`, `${PREFIX}:events:*`], id: 1 }, 'subscribed');
    const e = event('tokyo-edge1');
    await collectorWrites(env.pub, [e]);
    await c.waitFor('the live event', () => c.data(`${PREFIX}:events:tokyo-edge1`).length === 1);
    await fence(env.pub, [c]);
    assert.deepEqual(c.messages.filter((m) => m.history || m.op === 'history_truncated'), []);
    const afterStats = (await redisInfo(env.pub, 'commandstats')).cmdstat_lrange || '';
    assert.equal(afterStats, before, 'no LRANGE for an events subscription');
  });

  it('misses no event when a client subscribes to the events channels first, then asks', async () => {
    const N = 200;
    const c = await env.connect({ url: url(ADMIN) });
    const published = [];
    // The collector writes events while the client subscribes and asks.
    const writing = (async () => {
      for (let i = 0; i < N; i++) {
        const e = event('tokyo-edge1');
        published.push(JSON.parse(e).seq);
        await collectorWrites(env.pub, [e]);
      }
    })();
    await until('some events written', () => published.length >= 5);
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:events:*`], id: 's' }, 'subscribed');
    const r = await c.request({ op: 'events', id: 'e' }, 'events');
    await writing;
    await fence(env.pub, [c]);
    const seen = new Set([...r.recent.map((e) => e.seq), ...c.data(`${PREFIX}:events:tokyo-edge1`).map((e) => e.seq)]);
    const missing = published.filter((s) => !seen.has(s));
    assert.deepEqual(missing, []);
    assert.ok(r.recent.some((e) => e.seq === published[0]), 'the events before the subscription are in recent');
  });

  it('includes an event in the next reply once it is published, and reads the list once per change', async () => {
    const w = await watcher();
    const c = await env.connect({ url: url(ADMIN) });
    const d = await env.connect({ url: url(ADMIN) });
    await c.request({ op: 'events', id: 'warm' }, 'events');
    const lranges = async () => (await redisInfo(env.pub, 'commandstats')).cmdstat_lrange;
    const calls = (s) => Number(/calls=(\d+)/.exec(s)[1]);
    const before = calls(await lranges());
    // 50 requests (on two connections: 20 a second, bursts of 40, each).
    const replies = [];
    for (let i = 0; i < 25; i++) {
      c.send({ op: 'events', id: i });
      d.send({ op: 'events', id: i });
    }
    for (let i = 0; i < 25; i++) replies.push(await c.reply('events', i), await d.reply('events', i));
    assert.equal(replies.length, 50);
    const after1 = calls(await lranges());
    assert.ok(after1 - before <= 2, `${after1 - before} LRANGEs for 50 events requests`);
    // A new event: once the gateway has passed it on, the next reply has it.
    const e = event('tokyo-edge2');
    await collectorWrites(env.pub, [e], [e]);
    await w.waitFor('the event', () => w.data(`${PREFIX}:events:tokyo-edge2`).some((x) => x.seq === JSON.parse(e).seq));
    const r = await w.request({ op: 'events', id: 'next' }, 'events');
    assert.deepEqual(r.recent[r.recent.length - 1], JSON.parse(e));
    assert.deepEqual(r.active, [JSON.parse(e)]);
    assert.equal(calls(await lranges()), after1 + 1);
  });

  it('keeps the newest 1,000 events of a longer list', async () => {
    const many = Array.from({ length: 1100 }, () => event('tokyo-edge1'));
    await reset(many, []);
    const c = await env.connect({ url: url(ADMIN) });
    const r = await c.request({ op: 'events', id: 'many' }, 'events');
    assert.equal(r.recent.length, 1000);
    assert.deepEqual(r.recent[0], JSON.parse(many[100]));
    assert.deepEqual(r.recent[999], JSON.parse(many[1099]));
  });

  it('subscribes without history when asked "history": false, and live data still comes', async () => {
    await env.pub.command('SET', `${PREFIX}:inventory`, inventory({ hf1: ['eth0'] }));
    for (let s = 1; s <= 3; s++) await publishSample(env.pub, 'hf1', 'eth0', s);
    const ch = `${PREFIX}:hf1:eth0`;
    const c = await env.connect({ url: url(ADMIN) });
    const r = await c.request({ op: 'subscribe', channels: [ch, `${PREFIX}:hf1:*`], history: false, id: 'nh' }, 'subscribed');
    assert.deepEqual(r.channels, [ch, `${PREFIX}:hf1:*`]);
    await publishSample(env.pub, 'hf1', 'eth0', 4);
    await c.waitFor('the live sample', () => c.data(ch).length === 1);
    await fence(env.pub, [c]);
    assert.deepEqual(c.data(ch).map((d) => d.seq), [4]);
    assert.deepEqual(c.messages.filter((m) => m.history || m.op === 'history_truncated'), []);
    // The same channel with history (the default) has its list.
    const h = await env.connect({ url: url(ADMIN) });
    await h.request({ op: 'subscribe', channels: [ch], history: true, id: 'h' }, 'subscribed');
    const [frame] = await h.waitFor('the history', () => h.history(ch).length && h.history(ch));
    assert.deepEqual(frame.history.map((d) => d.seq), [1, 2, 3, 4]);
  });

  it('refuses a "history" that is not a boolean, naming the field', async () => {
    const c = await env.connect({ url: url(ADMIN) });
    for (const v of [1, 'false', null]) {
      const e = await c.request({ op: 'subscribe', channels: [`${PREFIX}:hf1:eth0`], history: v, id: String(v) }, 'error');
      assert.equal(e.error, '"history" must be true or false');
      assert.equal(e.id, String(v));
    }
  });

  it('names the prefix in every list reply, with or without an inventory', async () => {
    const c = await env.connect({ url: url(ADMIN) });
    const t = await env.connect({ url: url(TOKYO) });
    await changeInventory(env, 'DEL', `${PREFIX}:inventory`);
    for (const x of [c, t]) {
      const r = await x.request({ op: 'list', id: 'none' }, 'list');
      assert.equal(r.inventory, null);
      assert.equal(r.prefix, PREFIX);
    }
    await changeInventory(env, 'SET', `${PREFIX}:inventory`, inventory({ 'tokyo-edge1': ['ge-0/0/0'] }));
    for (const x of [c, t]) {
      const r = await x.request({ op: 'list', id: 'some' }, 'list');
      assert.equal(r.inventory.sites[0].devices[0].name, 'tokyo-edge1');
      assert.equal(r.prefix, PREFIX);
      assert.equal(r.id, 'some');
    }
  });
});
