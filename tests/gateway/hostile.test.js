// The gateway under hostile clients: every request has a bounded cost
// (docs/PROTOCOL.md, part 2, "Limits").
//
// Connections that hold the gateway's memory without using it: a message
// whose fragments never end is given 10 s from its first byte, a WebSocket
// that holds no subscription 60 s (a `list` does not count); both are then
// closed with 1008. A connection that subscribes at once, as the web page
// does, stays. Those waits are the deadlines' own, and they are passive:
// the attacks (hostile-list.js, hostile-history.js, hostile-subscribe.js,
// each against a gateway of its own) run meanwhile, one after the other,
// so that the file takes the minute of the longest wait.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, PREFIX } = require('./lib');

const MESSAGE_MS = 10000;
const IDLE_MS = 60000;

// Resolves when c is closed (or rejects after timeoutMs).
function closed(c, timeoutMs) {
  return c.waitFor('the close', () => false, timeoutMs).then(
    () => assert.fail('not closed'),
    (e) => {
      if (!c.closed) throw e;
      return c.closed;
    });
}

describe('gateway under hostile clients', { concurrency: true }, () => {
  // Subtests inherit their parent's concurrency: say it.
  describe('attacks, one after the other', { concurrency: 1 }, () => {
    require('./hostile-list');
    require('./hostile-history');
    require('./hostile-subscribe');
  });

  describe('deadlines', { concurrency: true }, () => {
    let env;
    before(async () => {
      env = await setup();
    });
    after(async () => {
      await env.teardown();
    });

    it('closes a connection whose message is not finished 10 s after it began, with 1008', async () => {
      const c = await env.connect();
      await c.request({ op: 'subscribe', channels: [`${PREFIX}:frag`], id: 1 }, 'subscribed');
      const t0 = Date.now();
      // The first fragment of a message (RFC 6455 5.4), then more, never the last.
      c.ws.send(`{"op":"list","pad":"${'x'.repeat(30000)}`, { fin: false });
      c.ws.send('y'.repeat(30000), { fin: false });
      const { code, reason } = await closed(c, MESSAGE_MS + 5000);
      const took = Date.now() - t0;
      assert.equal(code, 1008);
      assert.match(reason, /message not finished within 10 s/);
      assert.ok(took >= MESSAGE_MS - 100 && took < MESSAGE_MS + 2500, `closed after ${took} ms`);
    });

    it('closes a connection that holds no subscription for 60 s, not one that subscribed', async () => {
      const t0 = Date.now();
      const idle = await env.connect();
      const lister = await env.connect();
      const page = await env.connect();
      // As the web page: the inventory's channel at once, and list.
      await page.request({ op: 'subscribe', channels: [`${PREFIX}:inventory`], id: 'page' }, 'subscribed');
      await page.request({ op: 'list', id: 'page-list' }, 'list');
      // Subscribed for a while, then nothing: its minute starts then.
      await lister.request({ op: 'subscribe', channels: [`${PREFIX}:a`], id: 's' }, 'subscribed');
      await lister.request({ op: 'unsubscribe', channels: [`${PREFIX}:a`], id: 'u' }, 'unsubscribed');
      const unsubscribedAt = Date.now();
      const listing = setInterval(() => lister.send({ op: 'list' }), 5000); // lists do not count
      try {
        const a = await closed(idle, IDLE_MS + 5000);
        const tookIdle = Date.now() - t0;
        const b = await closed(lister, IDLE_MS + 5000);
        const tookLister = Date.now() - unsubscribedAt;
        for (const x of [a, b]) {
          assert.equal(x.code, 1008);
          assert.match(x.reason, /no subscription for 60 s/);
        }
        assert.ok(tookIdle >= IDLE_MS && tookIdle < IDLE_MS + 2500, `idle closed after ${tookIdle} ms`);
        assert.ok(tookLister >= IDLE_MS - 100, `lister closed after ${tookLister} ms`);
        assert.equal(page.closed, null);
        await page.request({ op: 'list', id: 'still' }, 'list');
      } finally {
        clearInterval(listing);
      }
    });
  });
});
