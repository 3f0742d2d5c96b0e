// Restricted tokens (gateway.tokens): a token limited to some channel
// patterns can subscribe only to what they cover, receives nothing else,
// and its "list" shows only the part of the inventory it may see. The
// full-access gateway.token still sees everything.
'use strict';

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { setup, publishSample, fence, PREFIX } = require('./lib');

const TOKENS = [
  { token: 'tokyo-noc-token-01', channels: [`${PREFIX}:tokyo-*`] },
  { token: 'one-link-token-002', channels: [`${PREFIX}:osaka-core1:xe-0/0/1`] },
];

const INVENTORY = JSON.stringify({
  version: 1, prefix: PREFIX, ts: 1764052800,
  sites: [
    { name: 'osaka', devices: [device('osaka', 'osaka-core1', ['xe-0/0/0', 'xe-0/0/1'])] },
    { name: 'tokyo', devices: [device('tokyo', 'tokyo-edge1', ['ge-0/0/0']), device('tokyo', 'tokyo-edge2', ['ge-0/0/1'])] },
  ],
});

function device(site, name, ifaces) {
  return {
    name, site, channel: `${PREFIX}:${name}`, status: 'up', interval: 1,
    interfaces: ifaces.map((i, k) => ({
      name: i, descr: i, ifindex: k + 1, channel: `${PREFIX}:${name}:${i}`,
      history: `${PREFIX}:history:${name}:${i}`, speed_bps: 1e9,
    })),
  };
}

// What an inventory holds, as "site/device/interface" (and "site/device"
// for a device without interfaces), sorted.
function contents(inv) {
  const out = [];
  for (const s of inv.sites) {
    for (const d of s.devices) {
      if (d.interfaces.length === 0) out.push(`${s.name}/${d.name}`);
      for (const i of d.interfaces) out.push(`${s.name}/${d.name}/${i.name}`);
    }
  }
  return out.sort();
}

