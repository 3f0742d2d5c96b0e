// Delivery: who gets what, history before live data, unsubscribe, list.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, publishSample, inventory, fence, until, changeInventory, PREFIX } = require('./lib');

const ch = (dev, ifc) => (ifc === undefined ? `${PREFIX}:${dev}` : `${PREFIX}:${dev}:${ifc}`);

describe('gateway delivery', () => {
  let env;
  before(async () => {
    env = await setup();
  });
  after(async () => {
    await env.teardown();
  });

  it('gives two clients on different channels only their own messages', async () => {
    const a = await env.connect();
    const b = await env.connect();
    const ack = await a.request({ op: 'subscribe', channels: [ch('r1', 'ge-0/0/0')], id: 1 }, 'subscribed');
    assert.deepEqual(ack.channels, [ch('r1', 'ge-0/0/0')]);
    assert.equal(ack.id, 1);
    await b.request({ op: 'subscribe', channels: [ch('r1', 'ge-0/0/1')] }, 'subscribed');
    await a.waitFor('history', (m) => a.history(ch('r1', 'ge-0/0/0')).length);
    await b.waitFor('history', (m) => b.history(ch('r1', 'ge-0/0/1')).length);
    for (let seq = 1; seq <= 5; seq++) {
      publishSample(env.pub, 'r1', 'ge-0/0/0', seq);
      await publishSample(env.pub, 'r1', 'ge-0/0/1', seq);
    }
    await a.waitFor('5 samples', () => a.data(ch('r1', 'ge-0/0/0')).length === 5);
    await b.waitFor('5 samples', () => b.data(ch('r1', 'ge-0/0/1')).length === 5);
    await fence(env.pub, [a, b]); // anything else would have come by now
    assert.deepEqual(a.data(ch('r1', 'ge-0/0/0')).map((d) => d.seq), [1, 2, 3, 4, 5]);
    assert.equal(a.messages.filter((m) => m.channel === ch('r1', 'ge-0/0/1')).length, 0);
    assert.equal(b.messages.filter((m) => m.channel === ch('r1', 'ge-0/0/0')).length, 0);
  });

  it('delivers on a channel of the longest name, whose acknowledgement from Redis is over 1 KiB', async () => {
    // The subscriber connection's tap hands hiredis what it does not take
    // re-encoded, on the stack up to 1 KiB and from the heap past it.
    const iface = 'i'.repeat(1024 - `${PREFIX}:long:`.length);
    const name = ch('long', iface);
    assert.equal(name.length, 1024);
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [name], history: false }, 'subscribed');
    for (let seq = 1; seq <= 3; seq++) await publishSample(env.pub, 'long', iface, seq);
    await c.waitFor('3 samples', () => c.data(name).length === 3);
    assert.deepEqual(c.data(name).map((d) => d.seq), [1, 2, 3]);
    const ack = await c.request({ op: 'unsubscribe', channels: [name], id: 'u' }, 'unsubscribed');
    assert.equal(ack.id, 'u');
    await until('Redis to let go of the channel', async () =>
      Number((await env.pub.command('PUBSUB', 'NUMSUB', name))[1]) === 0);
  });

  it('embeds the collector JSON unchanged under "data"', async () => {
    const a = await env.connect();
    await a.request({ op: 'subscribe', channels: [ch('raw1')] }, 'subscribed');
    const payload = '{"device":"raw1","site":"s","status":"down","ts":1.5,"error":"timeout","x":1.10}';
    await env.pub.command('PUBLISH', ch('raw1'), payload);
    await a.waitFor('device state', () => a.data(ch('raw1')).length);
    const frameText = JSON.stringify(a.data(ch('raw1'))[0]);
    assert.equal(a.data(ch('raw1'))[0].status, 'down');
    assert.ok(frameText.includes('"timeout"'));
    assert.equal(a.history(ch('raw1')).length, 0, 'device channels have no history');
  });

  it('delivers a pattern subscription every channel under its prefix, and nothing else', async () => {
    const a = await env.connect();
    await a.request({ op: 'subscribe', channels: [`${PREFIX}:p1:*`] }, 'subscribed');
    publishSample(env.pub, 'p1', 'eth0', 1);
    publishSample(env.pub, 'p1', 'eth1', 1);
    publishSample(env.pub, 'p10', 'eth0', 1); // "p1:" is not a prefix of "p10:"
    await env.pub.command('PUBLISH', ch('p1'), '{"device":"p1","status":"up","ts":1}');
    await a.waitFor('2 samples', () => a.data(ch('p1', 'eth0')).length && a.data(ch('p1', 'eth1')).length);
    await fence(env.pub, [a]);
    assert.equal(a.data(ch('p10', 'eth0')).length, 0);
    assert.equal(a.data(ch('p1')).length, 0, 'p1:* does not match the device channel p1');
  });

  it('treats glob characters in a pattern literally, except the trailing *', async () => {
    const a = await env.connect();
    await a.request({ op: 'subscribe', channels: [`${PREFIX}:g1:x?[a]*`] }, 'subscribed');
    publishSample(env.pub, 'g1', 'x?[a]0', 1);
    publishSample(env.pub, 'g1', 'xy[a]0', 1);
    publishSample(env.pub, 'g1', 'x?a0', 1);
    await a.waitFor('literal match', () => a.data(ch('g1', 'x?[a]0')).length);
    await fence(env.pub, [a]);
    assert.equal(a.data(ch('g1', 'xy[a]0')).length, 0);
    assert.equal(a.data(ch('g1', 'x?a0')).length, 0);
  });

  it('sends a message once to a client holding a channel and overlapping patterns', async () => {
    const a = await env.connect();
    await a.request({ op: 'subscribe', channels: [ch('o1', 'eth0'), `${PREFIX}:o1:*`, `${PREFIX}:o1:e*`] }, 'subscribed');
    await a.waitFor('history', () => a.history(ch('o1', 'eth0')).length);
    for (let seq = 1; seq <= 20; seq++) publishSample(env.pub, 'o1', 'eth0', seq);
    await a.waitFor('20 samples', () => a.data(ch('o1', 'eth0')).length >= 20);
    await fence(env.pub, [a]); // a duplicate would have come by now
    assert.deepEqual(a.data(ch('o1', 'eth0')).map((d) => d.seq), Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('sends the stored history first, then live data with no gap and no duplicate', async () => {
    const iface = 'ge-1/0/0';
    let seq = 0;
    let running = true;
    // The collector's sequence per sample, continuously, while clients
    // subscribe: five samples, then a round trip to Redis (the pace of the
    // publisher, so that subscribes land between samples).
    const publisher = (async () => {
      while (running) {
        seq++;
        const p = publishSample(env.pub, 'h1', iface, seq);
        if (seq % 5 === 0) await p;
      }
    })();
    const published = (n) => until(`${n} samples published`, () => seq >= n);
    await published(100); // a history to send
    const clients = [];
    for (let k = 0; k < 6; k++) {
      const c = await env.connect();
      c.send({ op: 'subscribe', channels: [ch('h1', iface)] });
      clients.push(c);
      await published(seq + 20 + k * 5); // each subscribes at another point of the stream
    }
    // Every one has its history, and live data has followed it.
    for (const c of clients) await c.waitFor('history', () => c.history(ch('h1', iface)).length);
    await published(seq + 100);
    running = false;
    await publisher;
    await env.pub.command('PING'); // every sample sent
    const last = seq;
    for (const c of clients) {
      await c.waitFor(`seq ${last}`, () => {
        const d = c.data(ch('h1', iface));
        return d.length && d[d.length - 1].seq === last;
      });
      const hist = c.history(ch('h1', iface));
      assert.equal(hist.length, 1, 'one history frame');
      const idxHist = c.messages.indexOf(hist[0]);
      const firstLive = c.messages.findIndex((m) => m.channel === ch('h1', iface) && m.data);
      assert.ok(idxHist < firstLive, 'history before live data');
      const seqs = hist[0].history.map((s) => s.seq).concat(c.data(ch('h1', iface)).map((d) => d.seq));
      assert.ok(hist[0].history.length > 0, 'history is not empty');
      for (let i = 1; i < seqs.length; i++) {
        assert.equal(seqs[i], seqs[i - 1] + 1, `contiguous at ${i}: ${seqs.slice(Math.max(0, i - 3), i + 3)}`);
      }
      assert.equal(seqs[seqs.length - 1], last);
    }
  });

  it('sends a pattern subscription the history of every inventory channel it matches', async () => {
    await env.pub.command('SET', `${PREFIX}:inventory`, inventory({ inv1: ['a', 'b'], inv2: ['a'] }));
    for (let seq = 1; seq <= 3; seq++) {
      publishSample(env.pub, 'inv1', 'a', seq);
      publishSample(env.pub, 'inv1', 'b', seq);
      publishSample(env.pub, 'inv2', 'a', seq);
    }
    await env.pub.command('PING');
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:inv1:*`] }, 'subscribed');
    await c.waitFor('2 histories', () => c.messages.filter((m) => m.history).length === 2);
    assert.deepEqual(c.history(ch('inv1', 'a'))[0].history.map((s) => s.seq), [1, 2, 3]);
    assert.deepEqual(c.history(ch('inv1', 'b'))[0].history.map((s) => s.seq), [1, 2, 3]);
    assert.equal(c.history(ch('inv2', 'a')).length, 0);
    publishSample(env.pub, 'inv1', 'a', 4);
    await c.waitFor('live after history', () => c.data(ch('inv1', 'a')).length === 1);
    assert.equal(c.data(ch('inv1', 'a'))[0].seq, 4);
  });

  it('keeps every frame whole and in order across a full socket (a paused reader resumes)', async () => {
    // Queued messages are written at the end of the loop iteration without
    // a writability round trip, unless libwebsockets still holds part of a
    // frame; then they wait for the WRITEABLE callback. 4,000 samples of
    // ~4 KB (16 MB) overflow the paused socket (loopback absorbs several
    // MB) and then the 4 MiB queue, so both paths and the drop policy run.
    const N = 4000;
    const c = await env.connect();
    const other = await env.connect();
    await c.request({ op: 'subscribe', channels: [ch('w1', 'eth0')] }, 'subscribed');
    await other.request({ op: 'subscribe', channels: [ch('w2', 'eth0')] }, 'subscribed');
    await c.waitFor('history', () => c.history(ch('w1', 'eth0')).length);
    await other.waitFor('history', () => other.history(ch('w2', 'eth0')).length);
    const pad = 'q'.repeat(4000);
    const m0 = await env.gw.metrics();
    const dropped0 = m0.ifmon_gateway_dropped_total;
    c.ws.pause();
    for (let seq = 1; seq <= N; seq++) {
      publishSample(env.pub, 'w1', 'eth0', seq, { pad });
      if (seq === N / 2) c.send({ op: 'list', id: 'mid' }); // a reply among the samples
      if (seq % 500 === 0) {
        await publishSample(env.pub, 'w2', 'eth0', seq / 500);
        await other.waitFor(`other ${seq / 500}`, () => other.data(ch('w2', 'eth0')).length === seq / 500, 3000);
      }
    }
    await env.pub.command('PING');
    // Every sample has reached the gateway (and the paused client's queue).
    await until('the gateway to receive every sample', async () =>
      (await env.gw.metrics()).ifmon_gateway_messages_in_total >= m0.ifmon_gateway_messages_in_total + N + N / 500);
    c.ws.resume();
    await c.waitFor(`sample ${N}`, () => {
      const d = c.data(ch('w1', 'eth0'));
      return d.length && d[d.length - 1].seq === N;
    }, 20000);
    await c.reply('list', 'mid');
    // Every frame parsed (lib.js parses each one), each sample whole, in
    // order; the queue, not the socket, lost the ones in between.
    const data = c.data(ch('w1', 'eth0'));
    assert.ok(data.every((d) => d.pad === pad), 'every sample intact');
    for (let i = 1; i < data.length; i++) assert.ok(data[i].seq > data[i - 1].seq, `order at ${i}`);
    assert.ok((await env.gw.metrics()).ifmon_gateway_dropped_total > dropped0, 'the queue filled');
    assert.equal(c.closed, null);
  });

  it('stops delivery after unsubscribe', async () => {
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [ch('u1', 'eth0'), `${PREFIX}:u2:*`] }, 'subscribed');
    await c.waitFor('history', () => c.history(ch('u1', 'eth0')).length);
    publishSample(env.pub, 'u1', 'eth0', 1);
    publishSample(env.pub, 'u2', 'eth0', 1);
    await c.waitFor('both', () => c.data(ch('u1', 'eth0')).length && c.data(ch('u2', 'eth0')).length);
    const ack = await c.request({ op: 'unsubscribe', channels: [ch('u1', 'eth0'), `${PREFIX}:u2:*`], id: 'x' }, 'unsubscribed');
    assert.equal(ack.id, 'x');
    const after = c.messages.length;
    for (let seq = 2; seq <= 10; seq++) {
      publishSample(env.pub, 'u1', 'eth0', seq);
      publishSample(env.pub, 'u2', 'eth0', seq);
    }
    await fence(env.pub, [c]);
    assert.equal(c.messages.length, after, 'nothing after the unsubscribe ack');
    const m = await env.gw.metrics();
    assert.ok(m.ifmon_gateway_redis_channels >= 0);
  });

  it('answers list with the inventory, or null when there is none', async () => {
    await changeInventory(env, 'DEL', `${PREFIX}:inventory`);
    const c = await env.connect();
    const empty = await c.request({ op: 'list', id: 7 }, 'list');
    assert.equal(empty.inventory, null);
    assert.equal(empty.id, 7);
    await changeInventory(env, 'SET', `${PREFIX}:inventory`, inventory({ l1: ['eth0'] }));
    const full = await c.request({ op: 'list', id: { any: ['json'] } }, 'list');
    assert.equal(full.inventory.sites[0].devices[0].name, 'l1');
    assert.deepEqual(full.id, { any: ['json'] });
  });

  it('unsubscribes in Redis when the last client leaves', async () => {
    const before = (await env.gw.metrics()).ifmon_gateway_redis_channels;
    const a = await env.connect();
    const b = await env.connect();
    await a.request({ op: 'subscribe', channels: [ch('rc1', 'x'), `${PREFIX}:rc2:*`] }, 'subscribed');
    await b.request({ op: 'subscribe', channels: [ch('rc1', 'x')] }, 'subscribed');
    let m = await env.gw.metrics();
    assert.equal(m.ifmon_gateway_redis_channels, before + 2);
    const numsub = await env.pub.command('PUBSUB', 'NUMSUB', ch('rc1', 'x'));
    assert.equal(numsub[1], 1, 'one Redis subscription for two clients');
    a.close();
    await until('a to be gone', async () =>
      (await env.gw.metrics()).ifmon_gateway_redis_channels === before + 1);
    b.close();
    await until('b to be gone', async () =>
      (await env.gw.metrics()).ifmon_gateway_redis_channels === before);
    // The UNSUBSCRIBE is on its way: Redis drops the channel.
    await until('Redis to drop the channel', async () =>
      (await env.pub.command('PUBSUB', 'NUMSUB', ch('rc1', 'x')))[1] === 0);
  });

  it('delivers every message published right after "subscribed", with no delay at all', async () => {
    // "subscribed" comes once Redis has confirmed the subscription: a
    // message published the moment it arrives is never missed, whether the
    // channel is a device's (live only), an interface's (in its history or
    // live) or matched by a pattern. Many rounds, each on new channels.
    const ROUNDS = 40;
    let c;
    for (let k = 0; k < ROUNDS; k++) {
      // A new connection every 10 rounds: 30 channels, 10 requests each.
      if (k % 10 === 0) c = await env.connect();
      const dev = ch(`now${k}`);
      const ifc = ch(`now${k}`, 'eth0');
      const pat = `${PREFIX}:pat${k}:*`;
      await c.request({ op: 'subscribe', channels: [dev, ifc, pat], id: `now-${k}` }, 'subscribed');
      env.pub.command('PUBLISH', dev, JSON.stringify({ device: `now${k}`, status: 'up', ts: k }));
      publishSample(env.pub, `now${k}`, 'eth0', 1);
      publishSample(env.pub, `pat${k}`, 'eth0', 1);
      await c.waitFor(`round ${k}: the device state`, () => c.data(dev).length === 1, 2000);
      await c.waitFor(`round ${k}: the interface sample`, () =>
        c.data(ifc).length + c.history(ifc).reduce((n, h) => n + h.history.length, 0) === 1, 2000);
      await c.waitFor(`round ${k}: the pattern's sample`, () => c.data(ch(`pat${k}`, 'eth0')).length === 1, 2000);
    }
    // Two subscribes in a row, the second waiting behind the first: the
    // replies come in request order, each after its own confirmation.
    c.send({ op: 'subscribe', channels: [ch('now-a')], id: 'first' });
    c.send({ op: 'subscribe', channels: [ch('now-b')], id: 'second' });
    await c.reply('subscribed', 'second');
    const ids = c.messages.filter((m) => m.op === 'subscribed').map((m) => m.id);
    assert.deepEqual(ids.slice(-2), ['first', 'second']);
  });
});
