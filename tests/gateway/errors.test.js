// Bad input: every mistake gets {"op":"error"} and the connection stays
// usable; floods and oversized frames are contained.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, fence, PREFIX } = require('./lib');

const MAX_FRAME = 1024;
const MAX_CHANNELS = 4;

describe('gateway bad input', () => {
  let env;
  before(async () => {
    env = await setup({ maxFrame: MAX_FRAME, maxChannels: MAX_CHANNELS });
  });
  after(async () => {
    await env.teardown();
  });

  // The connection still works: a subscribe is acknowledged and data flows.
  async function stillWorks(c, dev) {
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:${dev}`], id: `ok-${dev}` }, 'subscribed');
    await env.pub.command('PUBLISH', `${PREFIX}:${dev}`, `{"device":"${dev}","status":"up","ts":1}`);
    await c.waitFor('data after errors', () => c.data(`${PREFIX}:${dev}`).length === 1);
    await c.request({ op: 'unsubscribe', channels: [`${PREFIX}:${dev}`] }, 'unsubscribed');
  }

  const cases = [
    ['invalid JSON', '{"op":"subscribe",', /invalid JSON/],
    ['an empty message', '', /invalid JSON/],
    ['JSON that is not an object', '[1,2,3]', /must be a JSON object/],
    ['a JSON string', '"subscribe"', /must be a JSON object/],
    ['a missing op', '{"channels":[]}', /missing "op"/],
    ['an op that is not a string', '{"op":5}', /"op" must be a string/],
    ['an unknown op', '{"op":"publish","channels":["ifmon:a"]}', /unknown op "publish"/],
    ['channels that are not an array', '{"op":"subscribe","channels":"ifmon:a"}', /"channels" must be an array of strings/],
    ['missing channels', '{"op":"subscribe"}', /"channels" must be an array of strings/],
    ['a channel that is not a string', '{"op":"unsubscribe","channels":["ifmon:a",3]}', /array of strings/],
    ['a channel outside the prefix', '{"op":"subscribe","channels":["other:r1:eth0"]}', /outside the prefix "ifmon:"/],
    ['the bare prefix', '{"op":"subscribe","channels":["ifmon"]}', /outside the prefix/],
    ['a prefix lookalike', '{"op":"subscribe","channels":["ifmonx:a"]}', /outside the prefix/],
    ['a * not at the end', '{"op":"subscribe","channels":["ifmon:*:eth0"]}', /only allowed at the end/],
    ['two *', '{"op":"subscribe","channels":["ifmon:a**"]}', /only allowed at the end/],
    ['a duplicate key', '{"op":"list","op":"list"}', /invalid JSON/],
    ['deep nesting', '['.repeat(500) + ']'.repeat(500), /invalid JSON|must be a JSON object/],
    ['a NUL escape', '{"op":"subscribe","channels":["ifmon:a\\u0000b"]}', /invalid JSON/],
  ];

  it('answers each bad request with an error, echoes its id, and keeps the connection', async () => {
    const c = await env.connect();
    for (const [what, text, re] of cases) {
      c.send(text);
      const e = await c.reply('error');
      assert.match(e.error, re, what);
    }
    const e = await c.request({ op: 'nope', id: 42 }, 'error');
    assert.equal(e.id, 42);
    const e2 = await c.request({ op: 'subscribe', channels: ['x'], id: [1] }, 'error');
    assert.deepEqual(e2.id, [1]);
    assert.equal(c.closed, null);
    await stillWorks(c, 'e1');
  });

  it('subscribes nothing when one channel of a request is bad', async () => {
    const c = await env.connect();
    c.send({ op: 'subscribe', channels: [`${PREFIX}:e2`, 'bad'] });
    await c.reply('error');
    await env.pub.command('PUBLISH', `${PREFIX}:e2`, '{"ts":1}');
    await fence(env.pub, [c]);
    assert.equal(c.data(`${PREFIX}:e2`).length, 0);
  });

  it('refuses more channels than max_channels for a connection', async () => {
    const c = await env.connect();
    const four = [1, 2, 3, 4].map((i) => `${PREFIX}:mc${i}`);
    await c.request({ op: 'subscribe', channels: four }, 'subscribed');
    const e = await c.request({ op: 'subscribe', channels: [`${PREFIX}:mc5`], id: 'too-many' }, 'error');
    assert.match(e.error, /too many channels/);
    // Already held channels do not count twice.
    await c.request({ op: 'subscribe', channels: four.slice(0, 2) }, 'subscribed');
    await c.request({ op: 'unsubscribe', channels: [four[0]] }, 'unsubscribed');
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:mc5`] }, 'subscribed');
    await c.request({ op: 'unsubscribe', channels: four.slice(1).concat([`${PREFIX}:mc5`]) }, 'unsubscribed');
    await stillWorks(c, 'e3');
  });

  it('refuses a message over max_frame, whole or in fragments, and goes on', async () => {
    const c = await env.connect();
    const big = JSON.stringify({ op: 'list', pad: 'x'.repeat(MAX_FRAME) });
    c.send(big);
    assert.match((await c.reply('error')).error, /max_frame/);
    // The same size in fragments (RFC 6455 5.4) counts as one message.
    const part = 'x'.repeat(400);
    c.ws.send(`{"op":"list","pad":"${part}`, { fin: false });
    c.ws.send(part, { fin: false });
    c.ws.send(`${part}"}`, { fin: true });
    assert.match((await c.reply('error')).error, /max_frame/);
    // Fragments under the limit are put together.
    c.ws.send('{"op":"li', { fin: false });
    c.ws.send('st","id":"frag"}', { fin: true });
    const r = await c.reply('list', 'frag');
    assert.ok('inventory' in r);
    // A whole message just under the limit: libwebsockets hands it over in
    // pieces of the connection's receive buffer (512 bytes), put together.
    const whole = JSON.stringify({ op: 'list', id: 'whole', pad: 'y'.repeat(MAX_FRAME - 60) });
    assert.ok(whole.length > 900 && whole.length <= MAX_FRAME);
    c.send(whole);
    assert.ok('inventory' in (await c.reply('list', 'whole')));
    await stillWorks(c, 'e4');
  });

  it('refuses binary frames with an error', async () => {
    const c = await env.connect();
    c.ws.send(Buffer.from('{"op":"list"}'), { binary: true });
    assert.match((await c.reply('error')).error, /binary/);
    await stillWorks(c, 'e5');
  });

  it('limits the request rate and closes a connection that keeps flooding (1008)', async () => {
    const c = await env.connect();
    for (let i = 0; i < 60; i++) c.send({ op: 'list', id: i });
    await c.waitFor('rate errors', (ms) => ms.filter((m) => m.op === 'error' && /rate limit/.test(m.error)).length >= 10);
    assert.equal(c.closed, null, 'a burst over the limit is answered, not closed');
    // Flood in small batches and stop once closed, as a client whose
    // socket closed would: writing on after the server's close makes its
    // kernel answer with a reset, which can discard the close frame (1006).
    for (let i = 0; i < 400 && !c.closed; i += 10) {
      for (let k = 0; k < 10; k++) c.send({ op: 'list' });
      await new Promise((r) => setTimeout(r, 2));
    }
    await c.waitFor('close', () => c.closed && [c.closed], 5000).catch(() => {});
    await new Promise((r) => (c.closed ? r() : c.ws.once('close', r)));
    assert.equal(c.closed.code, 1008);
    // Others are unaffected.
    const d = await env.connect();
    await stillWorks(d, 'e6');
  });

  it('closes with 1007 on a text frame that is not UTF-8 (RFC 6455 8.1)', async () => {
    const c = await env.connect();
    c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    await new Promise((r) => (c.closed ? r() : c.ws.once('close', r)));
    assert.equal(c.closed.code, 1007);
    const d = await env.connect();
    await stillWorks(d, 'e7');
  });

  it('survives random garbage', async () => {
    const c = await env.connect();
    let seed = 1;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const pieces = ['{', '}', '[', ']', '"op"', ':', ',', '"subscribe"', '"channels"', '"ifmon:a*"', '"list"',
      '"id"', 'null', '1e999', '-0', '"\\ud800"', '"\\u00e9"', 'true', ' ', '"unsubscribe"', '"ifmon:*"'];
    let sent = 0;
    for (let i = 0; i < 30; i++) {
      let s = '';
      const n = Math.floor(rnd() * 20);
      for (let k = 0; k < n; k++) s += pieces[Math.floor(rnd() * pieces.length)];
      c.send(s);
      sent++;
    }
    await c.waitFor('a reply to each', (ms) => ms.filter((m) => m.op).length >= sent);
    assert.equal(c.closed, null);
    const m = await env.gw.metrics();
    assert.ok(m.ifmon_gateway_connections >= 1);
  });
});
