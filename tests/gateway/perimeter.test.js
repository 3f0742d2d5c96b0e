// The gateway's perimeter under hostile clients: DNS rebinding (the Host
// check), wrong-token floods (throttle, log rate), --check's token length,
// static files reached through symbolic links or dotfiles, the headers of
// the page, /metrics kept to its own address or token, oversized request
// heads (414, 431) and unmasked client frames (RFC 6455 5.1). Each attack
// is made as an attacker would, over raw sockets where a library would
// normalise it. docs/PROTOCOL.md part 2, "HTTP endpoints".
'use strict';

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const {
  GATEWAY, setup, httpGet, rawHttp, rawUpgrade, wsFrame, readFrames, freePort, tempDir, checkSanitizer,
} = require('./lib');

const TOKEN = 'perimeter-test-token-0123456789';
const WS_TEXT = 1;
const WS_CLOSE = 8;
const WS_PING = 9;
const WS_PONG = 10;

// A web_root with the page, and a few traps around it.
function webRootWithTraps() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-perimeter-'));
  const web = path.join(base, 'web');
  fs.mkdirSync(path.join(web, 'vendor'), { recursive: true });
  fs.mkdirSync(path.join(web, '.git'));
  fs.writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>ifmon</title>\n');
  fs.writeFileSync(path.join(web, 'app.js'), 'export const x = 1;\n');
  fs.writeFileSync(path.join(web, 'vendor', 'ok.js'), 'export const y = 2;\n');
  fs.writeFileSync(path.join(web, 'vendor', '.hidden'), 'HIDDEN-SECRET\n');
  fs.writeFileSync(path.join(web, '.env'), 'ENV-SECRET\n');
  fs.writeFileSync(path.join(web, '.git', 'config'), 'GIT-SECRET\n');
  fs.mkdirSync(path.join(web, '.old'));
  fs.writeFileSync(path.join(web, '.old', 'index.html'), 'OLD-SECRET\n');
  fs.writeFileSync(path.join(web, '.backup.js'), 'BACKUP-SECRET\n');
  fs.writeFileSync(path.join(base, 'outside.txt'), 'OUTSIDE-SECRET\n');
  fs.symlinkSync('/etc/passwd', path.join(web, 'pw.txt'));
  fs.symlinkSync('../outside.txt', path.join(web, 'secret.txt'));
  fs.symlinkSync('..', path.join(web, 'up'));
  fs.symlinkSync('.env', path.join(web, 'env.txt'));
  fs.symlinkSync('index.html', path.join(web, 'alias.html'));
  return { base, web };
}

// The CSP header as {directive: [sources]}.
function csp(headers) {
  const out = {};
  for (const d of (headers['content-security-policy'] || '').split(';')) {
    const [name, ...sources] = d.trim().split(/\s+/);
    if (name) out[name] = sources;
  }
  return out;
}

function header(head, name) {
  const m = new RegExp(`^${name}: *(.*)$`, 'im').exec(head);
  return m ? m[1].trim() : null;
}

