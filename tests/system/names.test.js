// System test: an agent's interface names as operators meet them on older
// gear (Latin-1 bytes, not UTF-8) and as an attacker could make them
// (control characters) go through the whole stack under one policy
// (docs/PROTOCOL.md part 1, "Interface names"): the collector reads text
// that is not UTF-8 as Latin-1 and converts it, so the channel, every
// message, the inventory and the gateway all carry the same UTF-8 name;
// and a name quoted in a log line cannot start a line of its own.
//
// The stack, on 127.0.0.1 high ports in a temp dir: redis-server,
// tests/sim/simagent, the collector (env IFMON_COLLECTOR) and a gateway
// (env IFMON_GATEWAY). IFMON_SAN=1: ASan builds.
'use strict';

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const { TOP, SAN, PREFIX, RedisServer, Gateway, freePort, checkSanitizer, until } = require('../gateway/lib');
const { freeUdpPort } = require('./lib');

const COLLECTOR = path.resolve(TOP, process.env.IFMON_COLLECTOR || 'collector/ifmon-collector');
const SIMAGENT = path.join(TOP, 'tests', 'sim', 'simagent');

// ifName values as the agent sends them (bytes), and what must come out.
const LATIN1 = Buffer.from('Port f\xfcr Kunde 1', 'latin1');
const LATIN1_UTF8 = 'Port für Kunde 1';
const DESCR_LATIN1 = Buffer.from('Schnittstelle \xe4 \xb0C', 'latin1');
const DESCR_UTF8 = 'Schnittstelle ä °C';
const UTF8 = 'Übertragung ✓';
// Two interfaces with this name: the collector logs a warning quoting it.
const FORGED = Buffer.from('dup\n2026-12-01T00:00:00.000Z ifmon-collector[1]: error: forged', 'latin1');

function hex(b) {
  return Buffer.from(b).toString('hex');
}

// The .snmprec of one device: interface i has ifName names[i-1] (bytes).
function snmprec(names) {
  const recs = [['1.3.6.1.2.1.1.3.0', '67:numeric', 'rate=100']];
  names.forEach((name, k) => {
    const i = k + 1;
    recs.push(
      [`1.3.6.1.2.1.2.2.1.2.${i}`, '4x', hex(i === 1 ? DESCR_LATIN1 : Buffer.from(`Ethernet${i}`))],
      [`1.3.6.1.2.1.2.2.1.8.${i}`, '2', '1'],
      [`1.3.6.1.2.1.31.1.1.1.1.${i}`, '4x', hex(name)],
      [`1.3.6.1.2.1.31.1.1.1.6.${i}`, '70:numeric', `rate=${1000 * i},initial=5`],
      [`1.3.6.1.2.1.31.1.1.1.10.${i}`, '70:numeric', `rate=${500 * i},initial=5`],
      [`1.3.6.1.2.1.31.1.1.1.15.${i}`, '66', '10000'],
    );
  });
  const key = (o) => o.split('.').map(Number);
  recs.sort((a, b) => {
    const x = key(a[0]);
    const y = key(b[0]);
    for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k] - y[k];
    return x.length - y.length;
  });
  return recs.map((r) => r.join('|')).join('\n') + '\n';
}

const S = { dir: null, procs: [], redis: null, gateway: null, collectorLog: null };

function spawnLogged(name, argv) {
  const log = path.join(S.dir, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  const env = { ...process.env };
  if (SAN) env.LSAN_OPTIONS = `suppressions=${path.join(TOP, 'tests', 'lsan.supp')}:print_suppressions=0`;
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd], env });
  fs.closeSync(fd);
  S.procs.push(p);
  return log;
}

before(async () => {
  S.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-names-'));
  fs.chmodSync(S.dir, 0o755);
  const data = path.join(S.dir, 'data');
  fs.mkdirSync(data, { mode: 0o755 });
  fs.writeFileSync(path.join(data, 'lat1.snmprec'), snmprec([LATIN1, Buffer.from(UTF8), FORGED, FORGED]));

  const redisPort = await freePort();
  S.redis = new RedisServer(S.dir, redisPort);
  await S.redis.start();
  const agentPort = await freeUdpPort();
  spawnLogged('simagent', [SIMAGENT, '--data-dir', data, '--listen', `127.0.0.1:${agentPort}`]);
  const config = path.join(S.dir, 'collector.yml');
  fs.writeFileSync(config, [
    `redis: {host: 127.0.0.1, port: ${redisPort}, prefix: ${PREFIX}, history: 60}`,
    'defaults: {interval: "1s", timeout: "800ms", retries: 1, version: "2c"}',
    'devices:',
    `  - {name: lat1, site: old, address: "127.0.0.1:${agentPort}", community: lat1}`,
    '',
  ].join('\n'));
  S.collectorLog = spawnLogged('collector', [COLLECTOR, '--config', config]);
  const gdir = path.join(S.dir, 'gateway');
  fs.mkdirSync(gdir);
  S.gateway = new Gateway(gdir, { redisPort });
  await S.gateway.start();
});

