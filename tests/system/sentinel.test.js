// System test (issue 11, Redis Sentinel): a master, a replica and three
// Sentinels (redis-server --sentinel), two collectors sharing the inventory
// (collector.shared: their leases live in the Redis that fails over) and
// two gateways, all finding the master through the Sentinels
// (redis.sentinels, redis.master_name), and WebSocket clients. The master
// is killed (kill -9) FAILOVERS times, each time once the Sentinels have
// promoted the last replica and the killed server is back as a replica
// (the second time, a collector is killed too and started again): no
// daemon exits, every client receives samples polled after the kill
// within 10 s of it, no sample reaches a client twice, no interface's
// samples (in the order they were taken) change collector more than
// twice (away and back: never interleaved), both
// collectors hold devices at the end, and the daemons'
// descriptors and RSS are flat from the second failover to the last.
//
// Processes on 127.0.0.1 high ports in a temp dir, stopped at the end
// (SIGKILL on the way out if a test failed). IFMON_SAN=1: ASan builds.
'use strict';

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const { snmprec } = require('../sim/snmprec');
const { TOP, SAN, PREFIX, RedisClient, Gateway, freePort, until } = require('../gateway/lib');
const { freeUdpPort, sanEnv } = require('./lib');

const COLLECTOR = path.resolve(TOP, process.env.IFMON_COLLECTOR || 'collector/ifmon-collector');
const SIMAGENT = path.join(TOP, 'tests', 'sim', 'simagent');
const FAILOVERS = 5;
const CLIENTS = 10;
const DEVICES = 4;
const COLLECTORS = ['c1', 'c2'];
const IFACES = 4;
const MASTER = 'ifmon-master';
const LIMIT_MS = 10000; // the issue's bound, kill to data
const FD_SLACK = 2;
const RSS_SLACK_KIB = SAN ? 20 * 1024 : 4096;

const S = { dir: null, procs: [], redis: {}, sentinels: [], gateways: [], clients: [], collectors: {}, collectorArgv: {} };

function launch(name, argv, env = process.env) {
  const log = path.join(S.dir, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd], env });
  fs.closeSync(fd);
  proc.logPath = log;
  proc.exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve({ code, sig })));
  S.procs.push(proc);
  return proc;
}

const alive = (p) => p.exitCode === null && p.signalCode === null;
const logOf = (p) => {
  try {
    return fs.readFileSync(p.logPath, 'utf8');
  } catch {
    return '';
  }
};

async function redisCommand(port, ...args) {
  const c = await new RedisClient(port).connect();
  try {
    return await c.command(...args);
  } finally {
    c.close();
  }
}

// A redis-server on port, a replica of `of` (a port) when given.
async function startRedis(port, of) {
  // A server killed comes back empty (its last sync's file would be stale
  // data) and a replica's full sync starts at once (not 5 s later).
  fs.rmSync(path.join(S.dir, `dump-${port}.rdb`), { force: true });
  const args = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', S.dir, '--dbfilename', `dump-${port}.rdb`,
    '--repl-diskless-sync-delay', '0'];
  if (of) args.push('--replicaof', '127.0.0.1', String(of));
  S.redis[port] = launch(`redis-${port}-${Date.now()}`, args);
  await until(`redis ${port}`, async () => {
    try {
      return (await redisCommand(port, 'PING')) === 'PONG';
    } catch {
      return false;
    }
  }, 10000, 50);
}

async function masterPort() {
  const r = await redisCommand(S.sentinels[0], 'SENTINEL', 'get-master-addr-by-name', MASTER);
  return Number(r[1]);
}

function usage(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { fds: fs.readdirSync(`/proc/${pid}/fd`).length, rss: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) };
}

class Client {
  constructor(k, url) {
    this.k = k;
    this.seen = new Map(); // channel -> set of `collector ts`
    this.owners = new Map(); // channel -> [[ts, collector], ...] as received
    this.duplicates = [];
    this.lastTs = 0; // newest sample ts (s)
    this.subscribed = false;
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (buf) => {
      const v = JSON.parse(buf.toString());
      for (const m of Array.isArray(v) ? v : [v]) {
        if (m.op === 'subscribed') this.subscribed = true;
        if (!m.data || typeof m.data.interface !== 'string') continue;
        const seqs = this.seen.get(m.channel) || new Set();
        // One sample twice: the same collector and ts (a collector's seq
        // restarts with it, and with a device it takes back).
        const key = `${m.data.collector} ${m.data.ts}`;
        if (seqs.has(key)) this.duplicates.push(`${m.channel} ${key} seq ${m.data.seq}`);
        seqs.add(key);
        this.seen.set(m.channel, seqs);
        const per = this.owners.get(m.channel) || [];
        per.push([m.data.ts, m.data.collector]);
        this.owners.set(m.channel, per);
        this.lastTs = Math.max(this.lastTs, m.data.ts);
      }
    });
  }
}

