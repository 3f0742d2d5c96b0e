// The well-behaved client of attack.js, on a thread of its own (a
// worker_threads worker: its own event loop, so the attackers' sockets in
// the main thread do not delay what it measures). Subscribed to one
// channel, a sample published on it every 20 ms carrying the time it was
// published, and a `list` every 250 ms; posts each lag ({lag: {t, ms}})
// and each list time ({list: {t, ms}}) to the main thread, {ready} once
// subscribed, and {sent: N} once told to stop (any message).
'use strict';

const { parentPort, workerData: wd } = require('node:worker_threads');
const lib = require('./lib');
(async () => {
  const pub = await new lib.RedisClient(wd.redisPort).connect();
  const c = await lib.connect(wd.url);
  const channel = `${lib.PREFIX}:bystander:eth0`;
  await c.request({ op: 'subscribe', channels: [channel], id: 'b' }, 'subscribed');
  c.ws.on('message', (data) => {
    const now = Date.now();
    const v = JSON.parse(data.toString());
    for (const m of Array.isArray(v) ? v : [v]) {
      if (m.channel === channel && m.data && m.data.sent) parentPort.postMessage({ lag: { t: now, ms: now - m.data.sent } });
    }
  });
  let seq = 0;
  let running = true;
  const timer = setInterval(() => {
    seq++;
    lib.publishSample(pub, 'bystander', 'eth0', seq, { sent: Date.now() });
  }, 20);
  parentPort.on('message', () => {
    running = false;
    clearInterval(timer);
  });
  parentPort.postMessage({ ready: true });
  for (let n = 0; running; n++) {
    const t0 = process.hrtime.bigint();
    const id = `bl-${n}`;
    c.send({ op: 'list', id });
    let ms = 10000;
    try {
      await c.reply('list', id, 10000);
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
    } catch {}
    parentPort.postMessage({ list: { t: Date.now(), ms } });
    c.messages.length = 0;
    await lib.sleep(250); // pacing: four lists a second, under the rate limit
  }
  await lib.sleep(100);
  parentPort.postMessage({ sent: seq });
  c.close();
  pub.close();
})().catch((e) => parentPort.postMessage({ error: e.stack }));
