// The command line (--check, --version, bad options) and a clean stop.
'use strict';

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, after } = require('node:test');
const { GATEWAY, setup, tempDir, checkSanitizer, PREFIX } = require('./lib');

function run(args) {
  const r = spawnSync(GATEWAY, args, { encoding: 'utf8', timeout: 10000 });
  checkSanitizer(r.stderr);
  return r;
}

describe('gateway command line', () => {
  const dir = tempDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--check prints "FILE: OK" for a valid file and exits 0', () => {
    const file = path.join(dir, 'ok.yml');
    fs.writeFileSync(file, 'redis: {port: 6390}\ngateway: {listen: "127.0.0.1:9999", token: abc}\n');
    const r = run(['--config', file, '--check']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${file}: OK\n`);
  });

  it('--check prints every problem as FILE:LINE:COLUMN and exits 1', () => {
    const file = path.join(dir, 'bad.yml');
    fs.writeFileSync(file, 'gateway:\n  listen: "nope:x"\n  max_frame: 1\n  bogus: 1\n');
    const r = run(['--config', file, '--check']);
    assert.equal(r.status, 1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith(`${file}:`));
    assert.ok(lines.length >= 3, r.stderr);
    for (const l of lines) assert.match(l, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
  });

  it('exits 1 on an invalid file without --check', () => {
    const file = path.join(dir, 'bad2.yml');
    fs.writeFileSync(file, 'gateway: [\n');
    assert.equal(run(['--config', file]).status, 1);
    assert.equal(run(['--config', path.join(dir, 'missing.yml')]).status, 1);
  });

  it('exits 2 on a bad command line', () => {
    assert.equal(run([]).status, 2);
    assert.equal(run(['--bogus']).status, 2);
    assert.equal(run(['--config']).status, 2);
    assert.equal(run(['--config', 'x.yml', 'extra']).status, 2);
  });

  it('prints --version and --help', () => {
    const v = run(['--version']);
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^ifmon-gateway \d+\.\d+\.\d+/);
    const h = run(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /--config FILE/);
  });
});

describe('gateway stop', () => {
  it('closes clients with 1001 (going away) on SIGTERM and exits 0', async () => {
    const env = await setup();
    try {
      const c = await env.connect();
      await c.request({ op: 'subscribe', channels: [`${PREFIX}:st1:eth0`, `${PREFIX}:st2:*`] }, 'subscribed');
      await env.gw.stop(); // SIGTERM; asserts exit 0 and a clean sanitizer report
      await new Promise((r) => (c.closed ? r() : c.ws.once('close', r)));
      assert.equal(c.closed.code, 1001);
    } finally {
      await env.teardown();
    }
  });
});
