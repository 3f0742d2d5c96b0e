// Hostile WebSocket clients for the attack tests and measuring scripts:
// `connections` raw WebSockets (node:net, no frame parsing, so that the
// attackers cost this process next to nothing however much the gateway
// sends them), each sending `messages` in turn, one every `intervalMs`,
// for `durationMs`, and reading (and dropping) whatever comes back.
//
// Run in a child process, so that its work never delays the test's own
// measurements:
//
//   const stats = await runFlood({ port, connections: 10, intervalMs: 53, ... });
//
// (the options go to the child as a message: 64 KB requests do not fit a
// command line). Options:
//   port, host ("127.0.0.1"), localAddress (the source address; the tests
//   use 127.0.0.2 for attackers), path ("/ws"), connections, intervalMs,
//   durationMs, messages (strings, sent in turn; a {"id":...} object
//   template may hold "$n", replaced by a counter), startStaggerMs (spread
//   the connections' first sends over this long).
// Stats: {opened, sent, bytesIn, closed, closeCodes}.
'use strict';

const crypto = require('node:crypto');
const net = require('node:net');
const { fork } = require('node:child_process');

// A masked client text frame (RFC 6455 5.2) of payload, whole.
function textFrame(payload) {
  const data = Buffer.from(payload);
  const mask = crypto.randomBytes(4);
  let head;
  if (data.length < 126) {
    head = Buffer.from([0x81, 0x80 | data.length]);
  } else if (data.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x81;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(data.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x81;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(data.length), 2);
  }
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

// Opens one raw WebSocket; resolves with the socket once the gateway has
// answered 101.
function openRaw({ host = '127.0.0.1', port, localAddress, path: wsPath = '/ws' }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, localAddress });
    let head = '';
    const onData = (d) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.removeListener('data', onData);
      if (!/^HTTP\/1\.1 101 /.test(head)) {
        sock.destroy();
        reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        return;
      }
      resolve(sock);
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.on('connect', () => {
      sock.write(`GET ${wsPath} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
        'Sec-WebSocket-Version: 13\r\n\r\n');
    });
  });
}

async function flood(opts) {
  const stats = { opened: 0, sent: 0, bytesIn: 0, closed: 0, closeCodes: {} };
  const socks = [];
  for (let k = 0; k < opts.connections; k++) {
    const sock = await openRaw(opts);
    stats.opened++;
    sock.on('error', () => {});
    sock.on('data', (d) => {
      stats.bytesIn += d.length;
      // A close frame from the gateway: 0x88, then its code.
      if (d[0] === 0x88 && d.length >= 4) {
        const code = d.readUInt16BE(2);
        stats.closeCodes[code] = (stats.closeCodes[code] || 0) + 1;
      }
    });
    sock.on('close', () => {
      stats.closed++;
    });
    socks.push(sock);
  }
  let n = 0;
  const frames = (opts.messages || []).map((m) => (m.includes('$n') ? null : textFrame(m)));
  const end = Date.now() + opts.durationMs;
  await Promise.all(socks.map((sock, k) => new Promise((resolve) => {
    let i = 0;
    const send = () => {
      if (Date.now() >= end || sock.destroyed) {
        resolve();
        return;
      }
      const at = i++ % frames.length;
      const frame = frames[at] || textFrame(opts.messages[at].replace(/\$n/g, String(++n)));
      sock.write(frame);
      stats.sent++;
      timer = setTimeout(send, opts.intervalMs);
    };
    let timer = setTimeout(send, opts.startStaggerMs ? (k * opts.startStaggerMs) / socks.length : 0);
  })));
  for (const sock of socks) sock.destroy();
  return stats;
}

// The flood in a child process; resolves with its stats.
function runFlood(opts) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let err = '';
    let stats = null;
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('message', (m) => {
      stats = m;
    });
    child.on('exit', (code) => {
      if (code !== 0 || !stats) reject(new Error(`flood exited ${code}: ${err}`));
      else resolve(stats);
    });
    child.send(opts);
  });
}

module.exports = { flood, runFlood, openRaw, textFrame };

if (require.main === module) {
  process.once('message', (opts) => {
    flood(opts).then((stats) => {
      process.send(stats, () => process.exit(0));
    }, (e) => {
      process.stderr.write(`${e.stack}\n`);
      process.exit(1);
    });
  });
}
