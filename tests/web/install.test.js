// `make` builds what `make install` installs: from a fresh copy of the
// repository (its tracked files only, as a clone has them: no node_modules,
// no web/vendor, no binaries), `make` then `make install DESTDIR=...`, then
// the installed gateway serving the installed web root, and the page
// loaded in headless Chromium: every request it makes must succeed (the
// vendored chart library included) and the page must start.
//
// The copy builds with the machine's npm cache (package-lock.json): it
// needs the npm registry only if the cache is cold, as `make` would.
'use strict';

const assert = require('node:assert/strict');
const { test, after } = require('node:test');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { until, freePort, TOP } = require('./lib');

const CHROMIUM = process.env.IFMON_CHROMIUM || '/usr/bin/chromium';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-install-'));
const procs = [];

after(() => {
  for (const p of procs) {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  if (process.env.IFMON_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
});

function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${e.status}):\n${e.stdout}\n${e.stderr}`);
  }
}

test('make and make install from a fresh copy give a page that loads everything it asks for', async () => {
  // The tracked files, as a clone has them.
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const files = run('git', ['-C', TOP, 'ls-files', '-z']).split('\0').filter((f) => f && fs.existsSync(path.join(TOP, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
    fs.copyFileSync(path.join(TOP, f), path.join(src, f));
    fs.chmodSync(path.join(src, f), fs.statSync(path.join(TOP, f)).mode);
  }
  assert.ok(!fs.existsSync(path.join(src, 'web', 'vendor')), 'the copy starts without web/vendor');

  run('make', ['-s', '-C', src, '-j2'], { timeout: 600000 });
  const dest = path.join(dir, 'root');
  run('make', ['-s', '-C', src, 'install', `DESTDIR=${dest}`, 'PREFIX=/usr'], { timeout: 300000 });
  const webRoot = path.join(dest, 'usr', 'share', 'ifmon', 'web');
  assert.ok(fs.existsSync(path.join(webRoot, 'index.html')), 'index.html installed');

  // The installed gateway on a private Redis.
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  procs.push(redis);
  const port = await freePort();
  const cfg = path.join(dir, 'ifmon.yml');
  fs.writeFileSync(cfg, [
    `redis: {host: 127.0.0.1, port: ${redisPort}}`,
    `gateway: {listen: "127.0.0.1:${port}", web_root: ${JSON.stringify(webRoot)}}`,
    '',
  ].join('\n'));
  let log = '';
  const gw = spawn(path.join(dest, 'usr', 'bin', 'ifmon-gateway'), ['--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(gw);
  gw.stderr.on('data', (d) => {
    log += d;
  });
  await until('the installed gateway listening', () => /listening on/.test(log), 10000);

  const profile = fs.mkdtempSync(path.join(dir, 'chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const page = await browser.newPage();
    const failed = [];
    const loaded = [];
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure() && r.failure().errorText}`));
    page.on('response', (r) => {
      loaded.push(r.url());
      if (r.status() >= 400) failed.push(`${r.url()}: HTTP ${r.status()}`);
    });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/`);
    // The page started: its modules (and uPlot's) ran and it connected.
    await until('the page connected', async () => {
      const s = await page.evaluate(() => window.ifmon && window.ifmon.state());
      return s && s.connection === 'connected';
    }, 10000);
    assert.deepEqual(failed, [], `failed requests:\n${failed.join('\n')}`);
    assert.deepEqual(errors, []);
    assert.ok(loaded.some((u) => u.endsWith('/vendor/uPlot.esm.js')), 'uPlot module loaded');
    assert.ok(loaded.some((u) => u.endsWith('/vendor/uPlot.min.css')), 'uPlot styles loaded');
  } finally {
    await browser.close();
  }
});
