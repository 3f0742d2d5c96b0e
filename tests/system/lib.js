// What the system tests share (the gateway's helpers are tests/gateway/lib.js).
'use strict';

const dgram = require('node:dgram');
const path = require('node:path');
const { SAN, TOP } = require('../gateway/lib');

// A UDP port free on 127.0.0.1 now (for a simulated agent).
function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// The environment of a daemon under test: with IFMON_SAN=1 (ASan builds),
// a small quarantine, so that RSS means something, and the suppressions.
function sanEnv() {
  const env = { ...process.env };
  if (SAN) {
    env.ASAN_OPTIONS = `${env.ASAN_OPTIONS || 'detect_leaks=1'}:quarantine_size_mb=16`;
    env.LSAN_OPTIONS = `suppressions=${path.join(TOP, 'tests', 'lsan.supp')}:print_suppressions=0`;
    env.UBSAN_OPTIONS = env.UBSAN_OPTIONS || 'print_stacktrace=1';
  }
  return env;
}

module.exports = { freeUdpPort, sanEnv };
