// make bench-web: how busy 64 live panels keep the browser's main thread,
// and the same for the overview of 5 sites x 1,000 interfaces.
//
// The real stack (redis-server, snmpsimd, collector, gateway: tests/web/lib.js)
// with one more device of 64 interfaces; headless Chromium opens a layout of
// 64 panels (1-minute window) and, after the panels have filled, the main
// thread's busy time is read from the DevTools protocol (Performance
// metrics: TaskDuration, ScriptDuration, LayoutDuration, RecalcStyleDuration)
// over a measured window. Two viewports: a 1920x1080 wall screen (16 panels
// visible, the rest off-screen and not redrawn) and a tall one where all 64
// are visible. Prints the busy share of the main thread per second: the
// target is "mostly idle".
//
// The overview case starts a stack of its own: 5 sites of one device of
// 1,000 interfaces each, polled every second (octets, packets, errors),
// served by tests/sim/simagent (snmpsimd cannot answer 5,000 interfaces a
// second); the page opens the overview (no layout: one live-only pattern
// per device) on a 1920x1080 screen, and besides the main thread's busy
// share the bench counts what the gateway delivers to that page: the
// WebSocket frames the page receives (DevTools Network events), their
// messages and bytes per second. Target: busy under 20%.
//
//   BENCH_SECONDS (30), BENCH_RUNS (3), BENCH_CASES (panels,overview)
'use strict';

const { Stack, SITES, until, sleep } = require('../web/lib.js');

const PANELS = 64;
const WINDOW_S = Number(process.env.BENCH_SECONDS || 30);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const CASES = (process.env.BENCH_CASES || 'panels,overview').split(',');
const OV_SITES = ['amsterdam', 'berlin', 'chicago', 'denver', 'edinburgh'];
const OV_INTERFACES = 1000;

SITES.paris['paris-agg1'] = Array.from({ length: PANELS }, (_, k) => ({
  index: k + 1, name: `ge-1/0/${k}`, descr: `port ${k}`,
  inRate: 125000 * (k + 1), outRate: 62500 * (k + 1), speedMbps: 1000,
}));

async function measure(stack, viewport) {
  const channels = SITES.paris['paris-agg1'].map((i) => `ifmon:paris-agg1:${i.name}`);
  const page = await stack.page(`#w=1&p=${channels.map(encodeURIComponent).join(',')}`,
    { viewport });
  await until('64 panels with data', async () => {
    const st = await page.evaluate(() => window.ifmon && window.ifmon.state());
    return st && st.panels.length === PANELS && st.panels.every((p) => p.points >= 3);
  }, 30000, 500);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const read = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics
    .map((m) => [m.name, m.value]));
  const a = await read();
  const t0 = Date.now();
  await sleep(WINDOW_S * 1000);
  const b = await read();
  const secs = (Date.now() - t0) / 1000;
  const share = (k) => (b[k] - a[k]) / secs;
  const st = await page.evaluate(() => window.ifmon.state());
  await page.close();
  return {
    busy: share('TaskDuration'), script: share('ScriptDuration'),
    layout: share('LayoutDuration'), style: share('RecalcStyleDuration'),
    points: Math.min(...st.panels.map((p) => p.points)),
  };
}

function median(v) {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** 5 sites x 1,000 interfaces: rates from 1% to 90% of 1 Gb/s, some
 * with errors, the first two of each device its site_total uplinks. */
function overviewSites() {
  const sites = {};
  const devices = {};
  for (const [s, name] of OV_SITES.entries()) {
    const dev = `${name}-core1`;
    sites[name] = {
      [dev]: Array.from({ length: OV_INTERFACES }, (_, k) => ({
        index: k + 1, name: `ge-0/${Math.floor(k / 48)}/${k % 48}`, alias: k % 4 ? `customer ${s}-${k}` : '',
        inRate: 125000 * (1 + ((k * 37 + s * 11) % 720)), outRate: 62500 * (1 + ((k * 53 + s) % 720)),
        speedMbps: 1000, inErr: k % 97 === 0 ? 2 : 0,
      })),
    };
    devices[dev] = { site_total: ['ge-0/0/0', 'ge-0/0/1'] };
  }
  return { sites, devices };
}

/** One measured window of the overview page: main thread, and what the
 * page's WebSocket receives. */
async function measureOverview(stack) {
  const page = await stack.page('', { viewport: { width: 1920, height: 1080 } });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  let frames = 0;
  let messages = 0;
  let bytes = 0;
  let counting = false;
  cdp.on('Network.webSocketFrameReceived', ({ response }) => {
    if (!counting) return;
    frames++;
    bytes += Buffer.byteLength(response.payloadData);
    try {
      const v = JSON.parse(response.payloadData);
      messages += Array.isArray(v) ? v.length : 1;
    } catch {}
  });
  await until('the overview of 5 sites with their busiest rows', async () => {
    const st = await page.evaluate(() => window.ifmon && window.ifmon.state());
    return st && st.overview.length === OV_SITES.length &&
      st.overview.every((x) => x.rows.length === 10 && x.total.reporting === 2 && !x.rows.some((r) => r.stale));
  }, 60000, 500);
  await cdp.send('Performance.enable');
  const read = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics
    .map((m) => [m.name, m.value]));
  const a = await read();
  counting = true;
  const t0 = Date.now();
  await sleep(WINDOW_S * 1000);
  const b = await read();
  counting = false;
  const secs = (Date.now() - t0) / 1000;
  const share = (k) => (b[k] - a[k]) / secs;
  const st = await page.evaluate(() => window.ifmon.state());
  await page.close();
  return {
    busy: share('TaskDuration'), script: share('ScriptDuration'),
    layout: share('LayoutDuration'), style: share('RecalcStyleDuration'),
    frames: frames / secs, messages: messages / secs, bytes: bytes / secs,
    stale: st.overview.reduce((n, x) => n + x.rows.filter((r) => r.stale).length, 0),
  };
}