after(async () => {
  if (S.gateway) await S.gateway.stop();
  for (const p of S.procs) {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  }
  await Promise.all(S.procs.map((p) => (p.exitCode === null && p.signalCode === null
    ? new Promise((r) => p.once('exit', r)) : null)));
  if (S.redis) await S.redis.kill("SIGTERM");
  if (S.collectorLog) checkSanitizer(fs.readFileSync(S.collectorLog, 'utf8'));
  if (S.dir && process.env.IFMON_KEEP_TMP !== '1') fs.rmSync(S.dir, { recursive: true, force: true });
});

async function inventory() {
  const c = await S.redis.client();
  try {
    const raw = await c.command('GET', `${PREFIX}:inventory`);
    return raw ? JSON.parse(raw) : null;
  } finally {
    c.close();
  }
}

test('a Latin-1 name is one UTF-8 name in the channel, the messages, the inventory and the gateway', async () => {
  const channel = `${PREFIX}:lat1:${LATIN1_UTF8}`;
  let inv;
  await until('the inventory with the device\'s interfaces', async () => {
    inv = await inventory();
    const dev = inv && inv.sites.flatMap((s) => s.devices).find((d) => d.name === 'lat1');
    return dev && dev.interfaces.length === 3;
  }, 30000, 100);
  const ifs = inv.sites.flatMap((s) => s.devices).find((d) => d.name === 'lat1').interfaces;
  const lat = ifs.find((f) => f.ifindex === 1);
  assert.equal(lat.name, LATIN1_UTF8);
  assert.equal(lat.descr, DESCR_UTF8);
  assert.equal(lat.channel, channel);
  assert.equal(lat.history, `${PREFIX}:history:lat1:${LATIN1_UTF8}`);
  assert.equal(ifs.find((f) => f.ifindex === 2).name, UTF8);

  // Through the gateway: history then live data on the UTF-8 channel, and
  // `list` lists it.
  const ws = new WebSocket(S.gateway.url);
  const got = [];
  ws.on('message', (buf) => {
    const v = JSON.parse(buf.toString());
    for (const m of Array.isArray(v) ? v : [v]) got.push(m);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  try {
    ws.send(JSON.stringify({ op: 'subscribe', channels: [`${PREFIX}:lat1:*`], id: 1 }));
    await until('live samples of the Latin-1 interface', () =>
      got.filter((m) => m.channel === channel && m.data).length >= 2, 15000, 50);
    for (const m of got.filter((x) => x.channel === channel && x.data)) {
      assert.equal(m.data.interface, LATIN1_UTF8);
      assert.equal(m.data.device, 'lat1');
    }
    assert.ok(got.some((m) => m.channel === `${PREFIX}:lat1:${UTF8}` && m.data),
      'the UTF-8 interface is delivered too');
    assert.deepEqual(got.filter((m) => m.op === 'error'), []);
    ws.send(JSON.stringify({ op: 'list', id: 2 }));
    await until('the list reply', () => got.some((m) => m.op === 'list'), 5000, 20);
    const listed = got.find((m) => m.op === 'list').inventory.sites.flatMap((s) => s.devices)
      .flatMap((d) => d.interfaces).map((f) => f.channel);
    assert.ok(listed.includes(channel), `list has ${channel}: ${JSON.stringify(listed)}`);
  } finally {
    ws.terminate();
  }
});

test('a name quoted in the collector\'s log cannot forge a log line', async () => {
  let log = '';
  await until('the duplicate-name warning', () => {
    log = fs.readFileSync(S.collectorLog, 'utf8');
    return log.includes('are both named');
  }, 30000, 100);
  const lines = log.split('\n');
  assert.ok(!lines.some((l) => l.startsWith('2026-12-01T00:00:00.000Z')), 'no line begins with the forged text');
  const warn = lines.find((l) => l.includes('are both named'));
  assert.match(warn, /both named "dup\\n2026-12-01T00:00:00\.000Z ifmon-collector\[1\]: error: forged"/);
});
