// Connections holding the same channels share their frames (gateway/
// client_group.c): the gateway groups them once their subscriptions are
// live, hands each message to the group once and queues one frame for all.
// What each connection receives must not change: every message, in order,
// nothing of a channel it does not hold, nothing after "unsubscribed", and
// with a flush window a reply still takes the data waiting before it along.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, until, PREFIX } = require('./lib');

const ch = (name) => `${PREFIX}:grp:${name}`;
const sample = (seq) => JSON.stringify({ device: 'grp', ts: 1764052800 + seq, seq });

// The gateway checks once a second whether a connection may join a group.
async function grouped(env, connections, groups) {
  let m;
  await until(`${connections} connections in ${groups} groups`, async () => {
    m = await env.gw.metrics();
    return m.ifmon_gateway_grouped_connections === connections && m.ifmon_gateway_groups === groups;
  }, 10000, 100);
  return m;
}

const seqs = (c, name) => c.data(name).map((d) => d.seq);

describe('gateway groups of connections holding the same channels', () => {
  let env;
  before(async () => {
    env = await setup();
  });
  after(async () => {
    await env.teardown();
  });

  let a, b, c, d;
  it('groups them, and each still gets every message of its channels, in order, once', async () => {
    a = await env.connect();
    b = await env.connect();
    c = await env.connect();
    d = await env.connect();
    for (const x of [a, b]) await x.request({ op: 'subscribe', channels: [ch('1'), ch('2')], history: false }, 'subscribed');
    // The same set in another order, and in two requests.
    await c.request({ op: 'subscribe', channels: [ch('2')], history: false }, 'subscribed');
    await c.request({ op: 'subscribe', channels: [ch('1')], history: false }, 'subscribed');
    await d.request({ op: 'subscribe', channels: [ch('1'), ch('3')], history: false }, 'subscribed');
    const m0 = await grouped(env, 4, 2);
    const n = 30;
    const sent = [];
    for (let i = 0; i < n; i++) sent.push(env.pub.command('PUBLISH', ch(String(1 + (i % 3))), sample(i)));
    await Promise.all(sent);
    const of = (k) => [...Array(n).keys()].filter((i) => i % 3 === k - 1);
    for (const x of [a, b, c]) {
      await x.waitFor('1 and 2', () => x.data(ch('1')).length === 10 && x.data(ch('2')).length === 10);
    }
    await d.waitFor('1 and 3', () => d.data(ch('1')).length === 10 && d.data(ch('3')).length === 10);
    for (const x of [a, b, c]) {
      assert.deepEqual(seqs(x, ch('1')), of(1));
      assert.deepEqual(seqs(x, ch('2')), of(2));
      assert.equal(x.data(ch('3')).length, 0);
    }
    assert.deepEqual(seqs(d, ch('1')), of(1));
    assert.deepEqual(seqs(d, ch('3')), of(3));
    assert.equal(d.data(ch('2')).length, 0);
    // Every message counted once per connection, a group's frame included.
    const m1 = await env.gw.metrics();
    assert.equal(m1.ifmon_gateway_messages_out_total - m0.ifmon_gateway_messages_out_total, 3 * 20 + 20);
    assert.ok(m1.ifmon_gateway_frames_out_total > m0.ifmon_gateway_frames_out_total);
  });

  it('takes a member out when it subscribes: it gets the new channel, the others do not', async () => {
    await a.request({ op: 'subscribe', channels: [ch('4')], history: false }, 'subscribed');
    await env.pub.command('PUBLISH', ch('4'), sample(100));
    await env.pub.command('PUBLISH', ch('1'), sample(101));
    await a.waitFor('4 and 1', () => a.data(ch('4')).length === 1 && seqs(a, ch('1')).includes(101));
    await b.waitFor('1', () => seqs(b, ch('1')).includes(101));
    assert.equal(b.data(ch('4')).length, 0);
    // a joins a group of its own set (1, 2, 4); b and c stay together.
    await grouped(env, 4, 3);
  });

  it('sends nothing of a channel after "unsubscribed", and the rest as before', async () => {
    await b.request({ op: 'unsubscribe', channels: [ch('2')] }, 'unsubscribed');
    await env.pub.command('PUBLISH', ch('2'), sample(200));
    await env.pub.command('PUBLISH', ch('1'), sample(201));
    for (const x of [b, c]) await x.waitFor('201', () => seqs(x, ch('1')).includes(201));
    await c.waitFor('200', () => seqs(c, ch('2')).includes(200));
    assert.ok(!seqs(b, ch('2')).includes(200), 'b got a sample of a channel it had left');
    // b has the set (1) of its own now: 4 connections in 4 groups.
    await grouped(env, 4, 4);
  });

  it('keeps serving a member whose group is left by all the others', async () => {
    for (const x of [a, b, d]) x.close();
    await grouped(env, 1, 1);
    await env.pub.command('PUBLISH', ch('2'), sample(300));
    await c.waitFor('300', () => seqs(c, ch('2')).includes(300));
  });
});

describe('gateway groups with a flush window', () => {
  const WINDOW_MS = 1000;
  let env;
  before(async () => {
    env = await setup({ extra: [`  flush_ms: ${WINDOW_MS}`] });
  });
  after(async () => {
    await env.teardown();
  });

  it('writes a group\'s window as one frame, and a reply takes the data waiting before it along', async () => {
    const names = ['w0', 'w1', 'w2'].map(ch);
    const a = await env.connect();
    const b = await env.connect();
    for (const x of [a, b]) await x.request({ op: 'subscribe', channels: names, history: false }, 'subscribed');
    await grouped(env, 2, 1);
    const framesA = a.frames;
    const framesB = b.frames;
    const in0 = (await env.gw.metrics()).ifmon_gateway_messages_in_total;
    const t0 = Date.now();
    for (let i = 0; i < names.length; i++) await env.pub.command('PUBLISH', names[i], sample(i));
    // The gateway has read them (they wait in the group's window) before
    // the request comes.
    await until('the gateway read the samples', async () =>
      (await env.gw.metrics()).ifmon_gateway_messages_in_total >= in0 + names.length);
    a.send({ op: 'no-such-op', id: 'now' });
    const err = await a.reply('error', 'now', 3 * WINDOW_MS);
    assert.ok(Date.now() - t0 < WINDOW_MS, 'the reply waited for the window');
    const at = a.messages.indexOf(err);
    for (const n of names) {
      const i = a.messages.findIndex((m) => m.channel === n);
      assert.ok(i >= 0 && i < at, `${n}'s sample came before the reply`);
    }
    // b waits for the window, and gets it in one frame.
    await b.waitFor('3 samples', () => names.every((n) => b.data(n).length === 1), 3 * WINDOW_MS);
    assert.ok(Date.now() - t0 >= WINDOW_MS * 0.9, 'the group\'s window ended early');
    assert.equal(b.frames - framesB, 1);
    // a got its samples once, before the reply, and nothing more after
    // the window.
    await env.pub.command('PUBLISH', names[0], sample(9));
    for (const x of [a, b]) await x.waitFor('9', () => seqs(x, names[0]).includes(9), 3 * WINDOW_MS);
    for (const n of names) assert.equal(a.data(n).filter((d) => d.seq < 9).length, 1, `${n} twice`);
    assert.ok(a.frames - framesA >= 2);
  });
});
