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
    fs.writeFileSync(file, 'redis: {port: 6390}\ngateway: {listen: "127.0.0.1:9999", token: abcdefghijklmnop}\n');
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

  it('--check refuses a listen address that is not HOST:PORT or [IPV6]:PORT', () => {
    const bad = ['nonsense', '1.2.3.4.5:80', '127.0.0.1', '127.0.0.1:', ':8080', '127.0.0.1:0',
      '127.0.0.1:65536', '127.0.0.1:80x', '127.0.0.1: 80', '::1:8080', '[::1]', '[::1]8080', '[nope]:80',
      '[]:80', '256.1.1.1:80', 'host_name:80', '-host:80', 'host-:80', 'a..b:80', ''];
    for (const listen of bad) {
      const file = path.join(dir, 'listen.yml');
      fs.writeFileSync(file, `gateway:\n  listen: ${JSON.stringify(listen)}\n`);
      const r = run(['--config', file, '--check']);
      assert.equal(r.status, 1, `listen ${JSON.stringify(listen)} was accepted`);
      assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:11: listen: `), r.stderr);
    }
    const good = ['127.0.0.1:8080', '0.0.0.0:1', '[::1]:8080', '[2001:db8::1]:65535', 'localhost:80',
      'gw-1.example.net:8080', 'eth0:8080'];
    for (const listen of good) {
      const file = path.join(dir, 'listen.yml');
      fs.writeFileSync(file, `gateway:\n  listen: ${JSON.stringify(listen)}\n`);
      const r = run(['--config', file, '--check']);
      assert.equal(r.status, 0, `listen ${JSON.stringify(listen)}: ${r.stderr}`);
    }
  });

  it('--check ignores defaults: and devices:, which the gateway does not use', () => {
    // A device typo is the collector's problem: it must not stop the
    // gateway (nor be reported by it). What the gateway uses still is.
    const file = path.join(dir, 'devices.yml');
    fs.writeFileSync(file, [
      'defaults:',
      '  intervl: 1s',
      '  version: 7',
      'devices:',
      '  - name: "bad name"',
      '    adress: 192.0.2.1',
      '  - name: dup',
      '    address: 192.0.2.1:x',
      'gateway:',
      '  listen: "127.0.0.1:9999"',
      '',
    ].join('\n'));
    const r = run(['--config', file, '--check']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${file}: OK\n`);
    assert.equal(r.stderr, '');
    // The same file with a gateway problem fails on that problem only.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"127.0.0.1:9999"', '"127.0.0.1"'));
    const bad = run(['--config', file, '--check']);
    assert.equal(bad.status, 1);
    const lines = bad.stderr.split('\n').filter((l) => l.startsWith(`${file}:`));
    assert.equal(lines.length, 1, bad.stderr);
    assert.match(lines[0], /:10:\d+: listen: /);
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
