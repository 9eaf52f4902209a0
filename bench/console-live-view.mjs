// The web console's live cycle view under a 1,000-endpoint cycle on the simulated fleet: the
// embedded stack (`up()`, which serves the built console at `/`) and the simulated fleet (child
// process) prepared as in bench/cycle-simulated.mjs (shared pieces in bench/lib/sim-fleet.mjs),
// the policy's approval made manual so the page is open before anything runs; then headless
// chromium (playwright-core) signs in, opens /cycles/<id>, waits until the view is seeded and
// live, the bench approves the cycle and the page follows it to its end.
// Measured in the page (the live view's own instrumentation, globalThis.__patchbayLiveStats): for
// every event, the time from its arrival over the subscription (graphql-ws `next`) to the commit
// of the render that shows it (events are applied once per animation frame, so one commit covers
// a batch); long tasks (> 50 ms) and long animation frames (split into script, style and layout,
// paint) from PerformanceObservers. Every event of the cycle's streams in
// the store must have reached the page (counted by event id).
// Build first: npm run build (the console's dist included). Raise the descriptor limit:
//   ulimit -n 65536 && ./node_modules/.bin/node bench/console-live-view.mjs [--endpoints 1000] \
//     [--concurrency 200] [--apt-latency-ms 200] [--reboot-delay-ms 1000] [--facts-concurrency 200] \
//     [--view running|all] [--base-port 20000] [--screenshot <png>] [--page-profile <file>] [--keep]
// --view: the endpoint list the page shows while measuring: `running` (the default; its rows
// change with nearly every event) or `all` (plan order, first page).
// --page-profile <file>: a V8 CPU profile of the page (its main thread) over the cycle, written
// as a .cpuprofile (open it in Chrome's DevTools).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { childrenOf, commOf, cycleEndOf, cyclePositions, pct, prepareFleet, processWatch, simBundle, simulatedFleetEnv, startFleet, startStack } from './lib/sim-fleet.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.indexOf(name) < 0 ? dflt : args[args.indexOf(name) + 1]);
const N = Number(opt('--endpoints', '1000'));
const CONC = Number(opt('--concurrency', '200'));
const APT_MS = Number(opt('--apt-latency-ms', '200'));
const REBOOT_MS = Number(opt('--reboot-delay-ms', '1000'));
const BASE_PORT = Number(opt('--base-port', '20000'));
const VIEW = opt('--view', 'running');
const SCREENSHOT = opt('--screenshot', undefined);
const PAGE_PROFILE = opt('--page-profile', undefined);
const CYCLE_TIMEOUT_S = Number(opt('--cycle-timeout-s', '900'));
const TARGET_MS = 100;
const APPROVER = 'bench-approver';
if (!['running', 'all'].includes(VIEW)) throw new Error(`--view must be running or all, got ${VIEW}`);
if (BASE_PORT + N >= 32768) throw new Error(`--base-port + --endpoints must stay below 32768 (ephemeral ports), got ${BASE_PORT + N}`);

simulatedFleetEnv({ concurrency: CONC, factsConcurrency: opt('--facts-concurrency', '200') });
const token = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
process.env['PATCHBAY_ADMIN_TOKEN'] = token;

const { DEFAULT_SCENARIO, writeClientKey } = await import('@patchbay/fleet-lab');
const { chromium } = await import('playwright-core');