describe('DNS rebinding: the Host header must name the gateway (default names)', () => {
  let env;
  let trap;
  before(async () => {
    trap = webRootWithTraps();
    env = await setup({ webRoot: trap.web });
  });
  after(async () => {
    await env.teardown();
    fs.rmSync(trap.base, { recursive: true, force: true });
  });

  it('refuses an upgrade from a rebound name with 421, though Origin matches Host', async () => {
    const port = env.gw.port;
    const evil = await rawUpgrade(port, { host: `attacker.example:${port}`, origin: `http://attacker.example:${port}` });
    evil.sock.destroy();
    assert.equal(evil.status, 421, evil.head);
    const own = await rawUpgrade(port, { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` });
    own.sock.destroy();
    assert.equal(own.status, 101, own.head);
  });

  it('refuses the page, its files and /metrics to a rebound name, and answers /healthz to any', async () => {
    const Host = `attacker.example:${env.gw.port}`;
    for (const p of ['/', '/index.html', '/app.js', '/metrics', '/missing']) {
      const r = await httpGet(`${env.gw.base}${p}`, { Host });
      assert.equal(r.status, 421, `${p}: ${r.status}`);
      assert.ok(!r.body.includes('ifmon_gateway_') && !r.body.includes('<title>'), r.body);
    }
    assert.equal((await httpGet(`${env.gw.base}/healthz`, { Host })).status, 200);
    assert.equal((await httpGet(`${env.gw.base}/healthz`, { Host: 'lb-check.internal' })).status, 200);
  });

  it('answers its own names: its address, localhost and the machine\'s name', async () => {
    const port = env.gw.port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `${os.hostname()}:${port}`,
      `[::1]:${port}`, '127.0.0.2']) {
      const r = await httpGet(`${env.gw.base}/`, { Host: host });
      assert.equal(r.status, 200, `Host ${host}: ${r.status}`);
    }
    for (const host of [`localhost.attacker.example:${port}`, '127.0.0.1.attacker.example', 'x', 'localhost:80x']) {
      const r = await rawHttp(port, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(r.status, 421, `Host ${JSON.stringify(host)}: ${r.text}`);
    }
    // HTTP/1.0 without Host is not a browser: served.
    assert.equal((await rawHttp(port, 'GET /index.html HTTP/1.0\r\n\r\n')).status, 200);
  });
});

describe('gateway.hosts: the names a load balancer passes on', () => {
  let env;
  let trap;
  before(async () => {
    trap = webRootWithTraps();
    env = await setup({ webRoot: trap.web, extra: ['  hosts: [noc.example.net]'] });
  });
  after(async () => {
    await env.teardown();
    fs.rmSync(trap.base, { recursive: true, force: true });
  });

  it('answers the listed name and addresses, and no other name', async () => {
    assert.equal((await httpGet(`${env.gw.base}/`, { Host: 'noc.example.net' })).status, 200);
    assert.equal((await httpGet(`${env.gw.base}/`, { Host: 'NOC.example.net.:443' })).status, 200);
    assert.equal((await httpGet(`${env.gw.base}/`, { Host: `127.0.0.1:${env.gw.port}` })).status, 200);
    assert.equal((await httpGet(`${env.gw.base}/`, { Host: `localhost:${env.gw.port}` })).status, 421);
    const up = await rawUpgrade(env.gw.port, { host: 'noc.example.net', origin: 'https://noc.example.net' });
    up.sock.destroy();
    assert.equal(up.status, 101, up.head);
    const evil = await rawUpgrade(env.gw.port, { host: 'evil.example.net', origin: 'https://evil.example.net' });
    evil.sock.destroy();
    assert.equal(evil.status, 421);
  });
});

describe('wrong tokens: each address is throttled', () => {
  let env;
  before(async () => {
    env = await setup({ token: TOKEN });
  });
  after(async () => {
    await env.teardown();
  });

  async function attempt(token, from = '127.0.0.1') {
    const r = await rawUpgrade(env.gw.port, { path: `/ws?token=${encodeURIComponent(token)}`, from });
    r.sock.destroy();
    return r;
  }

  it('answers 429 with Retry-After after 10 wrong tokens, even to the right one; not to another address', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await attempt(`wrong-${i}`)).status, 401);
    const blocked = await attempt('wrong-again');
    assert.equal(blocked.status, 429, blocked.head);
    const retry = Number(header(blocked.head, 'retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    assert.equal((await attempt(TOKEN)).status, 429);
    // Another address is not blocked, and keeps its own count.
    assert.equal((await attempt(TOKEN, '127.0.0.2')).status, 101);
    assert.equal((await attempt('wrong', '127.0.0.2')).status, 401);
    assert.match(env.gw.stderr, /refusing every upgrade and \/metrics request from 127\.0\.0\.1 for 60 s/);
  });
});

describe('a flood of wrong tokens from one client', () => {
  let env;
  before(async () => {
    env = await setup({ token: TOKEN });
  });
  after(async () => {
    await env.teardown();
  });

  it('writes a few log lines with counts, not one per attempt', async () => {
    const from = env.gw.stderr.length;
    const end = Date.now() + 3000;
    let attempts = 0;
    const statuses = {};
    async function worker(k) {
      while (Date.now() < end) {
        const r = await rawUpgrade(env.gw.port, { path: `/ws?token=guess-${k}-${attempts}` });
        r.sock.destroy();
        statuses[r.status] = (statuses[r.status] || 0) + 1;
        attempts++;
      }
    }
    await Promise.all(Array.from({ length: 16 }, (_, k) => worker(k)));
    // The gateway still answers, and has written what it had to.
    assert.equal((await httpGet(`${env.gw.base}/healthz`)).status, 200);
    const log = env.gw.stderr.slice(from);
    const lines = log.split('\n').filter(Boolean);
    console.log(`# ${attempts} attempts in 3 s (${JSON.stringify(statuses)}): ${lines.length} log lines, ${log.length} bytes`);
    assert.ok(attempts >= 300, `only ${attempts} attempts`);
    assert.ok(statuses[429] > 0 && statuses[401] === 10, JSON.stringify(statuses));
    assert.ok(lines.length <= 30, `${lines.length} log lines:\n${log.slice(0, 3000)}`);
    assert.match(log, /more like it not logged/);
  });
});

describe('--check: tokens must be long enough to resist guessing', () => {
  const dir = tempDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses a token under 16 characters as FILE:LINE:COLUMN, and accepts 16', () => {
    const file = path.join(dir, 'short.yml');
    fs.writeFileSync(file, 'gateway:\n  token: "s3cret-token"\n  tokens:\n    - {token: tokyo-noc, channels: ["ifmon:tokyo-*"]}\n');
    let r = spawnSync(GATEWAY, ['--config', file, '--check'], { encoding: 'utf8', timeout: 10000 });
    checkSanitizer(r.stderr);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`${file}:2:10: token: a token of 12 characters is too easy to guess; use at least 16`), r.stderr);
    assert.ok(r.stderr.includes(`${file}:4:15: tokens: a token of 9 characters`), r.stderr);
    fs.writeFileSync(file, 'gateway:\n  token: "0123456789abcdef"\n');
    r = spawnSync(GATEWAY, ['--config', file, '--check'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('static files: nothing outside web_root, no dotfiles', () => {
  let env;
  let trap;
  before(async () => {
    trap = webRootWithTraps();
    env = await setup({ webRoot: trap.web });
  });
  after(async () => {
    await env.teardown();
    fs.rmSync(trap.base, { recursive: true, force: true });
  });

  it('refuses a symbolic link that leads out of web_root or to a dotfile, with 404', async () => {
    for (const p of ['/pw.txt', '/secret.txt', '/up/outside.txt', '/env.txt']) {
      const r = await httpGet(`${env.gw.base}${p}`);
      assert.equal(r.status, 404, `${p}: ${r.status} ${r.body.slice(0, 200)}`);
      assert.ok(!/root:|SECRET/.test(r.body), `${p} served a secret: ${r.body.slice(0, 200)}`);
    }
    // A link that stays inside is a file of the page.
    const alias = await httpGet(`${env.gw.base}/alias.html`);
    assert.equal(alias.status, 200);
    assert.match(alias.body, /<title>ifmon<\/title>/);
  });

  it('refuses dotfiles and dot-directories with 404, however written', async () => {
    for (const p of ['/.env', '/.git/config', '/vendor/.hidden', '/%2eenv', '/%2Egit/config', '/vendor/%2ehidden',
      '/.backup.js', '/.old/index.html', '/.old/', '/%2ebackup.js']) {
      const r = await rawHttp(env.gw.port, `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      assert.equal(r.status, 404, `${p}: ${r.text.slice(0, 300)}`);
      assert.ok(!r.text.includes('SECRET'), `${p} served a secret`);
    }
    assert.equal((await httpGet(`${env.gw.base}/vendor/ok.js`)).status, 200);
  });
});

describe('headers of the page and of the endpoints', () => {
  let env;
  let trap;
  before(async () => {
    trap = webRootWithTraps();
    env = await setup({ webRoot: trap.web });
  });
  after(async () => {
    await env.teardown();
    fs.rmSync(trap.base, { recursive: true, force: true });
  });

  it('serves the page and its files unsniffable, unframable, without Referer, under a strict CSP', async () => {
    for (const p of ['/', '/app.js', '/vendor/ok.js']) {
      const r = await httpGet(`${env.gw.base}${p}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
      assert.equal(r.headers['x-frame-options'], 'DENY', p);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', p);
      const c = csp(r.headers);
      assert.deepEqual(c['default-src'], ["'none'"], p);
      assert.deepEqual(c['script-src'], ["'self'"], p);
      assert.deepEqual(c['style-src'], ["'self'"], p);
      assert.deepEqual(c['frame-ancestors'], ["'none'"], p);
      assert.ok(c['connect-src'].includes(`ws://127.0.0.1:${env.gw.port}`), JSON.stringify(c));
      assert.ok(!r.headers['content-security-policy'].includes('unsafe'), r.headers['content-security-policy']);
    }
  });

  it('sends nosniff and a CSP that runs nothing with /healthz, /metrics and refusals', async () => {
    for (const p of ['/healthz', '/metrics', '/missing.js']) {
      const r = await httpGet(`${env.gw.base}${p}`);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
      assert.equal(r.headers['x-frame-options'], 'DENY', p);
      if (p !== '/missing.js') assert.deepEqual(csp(r.headers)['default-src'], ["'none'"], p);
    }
  });
});

describe('/metrics on its own address (gateway.metrics_listen)', () => {
  let env;
  let mport;
  let trap;
  before(async () => {
    trap = webRootWithTraps();
    mport = await freePort();
    env = await setup({ webRoot: trap.web, extra: [`  metrics_listen: "127.0.0.1:${mport}"`] });
  });
  after(async () => {
    await env.teardown();
    fs.rmSync(trap.base, { recursive: true, force: true });
  });

  it('serves /metrics only there, and nothing else there', async () => {
    assert.equal((await httpGet(`${env.gw.base}/metrics`)).status, 404);
    const m = await httpGet(`http://127.0.0.1:${mport}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.body, /^ifmon_gateway_connections \d+$/m);
    assert.equal(m.headers['x-content-type-options'], 'nosniff');
    for (const p of ['/', '/index.html', '/app.js', '/pw.txt']) {
      assert.equal((await httpGet(`http://127.0.0.1:${mport}${p}`)).status, 404, p);
    }
    const up = await rawUpgrade(mport, { host: `127.0.0.1:${mport}` });
    up.sock.destroy();
    assert.equal(up.status, 404);
    assert.equal((await httpGet(`http://127.0.0.1:${mport}/metrics`, { Host: 'attacker.example' })).status, 421);
    assert.equal((await httpGet(`${env.gw.base}/`)).status, 200);
  });
});

describe('/metrics behind the token (gateway.metrics_token)', () => {
  let env;
  before(async () => {
    env = await setup({ token: TOKEN, extra: ['  metrics_token: true'] });
  });
  after(async () => {
    await env.teardown();
  });

  it('wants the full-access token as a Bearer, and counts wrong ones against the address', async () => {
    const url = `${env.gw.base}/metrics`;
    const none = await httpGet(url);
    assert.equal(none.status, 401);
    assert.match(none.headers['www-authenticate'], /^Bearer/);
    assert.ok(!none.body.includes('ifmon_gateway_'));
    assert.equal((await httpGet(`${url}?token=${TOKEN}`)).status, 401);
    const ok = await httpGet(url, { Authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^ifmon_gateway_connections \d+$/m);
    for (let i = 0; i < 10; i++) {
      assert.equal((await httpGet(url, { Authorization: `Bearer wrong-${i}` })).status, 401);
    }
    const blocked = await httpGet(url, { Authorization: `Bearer ${TOKEN}` });
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers['retry-after']) >= 1);
  });
});

describe('oversized request lines and heads', () => {
  let env;
  let trap;
  before(async () => {
    trap = webRootWithTraps();
    env = await setup({ webRoot: trap.web });
  });
  after(async () => {
    await env.teardown();
    fs.rmSync(trap.base, { recursive: true, force: true });
  });

  it('answers 414 to a request line too long, 431 to a head too large, and closes', async () => {
    const port = env.gw.port;
    const cases = [
      [`GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 414],
      [`GET /ws?token=${'t'.repeat(2500)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\r\n`, 414],
      [`GET /?${'a&'.repeat(40)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 414],
      [`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(5000)}\r\n\r\n`, 431],
      [`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-A: b\r\n'.repeat(60)}\r\n`, 431],
      [`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nCookie: ${'c'.repeat(8000)}\r\n\r\n`, 431],
    ];
    for (const [request, status] of cases) {
      const what = `${JSON.stringify(request.slice(0, 40))}... (${request.length} bytes)`;
      const r = await rawHttp(port, request);
      assert.equal(r.status, status, `${what}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /\r\nconnection: close\r\n/i, what);
      assert.equal((await httpGet(`${env.gw.base}/healthz`)).status, 200, `${what}: /healthz afterwards`);
    }
  });

  it('serves heads under the limits', async () => {
    const r = await rawHttp(env.gw.port, `GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(1500)}\r\n${'X-A: b\r\n'.repeat(40)}\r\n`);
    assert.equal(r.status, 200, r.text.slice(0, 200));
  });
});

describe('unmasked client frames (RFC 6455 5.1)', () => {
  let env;
  before(async () => {
    env = await setup({});
  });
  after(async () => {
    await env.teardown();
  });

  // The frames the gateway sends after `frame` on a fresh WebSocket,
  // until a close frame (or stop(frames)).
  async function answerTo(frame, stop) {
    const up = await rawUpgrade(env.gw.port);
    assert.equal(up.status, 101, up.head);
    up.sock.write(frame);
    const r = await readFrames(up.sock, up.rest, 5000, stop);
    up.sock.destroy();
    return r.frames;
  }

  const show = (frames) => JSON.stringify(frames.map((f) => [f.opcode, f.payload.toString()]));

  it('fails the connection with 1002 on an unmasked text frame, without acting on it', async () => {
    const frames = await answerTo(wsFrame(WS_TEXT, '{"op":"list","id":1}', false));
    const close = frames.find((f) => f.opcode === WS_CLOSE);
    assert.ok(close, `no close frame: ${show(frames)}`);
    assert.equal(close.payload.readUInt16BE(0), 1002);
    assert.equal(frames.filter((f) => f.opcode === WS_CLOSE).length, 1, show(frames));
    assert.ok(!frames.some((f) => f.opcode === WS_TEXT), 'the unmasked request was answered');
  });

  it('fails the connection with 1002 on an unmasked control frame, and on one after masked ones', async () => {
    for (const frame of [wsFrame(WS_PING, 'x', false), wsFrame(WS_PONG, '', false),
      Buffer.concat([wsFrame(WS_TEXT, '{"op":"list","id":2}'), wsFrame(WS_PONG, '', false)])]) {
      const frames = await answerTo(frame);
      const close = frames.find((f) => f.opcode === WS_CLOSE);
      assert.ok(close, `no close frame: ${show(frames)}`);
      assert.equal(close.payload.readUInt16BE(0), 1002);
    }
  });

  it('answers masked frames as before', async () => {
    const isList = (f) => f.opcode === WS_TEXT && JSON.parse(f.payload).op === 'list';
    const frames = await answerTo(wsFrame(WS_TEXT, '{"op":"list","id":7}'), (fs) => fs.some(isList));
    assert.ok(frames.some(isList), show(frames));
    assert.ok(!frames.some((f) => f.opcode === WS_CLOSE));
  });
});
