// make bench-web: how busy 64 live panels keep the browser's main thread.
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
'use strict';

const { Stack, SITES, until, sleep } = require('../web/lib.js');

const PANELS = 64;
const WINDOW_S = Number(process.env.BENCH_SECONDS || 30);
const RUNS = Number(process.env.BENCH_RUNS || 3);

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

(async () => {
  const stack = new Stack();
  let code = 0;
  try {
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