// Since `since` (s), every device's samples came from one collector and
// only one, and both collectors had some.
function sharing(since) {
  const by = new Map(); // device -> Set of collectors
  for (const c of S.clients) {
    for (const [ch, per] of c.owners) {
      const dev = ch.split(':')[1];
      for (const [ts, who] of per) {
        if (ts < since) continue;
        by.set(dev, (by.get(dev) || new Set()).add(who));
      }
    }
  }
  const all = new Set([...by.values()].flatMap((s) => [...s]));
  return by.size === DEVICES && [...by.values()].every((s) => s.size === 1) && all.size === COLLECTORS.length;
}

before(async () => {
  S.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-sentinel-'));
  fs.chmodSync(S.dir, 0o755);
  const [m, r] = [await freePort(), await freePort()];
  await startRedis(m);
  await startRedis(r, m);
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = path.join(S.dir, `sentinel-${port}.conf`);
    fs.writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${S.dir}`,
      `sentinel monitor ${MASTER} 127.0.0.1 ${m} 2`,
      `sentinel down-after-milliseconds ${MASTER} 1000`,
      `sentinel failover-timeout ${MASTER} 1500`, '',
    ].join('\n'));
    launch(`sentinel-${port}`, ['redis-server', conf, '--sentinel']);
    S.sentinels.push(port);
  }
  for (const port of S.sentinels) {
    await until(`sentinel ${port} to know the replica`, async () => {
      try {
        const reps = await redisCommand(port, 'SENTINEL', 'replicas', MASTER);
        return reps.length === 1;
      } catch {
        return false;
      }
    }, 20000, 100);
  }
  const sentinelLines = [`  sentinels: [${S.sentinels.map((p) => `"127.0.0.1:${p}"`).join(', ')}]`,
    `  master_name: ${MASTER}`];

  const data = path.join(S.dir, 'data');
  fs.mkdirSync(data, { mode: 0o755 });
  for (let d = 0; d < DEVICES; d++) fs.writeFileSync(path.join(data, `dev${d}.snmprec`), snmprec(IFACES, d));
  const agentPort = await freeUdpPort();
  launch('simagent', [SIMAGENT, '--data-dir', data, '--listen', `127.0.0.1:${agentPort}`]);
  // host/port name a server that is not there: the Sentinels decide.
  for (const id of COLLECTORS) {
    const config = path.join(S.dir, `collector-${id}.yml`);
    fs.writeFileSync(config, [
      'redis:', '  host: 127.0.0.1', '  port: 1', `  prefix: ${PREFIX}`, '  history: 60', ...sentinelLines,
      `collector: {shared: true, id: ${id}}`,
      'defaults: {interval: "1s", timeout: "800ms", retries: 1, version: "2c"}', 'devices:',
      ...Array.from({ length: DEVICES }, (_, d) =>
        `  - {name: dev${d}, site: s, address: "127.0.0.1:${agentPort}", community: dev${d}}`), ''].join('\n'));
    S.collectorArgv[id] = [COLLECTOR, '--config', config];
    S.collectors[id] = launch(`collector-${id}`, S.collectorArgv[id], sanEnv());
  }
  for (let g = 0; g < 2; g++) {
    const gdir = path.join(S.dir, `gateway${g + 1}`);
    fs.mkdirSync(gdir);
    const gw = new Gateway(gdir, { redisPort: 1, redisExtra: sentinelLines, maxConnections: 100 });
    await gw.start();
    S.gateways.push(gw);
    S.procs.push(gw.proc);
  }
  for (let k = 0; k < CLIENTS; k++) S.clients.push(new Client(k, S.gateways[k % 2].url));
  await Promise.all(S.clients.map((c) => c.opened));
  for (const c of S.clients) c.ws.send(JSON.stringify({ op: 'subscribe', channels: [`${PREFIX}:dev${c.k % DEVICES}:*`], id: 1 }));
  await until('every client subscribed and getting samples, from both collectors', () =>
    S.clients.every((c) => c.subscribed && c.lastTs > 0) && sharing(Date.now() / 1000 - 2), 30000, 100);
});

after(async () => {
  for (const c of S.clients) c.ws.terminate();
  for (const gw of S.gateways) {
    try {
      await gw.stop();
    } catch {}
  }
  const collectors = Object.values(S.collectors);
  for (const p of S.procs) {
    if (alive(p)) p.kill(collectors.includes(p) ? 'SIGTERM' : 'SIGKILL');
  }
  await Promise.all(S.procs.map((p) => p.exited));
  if (process.env.IFMON_KEEP_TMP !== '1') fs.rmSync(S.dir, { recursive: true, force: true });
});

test(`${FAILOVERS} failovers: every client has data again within 10 s of the master's kill -9, nothing twice`, async (t) => {
  const daemons = () => [...COLLECTORS.map((id) => [`collector ${id}`, S.collectors[id]]),
    ['gateway1', S.gateways[0].proc], ['gateway2', S.gateways[1].proc]];
  const start = Date.now() / 1000;
  const marks = [];
  for (let f = 1; f <= FAILOVERS; f++) {
    const old = await masterPort();
    const killedAt = Date.now();
    S.redis[old].kill('SIGKILL');
    await S.redis[old].exited;
    if (f === 2) {
      // A collector dies too, in the middle of the failover: the other
      // takes its devices over, and the one started in its place finds
      // the new master through the Sentinels and takes its share back.
      S.collectors.c1.kill('SIGKILL');
      await S.collectors.c1.exited;
      S.collectors.c1 = launch('collector-c1-again', S.collectorArgv.c1, sanEnv());
    }
    await until(`failover ${f}: a client of each gateway with samples polled after the kill`, () =>
      S.clients.every((c) => c.lastTs * 1000 > killedAt + 100), LIMIT_MS + 5000, 50);
    const took = Date.now() - killedAt;
    const fresh = await masterPort();
    t.diagnostic(`failover ${f}: master ${old} -> ${fresh}; every client had new data ${took} ms after the kill`);
    assert.notEqual(fresh, old);
    assert.ok(took < LIMIT_MS, `failover ${f}: ${took} ms`);
    for (const [name, p] of daemons()) assert.ok(alive(p), `${name} exited:\n${logOf(p).slice(-3000)}`);
    // The killed server comes back as a replica of the new master, and
    // the Sentinels see it, before the next kill.
    await startRedis(old, fresh);
    // ... and holds the new master's data (an operator's drill waits for
    // this too: promoting a replica still syncing loses the keys).
    await until(`failover ${f}: ${old} in sync with ${fresh}`, async () =>
      /master_link_status:up/.test(await redisCommand(old, 'INFO', 'replication')), 20000, 100);
    // Before the next kill (none after the last), the Sentinels must see
    // it as a healthy replica, or they have none to promote. Up to 75 s:
    // a Sentinel whose timer was held up over 2 s (a stall of this shared
    // machine) enters TILT mode and keeps every flag it had, s_down
    // included, for 30 s (Redis' SENTINEL_TILT_PERIOD), and a second
    // stall starts it again; the next kill must not come before it acts.
    if (f < FAILOVERS) {
      const seen = { tilt: false, flags: '' };
      const waited = Date.now();
      try {
        await until(`failover ${f}: the Sentinels to see ${old} as a replica`, async () => {
          if (/sentinel_tilt:1/.test(await redisCommand(S.sentinels[0], 'INFO', 'sentinel'))) seen.tilt = true;
          const reps = await redisCommand(S.sentinels[0], 'SENTINEL', 'replicas', MASTER);
          return reps.some((r) => {
            const o = {};
            for (let i = 0; i + 1 < r.length; i += 2) o[r[i]] = r[i + 1];
            if (Number(o.port) === old) seen.flags = o.flags;
            return Number(o.port) === old && !/s_down|o_down|disconnected/.test(o.flags);
          });
        }, 75000, 100);
      } finally {
        t.diagnostic(`failover ${f}: the Sentinels saw ${old} as a healthy replica after ` +
          `${Date.now() - waited} ms (last flags ${seen.flags || 'none'}; TILT ${seen.tilt ? 'seen' : 'not seen'})`);
      }
    }
    marks.push(Object.fromEntries(daemons().map(([name, p]) => [name, usage(p.pid)])));
  }
  for (const c of S.clients) assert.deepEqual(c.duplicates, [], `client ${c.k} got samples twice`);
  // Per interface, in the order its samples were taken (ts), how often
  // the collector changes over all the failovers: twice at most, for the
  // devices of the collector killed in failover 2 (taken over, then handed
  // back when it returns); a collector still publishing after the other
  // took over (fencing failed), or the first one back taking every device
  // and handing half of them back while the other still polls them,
  // interleaves, a change per sample. (Counting 1 s intervals with samples
  // of both would find two for a clean away-and-back when both hand-overs
  // land mid-second.)
  const changes = {};
  for (const c of S.clients) {
    for (const [ch, per] of c.owners) {
      const got = per.filter(([ts]) => ts >= start).sort((a, b) => a[0] - b[0]);
      let n = 0;
      for (let i = 1; i < got.length; i++) if (got[i][1] !== got[i - 1][1]) n++;
      changes[ch] = Math.max(changes[ch] || 0, n);
    }
  }
  t.diagnostic(`collector changes per interface, in the order of the samples' ts: ${JSON.stringify(changes)}`);
  assert.ok(Object.values(changes).every((n) => n <= 2), JSON.stringify(changes));
  await until('both collectors to share the devices again', () => sharing(Date.now() / 1000 - 2), 20000, 100);
  for (const name of daemons().map(([name]) => name)) {
    const a = marks[1][name];
    const b = marks[marks.length - 1][name];
    t.diagnostic(`${name}: fds ${a.fds} -> ${b.fds}, rss ${a.rss} -> ${b.rss} KiB (failover 2 -> ${FAILOVERS})`);
    assert.ok(Math.abs(b.fds - a.fds) <= FD_SLACK, `${name} fds ${a.fds} -> ${b.fds}`);
    assert.ok(b.rss - a.rss <= RSS_SLACK_KIB, `${name} rss ${a.rss} -> ${b.rss} KiB`);
  }
  for (const id of COLLECTORS) assert.match(logOf(S.collectors[id]), /up, the master of ifmon-master/);
});
