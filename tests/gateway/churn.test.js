// A client that opens and closes a connection a hundred times a second:
// the gateway keeps up, leaks no descriptor or connection slot, and a
// steady client on the same gateway loses nothing and sees no stall.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { describe, it, before, after } = require('node:test');
const { setup, connect, publishSample, sleep, until, PREFIX } = require('./lib');

const CHURN_PER_S = 100;
const SECONDS = 5;

describe('gateway under connection churn', () => {
  let env;
  before(async () => {
    env = await setup({ maxConnections: 1000 });
  });
  after(async () => {
    await env.teardown();
  });

  const fds = () => fs.readdirSync(`/proc/${env.gw.proc.pid}/fd`).length;

  it('serves a steady client on time while another opens and closes 100 connections a second', async () => {
    const steady = await env.connect();
    const ch = `${PREFIX}:churn1:eth0`;
    await steady.request({ op: 'subscribe', channels: [ch], id: 1 }, 'subscribed');
    await steady.waitFor('history', () => steady.history(ch).length);
    const fds0 = fds();

    // Publisher: a sample every 50 ms, stamped with its send time.
    const sentAt = new Map();
    let seq = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        seq++;
        sentAt.set(seq, Date.now());
        await publishSample(env.pub, 'churn1', 'eth0', seq);
        await sleep(50);
      }
    })();
    const delays = [];
    steady.ws.on('message', (buf) => {
      const v = JSON.parse(buf.toString());
      for (const m of Array.isArray(v) ? v : [v]) {
        if (m.channel === ch && m.data && sentAt.has(m.data.seq)) delays.push(Date.now() - sentAt.get(m.data.seq));
      }
    });

    // Churner: every 10 ms a connection that subscribes (half of them)
    // and closes at once, some before the gateway has answered.
    let opened = 0;
    let failed = 0;
    const pending = [];
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      pending.push((async () => {
        try {
          const c = await connect(env.gw.url);
          opened++;
          if (opened % 2) c.send({ op: 'subscribe', channels: [`${PREFIX}:churn${opened % 7}:*`] });
          if (opened % 3) await sleep(5);
          c.ws.terminate();
        } catch {
          failed++;
        }
      })());
      await sleep(1000 / CHURN_PER_S);
    }
    await Promise.all(pending);
    // A few more samples after the churn, then stop.
    const last = seq;
    await steady.waitFor('samples after the churn', () => steady.data(ch).some((d) => d.seq >= last + 5));
    publishing = false;
    await publisher;
    await steady.waitFor('the last sample', () => steady.data(ch).some((d) => d.seq === seq));

    const rate = opened / SECONDS;
    const got = steady.data(ch).map((d) => d.seq);
    delays.sort((a, b) => a - b);
    const p50 = delays[Math.floor(delays.length / 2)];
    const p99 = delays[Math.floor(delays.length * 0.99)];
    console.log(`# churn: ${opened} connections in ${SECONDS} s (${rate.toFixed(0)}/s), ${failed} refused; ` +
      `steady client: ${got.length}/${seq} samples, delay p50 ${p50} ms, p99 ${p99} ms, max ${delays.at(-1)} ms`);
    assert.equal(failed, 0, 'a connection failed');
    assert.ok(rate >= CHURN_PER_S * 0.5, `only ${rate}/s connections`);
    // Nothing lost, in order, no duplicate.
    assert.deepEqual(got, Array.from({ length: seq }, (_, k) => k + 1));
    // A gateway that blocked on the churn would hold samples back by
    // hundreds of milliseconds; the margin is for a loaded machine.
    assert.ok(delays.at(-1) < 1000, `a sample took ${delays.at(-1)} ms`);

    // Every churned connection is gone: slots and descriptors back.
    await until('the connections to be released', async () =>
      (await env.gw.metrics()).ifmon_gateway_connections === 1, 5000, 100);
    await until('descriptors back to where they were', () => fds() <= fds0, 5000, 100);
    const m = await env.gw.metrics();
    assert.equal(m.ifmon_gateway_subscriptions, 1);
  });
});
