// docs/screenshot.png: the overview of `make run`'s simulated sites
// (tests/sim/sites.py: three sites of four devices, aliases, errors, an
// alert or two), from the real stack: redis-server, snmpsimd with the
// variation modules, the collector and the gateway, in a temp dir on
// 127.0.0.1 high ports; headless Chromium at 1920x1080 once the alerts are
// raised and listed.
//
//   node tests/web/screenshot.js [OUT.png]     (default docs/screenshot.png)
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { Proc, freePort, until, sleep, TOP } = require('./lib.js');

const OUTFILE = path.resolve(process.argv[2] || path.join(TOP, 'docs', 'screenshot.png'));
const CHROMIUM = process.env.IFMON_CHROMIUM || '/usr/bin/chromium';

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ifmon-shot-'));
  fs.chmodSync(dir, 0o755);
  const procs = [];
  let browser;
  let code = 0;
  try {
    const redisPort = await freePort();
    const simPort = await freePort(true);
    const gwPort = await freePort();
    procs.push(new Proc('redis', ['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', dir], path.join(dir, 'redis.log')).start());
    const sim = path.join(dir, 'sim');
    const cache = path.join(dir, 'cache');
    fs.mkdirSync(sim, { mode: 0o755 });
    fs.mkdirSync(cache);
    const config = path.join(dir, 'ifmon.yml');
    execFileSync('python3', [path.join(TOP, 'tests/sim/sites.py'), '--data-dir', sim, '--port', String(simPort),
      '--redis-port', String(redisPort), '--config', config, '--listen', `127.0.0.1:${gwPort}`,
      '--web-root', path.join(TOP, 'web')]);
    const simArgv = ['snmpsimd', `--data-dir=${sim}`, `--agent-udpv4-endpoint=127.0.0.1:${simPort}`,
      `--cache-dir=${cache}`, '--logging-method=null', `--variation-modules-dir=${path.join(TOP, 'tests/sim/variation')}`];
    if (process.getuid() === 0) {
      execFileSync('chown', ['nobody:nogroup', cache]);
      simArgv.push('--process-user=nobody', '--process-group=nogroup');
    }
    procs.push(new Proc('snmpsimd', simArgv, path.join(dir, 'snmpsimd.log')).start());
    await until('snmpsimd', () => {
      try {
        return execFileSync('snmpget', ['-v2c', '-c', 'tokyo-edge1', '-r0', '-t0.5', '-Onqv', `127.0.0.1:${simPort}`,
          '1.3.6.1.2.1.1.3.0'], { stdio: ['ignore', 'pipe', 'ignore'] }).length > 0;
      } catch {
        return false;
      }
    }, 60000, 500);
    procs.push(new Proc('collector', [path.join(TOP, 'collector/ifmon-collector'), '--config', config],
      path.join(dir, 'collector.log')).start());
    procs.push(new Proc('gateway', [path.join(TOP, 'gateway/ifmon-gateway'), '--config', config],
      path.join(dir, 'gateway.log')).start());
    // The errors alerts are raised after 10 s of errors.
    const redis = (...a) => execFileSync('redis-cli', ['-p', String(redisPort), '--raw', ...a], { encoding: 'utf8' }).trim();
    await until('alerts raised', () => (JSON.parse(redis('GET', 'ifmon:alerts') || '{"alerts":[]}').alerts.length >= 3), 90000, 1000);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`http://127.0.0.1:${gwPort}/`);
    await until('the overview with its rows and events', async () => {
      const st = await page.evaluate(() => window.ifmon && window.ifmon.state());
      return st && st.overview.length >= 3 && st.overview.every((s) => s.rows.length === Math.min(10, s.interfaces)) &&
        st.events.active.length >= 3;
    }, 30000, 500);
    await sleep(1500); // one more ranking tick with everything in
    await page.screenshot({ path: OUTFILE });
    console.log(`wrote ${OUTFILE}`);
  } catch (e) {
    console.error(e);
    code = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
})();