const say = (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
const s = (ms) => (ms / 1000).toFixed(2);
const work = mkdtempSync(join(tmpdir(), 'pb-console-live-'));
const dataDir = join(work, 'patchbay');
mkdirSync(dataDir, { recursive: true });
const { watched, peaks, poll, cpuAll, stop: stopWatch } = processWatch();

const figures = {
  date: new Date().toISOString(),
  machine: { cores: cpus().length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, loadAtStart: loadavg().map((x) => +x.toFixed(2)) },
  endpoints: N,
  concurrency: CONC,
  view: VIEW,
};

let fleet;
let stack;
let browser;
let ok = false;
try {
  watched.set('bench', process.pid);
  const { public: clientPublicKey, path: keyPath } = writeClientKey(work);
  fleet = startFleet({ endpoints: N, basePort: BASE_PORT, clientPublicKey, aptMs: APT_MS, rebootMs: REBOOT_MS });
  watched.set('fleet', fleet.pid);
  const ready = await fleet.ready;
  say(`fleet: ${N} endpoints from port ${BASE_PORT}`);

  stack = await startStack({ dataDir, watched, name: 'bench-console-live' });
  const { info, send } = stack;
  const url = info.url.replace(/\/graphql$/, '');
  say(`stack up: ${url}`);
  // The shared bundle, with a person's approval so the page is open and seeded before anything runs.
  const manual = simBundle({ app: DEFAULT_SCENARIO.app, concurrency: CONC, endpoints: N, approval: `{ mode: manual, approvers: [${APPROVER}], minApprovals: 1 }` });
  const { answered, factsMs } = await prepareFleet(send, { targets: ready.targets, keyPath, bundle: manual });
  say(`facts: ${answered}/${N} answered in ${s(factsMs)} s`);

  const cycleId = `c-${randomUUID()}`;
  await send('planner', 'cycle.request', { policyId: 'sim', cycleId });
  // The page needs the cycle and all its planned runs in the read model.
  const gql = async (query, variables) => {
    const r = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
    const b = await r.json();
    if (b.errors) throw new Error(JSON.stringify(b.errors));
    return b.data;
  };
  for (let i = 0; ; i++) {
    const d = await gql('query($id: ID!) { cycle(id: $id) { status counts { planned } } }', { id: cycleId });
    if (d.cycle?.status === 'awaiting-approval' && d.cycle.counts.planned === answered) break;
    if (i > 600) throw new Error(`cycle ${cycleId} not awaiting approval with ${answered} planned: ${JSON.stringify(d.cycle)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  say(`cycle ${cycleId} planned, awaiting approval`);

  browser = await chromium.launch({
    executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  for (const pid of childrenOf(process.pid)) if (/chrom/.test(commOf(pid))) watched.set('chromium', pid);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${url}/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  const t = performance.now();
  await page.goto(`${url}/cycles/${cycleId}`);
  await page.locator('.live-dot', { hasText: 'live' }).waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: `All (${answered})` }).waitFor({ timeout: 60_000 });
  figures.pageSeededS = +s(performance.now() - t);
  say(`live view seeded with ${answered} endpoints in ${figures.pageSeededS} s`);
  if (VIEW === 'running') await page.getByRole('button', { name: /^Running \(/ }).click();
  await page.evaluate(() => globalThis.__patchbayLiveStats?.reset());
  const cdp = PAGE_PROFILE ? await page.context().newCDPSession(page) : undefined;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    await cdp.send('Profiler.start');
  }

  const atOpen = cyclePositions(dataDir, cycleId).length; // requested, planned, its parts, approval required
  const cpu0 = cpuAll();
  const tApprove = performance.now();
  await send('planner', 'cycle.approve', { cycleId }, APPROVER);
  say('cycle approved');
  const deadline = Date.now() + CYCLE_TIMEOUT_S * 1000;
  let end;
  while (!(end = cycleEndOf(dataDir, cycleId))) {
    if (Date.now() > deadline) throw new Error(`cycle ${cycleId} did not end within ${CYCLE_TIMEOUT_S} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  figures.cycleWallS = +s(performance.now() - tApprove);
  say(`cycle ${end} in the store after ${figures.cycleWallS} s`);
  // Every event of the cycle's streams must reach the page (the ones before the page opened came with the seed).
  const stored = cyclePositions(dataDir, cycleId).length;
  const shown = () => page.evaluate(() => globalThis.__patchbayLiveStats?.events ?? 0);
  for (let i = 0; (await shown()) < stored - atOpen; i++) {
    if (i > 300) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  figures.pageToEndS = +s(performance.now() - tApprove);
  if (cdp) {
    const { profile } = await cdp.send('Profiler.stop');
    writeFileSync(PAGE_PROFILE, JSON.stringify(profile));
    figures.pageProfile = PAGE_PROFILE;
  }
  const cpu1 = cpuAll();
  figures.cycleCpuS = Object.fromEntries(Object.keys(cpu1).map((k) => [k, +(cpu1[k] - cpu0[k]).toFixed(1)]));
  const st = await page.evaluate(() => {
    const x = globalThis.__patchbayLiveStats;
    return { samples: x.samples, events: x.events, batches: x.batches, longTasks: x.longTasks, longTaskMs: x.longTaskMs, frames: x.frames ?? [] };
  });
  const finalStatus = await page.locator('.live-summary .badge').first().innerText();
  const succeeded = await page.getByRole('button', { name: /^Succeeded \(/ }).innerText();
  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT });
  const a = Float64Array.from(st.samples).sort();
  figures.storedEvents = stored;
  figures.eventsInPage = st.events;
  figures.eventsBeforeApproval = atOpen;
  figures.commits = st.batches;
  figures.eventsPerCommit = +(st.events / Math.max(1, st.batches)).toFixed(1);
  figures.updateMs = { samples: a.length, p50: +pct(a, 0.5).toFixed(1), p90: +pct(a, 0.9).toFixed(1), p99: +pct(a, 0.99).toFixed(1), max: +(a[a.length - 1] ?? NaN).toFixed(1) };
  figures.over100ms = a.filter((x) => x > TARGET_MS).length;
  figures.longTasks = { count: st.longTasks, totalMs: Math.round(st.longTaskMs) };
  // Long animation frames: how much of each was script, and how much style, layout and paint.
  const sum = (k) => Math.round(st.frames.reduce((n, f) => n + f[k], 0));
  figures.longFrames = {
    count: st.frames.length,
    totalMs: sum('duration'),
    scriptMs: sum('script'),
    renderMs: sum('render'),
    styleLayoutMs: sum('styleLayout'),
    longest: [...st.frames].sort((x, y) => y.duration - x.duration).slice(0, 5).map((f) => ({ ms: Math.round(f.duration), script: Math.round(f.script), render: Math.round(f.render), styleLayout: Math.round(f.styleLayout), invokers: f.invokers.slice(0, 4) })),
  };
  figures.page = { status: finalStatus, succeededButton: succeeded, errors: pageErrors };
  figures.targetMet = figures.updateMs.p99 <= TARGET_MS;
  ok = st.events >= stored - atOpen && finalStatus === 'completed' && pageErrors.length === 0;
  say(`per update (arrival → render committed), ms: p50 ${figures.updateMs.p50}  p99 ${figures.updateMs.p99}  max ${figures.updateMs.max}  (${a.length} events in ${st.batches} commits; ${figures.over100ms} over ${TARGET_MS} ms)`);
} catch (e) {
  figures.error = e.message;
  say(`FAILED: ${e.stack ?? e.message}`);
} finally {
  poll();
  figures.peakRssMiB = Object.fromEntries([...peaks].map(([k, v]) => [k, Math.round(v / 1024)]));
  await browser?.close().catch(() => undefined);
  await stack?.stop();
  await fleet?.stop();
  stopWatch();
}
say(`figures: ${JSON.stringify(figures, null, 1)}`);
if (ok && !args.includes('--keep')) rmSync(work, { recursive: true, force: true });
else say(`data and stack logs kept in ${work}`);
process.exit(ok ? 0 : 1);