describe('gateway with restricted tokens', () => {
  let env;
  before(async () => {
    env = await setup({ token: 'admin-secret-token-03', tokens: TOKENS });
    await env.pub.command('SET', `${PREFIX}:inventory`, INVENTORY);
  });
  after(async () => {
    await env.teardown();
  });

  const url = (t) => `ws://127.0.0.1:${env.gw.port}/ws?token=${encodeURIComponent(t)}`;

  it('accepts each configured token and refuses others with 401', async () => {
    for (const t of ['admin-secret-token-03', 'tokyo-noc-token-01', 'one-link-token-002']) (await env.connect({ url: url(t) })).close();
    const b = await env.connect({ url: env.gw.url, headers: { Authorization: 'Bearer one-link-token-002' } });
    b.close();
    for (const t of ['tokyo-noc-token-0', 'one-link-token-0022', '']) {
      await assert.rejects(env.connect({ url: url(t) }), (e) => e.status === 401);
    }
    await assert.rejects(env.connect({ url: env.gw.url }), (e) => e.status === 401);
  });

  it('lets a restricted token subscribe only to channels its patterns cover', async () => {
    const c = await env.connect({ url: url('tokyo-noc-token-01') });
    for (const ch of [`${PREFIX}:tokyo-edge1:ge-0/0/0`, `${PREFIX}:tokyo-edge1:*`, `${PREFIX}:tokyo-edge2`,
      `${PREFIX}:tokyo-*`, `${PREFIX}:inventory`]) {
      const r = await c.request({ op: 'subscribe', channels: [ch], id: ch }, 'subscribed');
      assert.deepEqual(r.channels, [ch]);
    }
    for (const ch of [`${PREFIX}:osaka-core1:xe-0/0/1`, `${PREFIX}:*`, `${PREFIX}:tokyo*`, `${PREFIX}:osaka-core1`,
      `${PREFIX}:osaka-core1:*`]) {
      const e = await c.request({ op: 'subscribe', channels: [ch], id: ch }, 'error');
      assert.equal(e.id, ch);
      assert.match(e.error, /^not permitted for this token: /);
      assert.ok(e.error.includes(ch));
    }
    // All or nothing: one refused entry refuses the request.
    const m0 = await env.gw.metrics();
    await c.request({ op: 'subscribe', channels: [`${PREFIX}:tokyo-edge3:ge-0/0/9`, `${PREFIX}:osaka-core1:xe-0/0/0`], id: 9 }, 'error');
    assert.equal((await env.gw.metrics()).ifmon_gateway_subscriptions, m0.ifmon_gateway_subscriptions);
    assert.equal(c.closed, null);
    c.close();
    // A device's state channel comes with any of its interfaces.
    const l = await env.connect({ url: url('one-link-token-002') });
    await l.request({ op: 'subscribe', channels: [`${PREFIX}:osaka-core1`], id: 1 }, 'subscribed');
    const e = await l.request({ op: 'subscribe', channels: [`${PREFIX}:osaka-core2`], id: 2 }, 'error');
    assert.match(e.error, /not permitted/);
    l.close();
  });

  it('delivers to a restricted token only what it subscribed, never what it may not see', async () => {
    const tokyo = await env.connect({ url: url('tokyo-noc-token-01') });
    const link = await env.connect({ url: url('one-link-token-002') });
    const admin = await env.connect({ url: url('admin-secret-token-03') });
    await tokyo.request({ op: 'subscribe', channels: [`${PREFIX}:tokyo-*`] }, 'subscribed');
    await link.request({ op: 'subscribe', channels: [`${PREFIX}:osaka-core1:xe-0/0/1`] }, 'subscribed');
    await admin.request({ op: 'subscribe', channels: [`${PREFIX}:*`] }, 'subscribed');
    const sent = [['tokyo-edge1', 'ge-0/0/0'], ['tokyo-edge2', 'ge-0/0/1'], ['osaka-core1', 'xe-0/0/0'],
      ['osaka-core1', 'xe-0/0/1']];
    for (const [d, i] of sent) await publishSample(env.pub, d, i, 100);
    // Published right after "subscribed": each sample comes live, or in
    // the channel's history when that was read after it was stored.
    const got = (c, ch) => c.data(ch).some((s) => s.seq === 100) ||
      c.history(ch).some((h) => h.history.some((s) => s.seq === 100));
    await admin.waitFor('every sample', () => sent.every(([d, i]) => got(admin, `${PREFIX}:${d}:${i}`)));
    await tokyo.waitFor('tokyo samples', () => got(tokyo, `${PREFIX}:tokyo-edge2:ge-0/0/1`));
    await link.waitFor('its link', () => got(link, `${PREFIX}:osaka-core1:xe-0/0/1`));
    await fence(env.pub, [tokyo, link]); // anything it may not see would have come by now
    const seen = (c) => [...new Set(c.messages.filter((m) => m.channel).map((m) => m.channel))].sort();
    assert.deepEqual(seen(tokyo), [`${PREFIX}:tokyo-edge1:ge-0/0/0`, `${PREFIX}:tokyo-edge2:ge-0/0/1`]);
    assert.deepEqual(seen(link), [`${PREFIX}:osaka-core1:xe-0/0/1`]);
  });

  it('lists only the part of the inventory a restricted token may see', async () => {
    const tokyo = await env.connect({ url: url('tokyo-noc-token-01') });
    const link = await env.connect({ url: url('one-link-token-002') });
    const admin = await env.connect({ url: url('admin-secret-token-03') });
    const all = (await admin.request({ op: 'list', id: 1 }, 'list')).inventory;
    assert.deepEqual(all, JSON.parse(INVENTORY));
    const t = (await tokyo.request({ op: 'list', id: 2 }, 'list')).inventory;
    assert.deepEqual(contents(t), ['tokyo/tokyo-edge1/ge-0/0/0', 'tokyo/tokyo-edge2/ge-0/0/1']);
    assert.equal(t.version, 1);
    assert.equal(t.prefix, PREFIX);
    const l = (await link.request({ op: 'list', id: 3 }, 'list')).inventory;
    assert.deepEqual(contents(l), ['osaka/osaka-core1/xe-0/0/1']);
    assert.deepEqual(l.sites.map((s) => s.name), ['osaka']);
  });
});