async function overviewCase() {
  const { sites, devices } = overviewSites();
  const stack = new Stack({ sites, devices, agent: 'simagent' });
  try {
    await stack.start();
    await stack.launchBrowser();
    const runs = [];
    for (let r = 0; r < RUNS; r++) {
      const x = await measureOverview(stack);
      runs.push(x);
      console.log(`  overview 5 x ${OV_INTERFACES}: main thread busy ${(100 * x.busy).toFixed(1)}% ` +
        `(script ${(100 * x.script).toFixed(1)}%, layout ${(100 * x.layout).toFixed(1)}%, ` +
        `style ${(100 * x.style).toFixed(1)}%); received ${x.messages.toFixed(0)} messages/s in ` +
        `${x.frames.toFixed(0)} frames/s, ${(x.bytes / 1e6).toFixed(2)} MB/s; ${x.stale} stale rows`);
    }
    console.log(`\noverview benchmark: ${OV_SITES.length} sites x ${OV_INTERFACES} interfaces polled every second, ` +
      `1920x1080, ${WINDOW_S} s measured, ${RUNS} runs, headless Chromium (software rendering)`);
    console.log('\n| main thread busy (median) | of which script | messages/s | frames/s | bytes/s |\n|---|---|---|---|---|');
    const m = (k) => median(runs.map((x) => x[k]));
    console.log(`| ${(100 * m('busy')).toFixed(1)}% | ${(100 * m('script')).toFixed(1)}% | ${m('messages').toFixed(0)} | ` +
      `${m('frames').toFixed(0)} | ${(m('bytes') / 1e6).toFixed(2)} MB/s |`);
  } finally {
    await stack.stop().catch(() => {});
  }
}

(async () => {
  const stack = new Stack();
  let code = 0;
  try {
    if (CASES.includes('overview')) await overviewCase();
    if (!CASES.includes('panels')) process.exit(0);
    await stack.start();
    await stack.launchBrowser();
    const cases = [['wall screen 1920x1080', { width: 1920, height: 1080 }],
      ['all 64 visible 1920x4400', { width: 1920, height: 4400 }]];
    const rows = [];
    for (const [name, vp] of cases) {
      const runs = [];
      for (let r = 0; r < RUNS; r++) runs.push(await measure(stack, vp));
      for (const x of runs) {
        console.log(`  ${name}: main thread busy ${(100 * x.busy).toFixed(1)}% ` +
          `(script ${(100 * x.script).toFixed(1)}%, layout ${(100 * x.layout).toFixed(1)}%, ` +
          `style ${(100 * x.style).toFixed(1)}%), >= ${x.points} points per panel`);
      }
      rows.push([name, median(runs.map((x) => x.busy)), median(runs.map((x) => x.script))]);
    }
    console.log(`\nweb page benchmark: ${PANELS} panels, one sample per panel per second, ` +
      `${WINDOW_S} s measured, ${RUNS} runs, headless Chromium (software rendering)`);
    console.log('\n| viewport | main thread busy (median) | of which script |\n|---|---|---|');
    for (const [name, busy, script] of rows) {
      console.log(`| ${name} | ${(100 * busy).toFixed(1)}% | ${(100 * script).toFixed(1)}% |`);
    }
  } catch (e) {
    console.error(e);
    code = 1;
  } finally {
    await stack.stop().catch(() => {});
  }
  process.exit(code);
})();
