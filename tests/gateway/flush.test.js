// gateway.flush_ms: live data waits for what follows it and goes out in one
// frame; replies never wait; a full frame ends the window early; a reload
// turns it off for what comes next.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, fence, until, PREFIX } = require('./lib');

const WINDOW_MS = 1000; // the longest: nothing ordinary takes that long here

const ch = (name) => `${PREFIX}:fw:${name}`;
const sample = (seq, extra = {}) => JSON.stringify({ device: 'fw', ts: 1764052800 + seq, seq, ...extra });

describe('gateway flush window', () => {
  let env;
  before(async () => {
    env = await setup({ extra: [`  flush_ms: ${WINDOW_MS}`] });
  });
  after(async () => {
    await env.teardown();
  });

  it('sends the data of one window as one frame, once the window has ended', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'].map(ch);
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: names, history: false }, 'subscribed');
    let dataFrames = 0; // frames with data in them
    c.ws.on('message', (buf) => {
      const v = JSON.parse(buf.toString());
      if ((Array.isArray(v) ? v : [v]).some((m) => m.data !== undefined)) dataFrames++;
    });
    const t0 = Date.now();
    for (let i = 0; i < names.length; i++) await env.pub.command('PUBLISH', names[i], sample(i));
    const sent = Date.now();
    await c.waitFor('5 samples', () => names.every((n) => c.data(n).length === 1), 3 * WINDOW_MS);
    const took = Date.now() - t0;
    if (sent - t0 < WINDOW_MS / 2) {
      // Published well inside one window (always, unless the machine
      // stalled): one frame, and not before the window ended.
      assert.equal(dataFrames, 1, 'one frame for the window');
      assert.ok(took >= WINDOW_MS * 0.9, `arrived after ${took} ms, before the ${WINDOW_MS} ms window ended`);
    }
    assert.deepEqual(names.map((n) => c.data(n)[0].seq), [0, 1, 2, 3, 4]);
  });

  it('writes when the window ends, not when the next window does', async () => {
    // A window that ended was once written only after the gateway's next
    // wakeup: with a second window opened meanwhile and nothing else
    // going on, at the end of that one. Here b's window opens 800 ms into
    // a's: a's data must come at 1 s, not at 1.8 s.
    const a = await env.connect();
    const b = await env.connect();
    await a.request({ op: 'subscribe', channels: [ch('ta')], history: false }, 'subscribed');
    await b.request({ op: 'subscribe', channels: [ch('tb')], history: false }, 'subscribed');
    const t0 = Date.now();
    await env.pub.command('PUBLISH', ch('ta'), sample(1));
    await new Promise((resolve) => setTimeout(resolve, 0.8 * WINDOW_MS)); // shapes the case, waits for nothing
    await env.pub.command('PUBLISH', ch('tb'), sample(2));
    await a.waitFor('a\'s sample', () => a.data(ch('ta')).length, 3 * WINDOW_MS);
    const took = Date.now() - t0;
    assert.ok(took >= WINDOW_MS * 0.9 && took < WINDOW_MS + 400, `a's window ended after ${took} ms`);
    await b.waitFor('b\'s sample', () => b.data(ch('tb')).length, 3 * WINDOW_MS);
  });

  it('answers a request at once, with the data waiting before it, in order', async () => {
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [ch('r')], history: false }, 'subscribed');
    const in0 = (await env.gw.metrics()).ifmon_gateway_messages_in_total;
    const t0 = Date.now();
    await env.pub.command('PUBLISH', ch('r'), sample(7));
    // The gateway has read the sample (it waits in the window) before the
    // request comes.
    await until('the gateway read the sample', async () =>
      (await env.gw.metrics()).ifmon_gateway_messages_in_total > in0);
    c.send({ op: 'no-such-op', id: 'now' });
    const err = await c.reply('error', 'now', 3 * WINDOW_MS);
    const took = Date.now() - t0;
    const at = c.messages.indexOf(err);
    const data = c.messages.findIndex((m) => m.channel === ch('r'));
    assert.ok(data >= 0 && data < at, 'the waiting sample came first');
    assert.ok(took < WINDOW_MS / 2, `the reply waited ${took} ms`);
  });

  it('ends a window early once what waits fills a frame', async () => {
    const names = ['f0', 'f1', 'f2', 'f3', 'f4'].map(ch);
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: names, history: false }, 'subscribed');
    const pad = 'x'.repeat(15000); // five of them are over the 64 KiB of one frame
    const t0 = Date.now();
    for (let i = 0; i < names.length; i++) await env.pub.command('PUBLISH', names[i], sample(i, { pad }));
    await c.waitFor('5 big samples', () => names.every((n) => c.data(n).length === 1), 3 * WINDOW_MS);
    const took = Date.now() - t0;
    assert.ok(took < WINDOW_MS / 2, `written after ${took} ms, not when the frame was full`);
    assert.equal(c.data(names[4])[0].pad.length, 15000);
  });

  it('writes at once after a reload sets flush_ms to 0, and counts frames in /metrics', async () => {
    const m0 = await env.gw.metrics();
    const log = await env.gw.reload({ extra: ['  flush_ms: 0'] });
    assert.match(log, /flush_ms 0/);
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: [ch('z')], history: false }, 'subscribed');
    const t0 = Date.now();
    await env.pub.command('PUBLISH', ch('z'), sample(1));
    await c.waitFor('sample', () => c.data(ch('z')).length, 3 * WINDOW_MS);
    const took = Date.now() - t0;
    assert.ok(took < WINDOW_MS / 2, `waited ${took} ms with flush_ms 0`);
    await fence(env.pub, [c]);
    const m1 = await env.gw.metrics();
    assert.ok(m1.ifmon_gateway_frames_out_total > m0.ifmon_gateway_frames_out_total);
    // On by default where the kernel allows it (this machine's does; a
    // kernel that refuses it is logged, and the gateway writes without).
    if (!/io_uring is not available/.test(env.gw.stderr)) assert.equal(m1.ifmon_gateway_io_uring, 1);
    assert.ok(m1.ifmon_gateway_messages_out_total - m0.ifmon_gateway_messages_out_total >=
      m1.ifmon_gateway_frames_out_total - m0.ifmon_gateway_frames_out_total);
  });
});

// The same deliveries written without io_uring (gateway.io_uring: false,
// or a kernel that refuses it): one lws_write() per frame.
describe('gateway writes without io_uring', () => {
  let env;
  before(async () => {
    env = await setup({ extra: ['  io_uring: false'] });
  });
  after(async () => {
    await env.teardown();
  });

  it('delivers batched frames and says io_uring is off in /metrics', async () => {
    const names = ['n0', 'n1', 'n2'].map(ch);
    const c = await env.connect();
    await c.request({ op: 'subscribe', channels: names, history: false }, 'subscribed');
    for (let i = 0; i < names.length; i++) env.pub.command('PUBLISH', names[i], sample(i));
    await c.waitFor('3 samples', () => names.every((n) => c.data(n).length === 1));
    const m = await env.gw.metrics();
    assert.equal(m.ifmon_gateway_io_uring, 0);
    assert.ok(m.ifmon_gateway_frames_out_total >= 1);
  });
});
