// A broad pattern has a bounded cost: the history of one subscribe request
// stops at 20,000 samples and 4 MiB (docs/PROTOCOL.md, part 2), frames go
// out as their lists come in, each channel's frame before its live data,
// and the pattern gets a notice of the channels it got no history for.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, publishSample, inventory, PREFIX } = require('./lib');

const IFACES = 200; // x 300 samples: 60,000 samples, about 11 MiB
const SAMPLES = 300;
const MAX_SAMPLES = 20000;
const MAX_BYTES = 4 << 20;

const ifname = (k) => `e${String(k).padStart(3, '0')}`;

describe('gateway history of a broad pattern', () => {
  let env;
  before(async () => {
    env = await setup();
    const names = Array.from({ length: IFACES }, (_, k) => ifname(k));
    await env.pub.command('SET', `${PREFIX}:inventory`, inventory({ cap: names }));
    let last;
    for (const name of names) {
      const samples = [];
      for (let seq = 1; seq <= SAMPLES; seq++) {
        samples.push(JSON.stringify({
          device: 'cap', site: 'test', interface: name, ifindex: 1, ts: 1764052800 + seq / 1000,
          interval: 1, in_bps: 8000362 + seq, out_bps: 4000185 + seq, speed_bps: 1e9, oper: 'up', seq,
        }));
      }
      last = env.pub.command('RPUSH', `${PREFIX}:history:cap:${name}`, ...samples);
    }
    await last;
  });
  after(async () => {
    await env.teardown();
  });

  it('sends at most 20,000 samples and 4 MiB of history per request, then a notice; live data follows each frame', async () => {
    const c = await env.connect();
    const frameBytes = new Map(); // channel -> bytes of its history frame as sent
    c.ws.on('message', (buf) => {
      const text = buf.toString();
      if (text.startsWith('{"channel":') && text.includes('"history":[')) {
        frameBytes.set(JSON.parse(text).channel, Buffer.byteLength(text));
      }
    });
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:cap:*`], id: 'broad' }, 'subscribed');
    // The next sample of every interface, right after the acknowledgement.
    let p;
    for (let k = 0; k < IFACES; k++) p = publishSample(env.pub, 'cap', ifname(k), SAMPLES + 1);
    await p;
    const notice = await c.reply('history_truncated', undefined, 20000);
    assert.equal(notice.channel, `${PREFIX}:cap:*`);

    const frames = c.messages.filter((m) => Array.isArray(m.history));
    const samples = frames.reduce((n, f) => n + f.history.length, 0);
    const bytes = [...frameBytes.values()].reduce((a, b) => a + b, 0);
    console.log(`# ${frames.length} history frames of ${IFACES} channels, ${samples} samples, ` +
      `${bytes} bytes; ${notice.skipped} channels skipped`);
    assert.ok(frames.length > 0 && frames.length < IFACES, `${frames.length} frames`);
    assert.equal(notice.skipped, IFACES - frames.length);
    assert.ok(samples <= MAX_SAMPLES, `${samples} samples`);
    assert.ok(bytes <= MAX_BYTES, `${bytes} bytes`);
    assert.equal(new Set(frames.map((f) => f.channel)).size, frames.length, 'one frame per channel');
    // Every channel gets sample 301 once, in its history or live; a frame
    // holds the newest samples, contiguous, and comes before the channel's
    // live data. At most one frame (the last fetched) was cut short.
    for (let k = 0; k < IFACES; k++) {
      const channel = `${PREFIX}:cap:${ifname(k)}`;
      await c.waitFor(`sample ${SAMPLES + 1} of ${channel}`, () =>
        c.data(channel).some((d) => d.seq === SAMPLES + 1) ||
        c.history(channel).some((h) => h.history.some((s) => s.seq === SAMPLES + 1)));
      const h = c.history(channel);
      const live = c.data(channel).map((d) => d.seq);
      if (h.length === 0) {
        assert.deepEqual(live, [SAMPLES + 1], channel);
        continue;
      }
      const seqs = h[0].history.map((s) => s.seq).concat(live);
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `${channel} at ${i}`);
      assert.equal(seqs.at(-1), SAMPLES + 1);
      const firstLive = c.messages.findIndex((m) => m.channel === channel && m.data);
      if (firstLive >= 0) assert.ok(c.messages.indexOf(h[0]) < firstLive, `${channel}: history first`);
    }
    assert.ok(frames.filter((f) => f.truncated).length <= 1);
    // Another request has a budget of its own.
    const d = await env.connect();
    await d.request({ op: 'subscribe', channels: [`${PREFIX}:cap:${ifname(IFACES - 1)}`] }, 'subscribed');
    const h = await d.waitFor('history', () => d.history(`${PREFIX}:cap:${ifname(IFACES - 1)}`)[0]);
    assert.equal(h.history.length, SAMPLES);
    assert.equal(h.truncated, undefined);
  });
});
