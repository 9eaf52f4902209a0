// A full Patchbay cycle on the simulated fleet (thousands of SSH endpoints in one child process):
// the embedded stack (`up()`), the fleet imported as an Ansible INI inventory (host keys: trust on
// first use), facts gathered, a group + workflow + policy applied as code, one cycle requested
// (auto approval, no canary, one wave, maxConcurrency = executor concurrency), followed to its end.
// Workflow: check disk, stop the app, apt upgrade, reboot if required (the step itself waits for a
// new boot id; a `wait-for tcp 22` step cannot be used: an endpoint's sshd is on its own port, not
// 22), start the app, validate (a command check). Simulated endpoints come back from a reboot with the app stopped.
// Figures: import and facts time, planner time (request → CyclePlanned on the bus), cycle wall
// time (request → CycleCompleted on the bus), events appended per second (positions in the SQLite
// store before/after), peak RSS (VmHWM) of every stack process, nats-server, the fleet child and
// this process; optionally the bare ssh2 driver on the same kind of fleet as the floor.
// Build first: npx tsc -b libs/cli libs/fleet-lab. Raise the descriptor limit in the same shell:
//   ulimit -n 65536 && ./node_modules/.bin/node bench/cycle-simulated.mjs --endpoints 1000 --concurrency 200 \
//     --apt-latency-ms 200 --reboot-delay-ms 1000 [--base-port 20000] [--facts-concurrency 200] [--fleet-processes 2] [--floor] [--profile <dir>] [--keep] [--hold-s 60] [--pause-after-facts-s 60] [--layout grouped] [--watch-all]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { eventsAppended as storePosition, runEventsOf, eventTypes as storeEventTypes, inventoryIni as iniOf, isStackProcess, processWatch, ROOT, statusKb, simBundle, simulatedFleetEnv, startFleet as startSimFleet, startStack } from './lib/sim-fleet.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};
const PROFILE_DIR = opt('--profile', undefined);
const N = Number(opt('--endpoints', '1000'));
const CONC = Number(opt('--concurrency', '200'));
const APT_MS = Number(opt('--apt-latency-ms', '200'));
const REBOOT_MS = Number(opt('--reboot-delay-ms', '1000'));
const BASE_PORT = Number(opt('--base-port', '20000'));
const CYCLE_TIMEOUT_S = Number(opt('--cycle-timeout-s', '900'));
if (BASE_PORT + N >= 32768) throw new Error(`--base-port + --endpoints must stay below 32768 (ephemeral ports), got ${BASE_PORT + N}`);

// The executor and inventory read these when the stack starts (see bench/lib/sim-fleet.mjs).
simulatedFleetEnv({ concurrency: CONC, factsConcurrency: opt('--facts-concurrency', undefined) });
// --layout grouped: inventory, policy, planner and the relay in one process (PATCHBAY_UP_LAYOUT).
const LAYOUT = opt('--layout', 'separate');
process.env['PATCHBAY_UP_LAYOUT'] = LAYOUT;
process.env['PATCHBAY_ADMIN_TOKEN'] ??= `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

const { DEFAULT_SCENARIO, writeClientKey } = await import('@patchbay/fleet-lab');
const { decodeEvent } = await import('@patchbay/messaging');

const APP = DEFAULT_SCENARIO.app;
const say = (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
const work = mkdtempSync(join(tmpdir(), 'pb-cycle-sim-'));
const dataDir = join(work, 'patchbay');
mkdirSync(dataDir, { recursive: true });
const stackLog = [];
const s = (ms) => (ms / 1000).toFixed(2);
const mib = (kb) => (kb / 1024).toFixed(0);

const { watched, peaks, windowPeaks, pss, resetWindow: resetPeakWindow, poll: pollPeaks, cpuAll, stop: stopWatch } = processWatch();

// ---------------------------------------------------------------- the simulated fleet (child process)
const { public: clientPublicKey, path: keyPath } = writeClientKey(work);

// --fleet-processes K splits the endpoints over K child processes: each process holds a listener
// per endpoint plus one socket per open client connection, and the inventory keeps one connection
// per endpoint open after facts, so one process of 10,000 endpoints needs > 20,000 descriptors.
const FLEET_PROCS = Number(opt('--fleet-processes', '1'));
const startFleet = (endpoints, basePort) => startSimFleet({ endpoints, basePort, clientPublicKey, aptMs: APT_MS, rebootMs: REBOOT_MS });

// ---------------------------------------------------------------- workflow and policy as code
const BUNDLE = simBundle({ app: APP, concurrency: CONC, endpoints: N });
const inventoryIni = (targets) => iniOf(targets, keyPath);
const eventsAppended = () => storePosition(dataDir);
const eventTypes = (fromPos) => storeEventTypes(dataDir, fromPos);

// ---------------------------------------------------------------- run
const figures = { date: new Date().toISOString(), nproc: cpus().length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), endpoints: N, concurrency: CONC, aptMs: APT_MS, rebootMs: REBOOT_MS, fleet: `simulated, ${FLEET_PROCS} child process(es) (libs/fleet-lab/dist/sim/main.js)`, factsConcurrency: process.env['PATCHBAY_INVENTORY_FACTS_CONCURRENCY'] ?? 'default (16)', layout: LAYOUT };
let fleets = [];
let stack;
let ok = false;
try {
  watched.set('bench', process.pid);
  const tf = performance.now();
  const per = Math.ceil(N / FLEET_PROCS);
  for (let i = 0; i < FLEET_PROCS; i++) fleets.push(startFleet(Math.min(per, N - i * per), BASE_PORT + i * per));
  fleets.forEach((f, i) => watched.set(FLEET_PROCS === 1 ? 'fleet' : `fleet-${i}`, f.pid));
  const readies = await Promise.all(fleets.map((f) => f.ready));
  const ready = { targets: readies.flatMap((r, i) => r.targets.map((t) => ({ ...t, id: FLEET_PROCS === 1 ? t.id : `f${i}-${t.id}` }))) };
  say(`fleet: ${N} endpoints in ${FLEET_PROCS} process(es) from port ${BASE_PORT} in ${s(performance.now() - tf)} s (pids ${fleets.map((f) => f.pid).join(',')})`);

  const t0 = performance.now();
  // --profile <dir>: every stack process writes a V8 CPU profile there when it stops (summarise with
  // bench/cycle/profile-window.mjs <dir> 0 1e18).
  stack = await startStack({ dataDir, watched, name: 'bench-sim', profileDir: PROFILE_DIR, log: (l) => stackLog.push(l) });
  const { bus, send } = stack;
  figures.stackUpS = +s(performance.now() - t0);
  say(`stack up in ${figures.stackUpS} s: ${[...watched].map(([k, v]) => `${k}=${v}`).join(' ')}`);

  const events = [];
  // The cycle's final event, noticed as it arrives (scanning every event received, every 20 ms,
  // cost this process 81 CPU-s at 10,000 endpoints: CPU the stack under test then lacked).
  // Live, only the cycle streams' events (plan, start, releases, end: ~1 in 7 of a cycle's events);
  // runs and steps are read from the store afterwards. Decoding all 200,000 events of a
  // 10,000-endpoint cycle as they came cost this process ~9.5 CPU-s and nats-server a delivery
  // each, on the cores the stack needs. `--watch-all` restores the subscription to every event.
  const watch = { cycleId: undefined, end: undefined };
  const WATCH_ALL = args.includes('--watch-all');
  const sub = bus.connection.subscribe(WATCH_ALL ? 'patchbay.evt.>' : 'patchbay.evt.cycle.>');
  void (async () => {
    for await (const msg of sub) {
      const at = performance.now();
      try {
        const x = { at, e: decodeEvent(msg.data) };
        events.push(x);
        if (!watch.end && watch.cycleId && x.e.data?.cycleId === watch.cycleId && ['CycleCompleted', 'CycleHalted', 'CycleAborted'].includes(x.e.type)) watch.end = x;
      } catch {
        /* not an event */
      }
    }
  })();

  const ini = inventoryIni(ready.targets);
  let t = performance.now();
  const imported = await send('inventory', 'import', { format: 'ansible-ini', fileName: 'sim-inventory.ini', content: ini, hostKeyPolicy: 'tofu' });
  figures.importS = +s(performance.now() - t);
  say(`import: ${figures.importS} s ${JSON.stringify(imported.summary)}`);
  t = performance.now();
  const cpuF0 = cpuAll();
  const facts = await send('inventory', 'gather-facts', { wait: true, refresh: true });
  const cpuF1 = cpuAll();
  figures.factsCpuS = Object.fromEntries(Object.keys(cpuF1).map((k) => [k, +(cpuF1[k] - cpuF0[k]).toFixed(1)]));
  figures.factsS = +s(performance.now() - t);
  const outcomes = facts?.outcomes ?? [];
  const answered = outcomes.filter((o) => o.ok).length;
  const factCodes = {};
  for (const o of outcomes) if (!o.ok) factCodes[o.code] = (factCodes[o.code] ?? 0) + 1;
  say(`facts: ${figures.factsS} s, ${answered}/${outcomes.length} answered ${JSON.stringify(factCodes)}`);
  figures.factsAnswered = answered;
  // --pause-after-facts-s N: wait N seconds before the policy and the cycle (look at the processes as facts left them).
  const pauseS = Number(opt('--pause-after-facts-s', '0'));
  if (pauseS > 0) {
    say(`pausing ${pauseS} s after facts: ${[...watched].map(([k, pid]) => `${k}=${pid}`).join(' ')}`);
    await new Promise((r) => setTimeout(r, pauseS * 1000));
  }

  t = performance.now();
  const applied = await send('policy', 'bundle.apply', { files: [{ name: 'sim.yaml', content: BUNDLE }] });
  let members = 0;
  for (let i = 0; ; i++) {
    const g = await send('policy', 'group.get', { groupId: 'sim' });
    members = g.members?.length ?? 0;
    if (members >= answered) break;
    if (i > 1200) throw new Error(`group sim has ${members} members, expected ${answered}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  figures.policyS = +s(performance.now() - t);
  say(`policy: ${applied.eventsAppended} events, group sim has ${members} members after ${figures.policyS} s`);

  const cpu0 = cpuAll();
  // The cycle's own peak memory, apart from import and facts (see cyclePeakRssMiB).
  resetPeakWindow();
  const pos0 = eventsAppended();
  const from = events.length;
  const tReq = performance.now();
  const tReqWall = Date.now();
  const requested = await send('planner', 'cycle.request', { policyId: 'sim' });
  const cycleId = requested.cycleId;
  watch.cycleId = cycleId;
  watch.end = events.slice(from).find((x) => x.e.data?.cycleId === cycleId && ['CycleCompleted', 'CycleHalted', 'CycleAborted'].includes(x.e.type));
  figures.requestReplyS = +s(performance.now() - tReq);
  say(`cycle ${cycleId} requested (${requested.status}, reply in ${figures.requestReplyS} s)`);
  let end;
  let lastReport = performance.now();
  const deadline = tReq + CYCLE_TIMEOUT_S * 1000;
  while (!end) {
    end = watch.end;
    if (end) break;
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      // From what this process already has (a count by type in the store every 10 s read every
      // row of the cycle so far), unless --watch-all.
      const mine = events.slice(from);
      const count = (type) => mine.filter((x) => x.e.type === type).length;
      const detail = WATCH_ALL ? `runs started ${count('RunStarted')}, succeeded ${count('RunSucceeded')}, failed ${count('RunFailed')}, reboots ${count('RebootIssued')}/${count('RebootConfirmed')}, events on bus ${mine.length}` : `runs finished ${count('EndpointRunFinished')}, events stored ${eventsAppended() - pos0}`;
      say(`  +${s(performance.now() - tReq)} s: released ${count('EndpointReleased')}, ${detail}`);
    }
    if (performance.now() > deadline) throw new Error(`cycle ${cycleId} did not finish in ${CYCLE_TIMEOUT_S} s (data kept in ${work})`);
    await new Promise((r) => setTimeout(r, 20));
  }
  figures.cycleWallS = +s(end.at - tReq);
  const cpu1 = cpuAll();
  figures.cycleCpuS = Object.fromEntries(Object.keys(cpu1).map((k) => [k, +(cpu1[k] - cpu0[k]).toFixed(1)]));
  // Let the relay catch up before counting what the store holds for the cycle's window.
  await new Promise((r) => setTimeout(r, 1000));
  const pos1 = eventsAppended();
  figures.eventsAppended = pos1 - pos0;
  figures.eventsPerS = Math.round(figures.eventsAppended / figures.cycleWallS);
  const mine = events.slice(from);
  const first = (type) => mine.find((x) => x.e.type === type && (x.e.data?.cycleId ?? cycleId) === cycleId);
  const at = (type) => (first(type) ? +s(first(type).at - tReq) : undefined);
  figures.plannedAtS = at('CyclePlanned');
  figures.startedAtS = at('CycleStarted');
  // Runs and steps from the store (times: each event's recordedAt, written by the executor),
  // or from the bus with --watch-all (times: arrival here), as before.
  const runEvents = WATCH_ALL ? mine : runEventsOf(dataDir, cycleId, pos0).map((r) => ({ at: Date.parse(r.recorded_at) - tReqWall + tReq, e: { type: r.type, data: JSON.parse(r.data) } }));
  figures.runTimesFrom = WATCH_ALL ? 'arrival on the bus' : 'recordedAt in the store';
  figures.firstRunStartedS = WATCH_ALL ? at('RunStarted') : +s(Math.min(...runEvents.filter((x) => x.e.type === 'RunStarted').map((x) => x.at)) - tReq);
  const runs = new Map();
  const steps = {};
  const open = new Map();
  for (const x of runEvents) {
    const d = x.e.data ?? {};
    const ep = d.endpointId;
    if (!ep) continue;
    const r = runs.get(ep) ?? runs.set(ep, {}).get(ep);
    if (x.e.type === 'RunStarted') r.start = x.at;
    if (x.e.type === 'RunSucceeded' || x.e.type === 'RunFailed') r.end = x.at;
    const step = d.stepId ?? d.stepKey;
    if (x.e.type === 'StepStarted') open.set(`${ep}/${step}`, x.at);
    if (['StepSucceeded', 'StepFailed', 'StepSkipped'].includes(x.e.type) && open.has(`${ep}/${step}`)) (steps[step] ??= []).push(x.at - open.get(`${ep}/${step}`));
  }
  const pct = (xs, p) => {
    const a = [...xs].sort((x, y) => x - y);
    return a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN;
  };
  const runDur = [...runs.values()].filter((r) => r.start && r.end).map((r) => r.end - r.start);
  figures.runMedianS = +s(pct(runDur, 0.5));
  figures.runP95S = +s(pct(runDur, 0.95));
  figures.lastRunStartedS = +s(Math.max(...[...runs.values()].map((r) => r.start ?? -Infinity)) - tReq);
  figures.stepMedianS = Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, +s(pct(v, 0.5))]));
  figures.stepP95S = Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, +s(pct(v, 0.95))]));
  const summary = await send('planner', 'cycle.get', { cycleId });
  figures.outcome = `${end.e.type}: ${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.skipped} skipped${summary.haltReason ? ` (${summary.haltReason})` : ''}`;
  figures.eventTypes = Object.fromEntries(eventTypes(pos0).map((r) => [r.type, Number(r.n)]));
  ok = end.e.type === 'CycleCompleted' && summary.succeeded === N;
  pollPeaks();
  // What each process holds once the cycle is over (VmRSS now, not its peak).
  figures.rssAtEndMiB = Object.fromEntries([...watched].map(([k, pid]) => [k, +mib(statusKb(pid, 'VmRSS'))]));
  // --hold-s N: keep the stack up N seconds after the cycle, for looking at its processes.
  const holdS = Number(opt('--hold-s', '0'));
  if (holdS > 0) {
    say(`holding the stack ${holdS} s: ${[...watched].map(([k, pid]) => `${k}=${pid}`).join(' ')}`);
    await new Promise((r) => setTimeout(r, holdS * 1000));
  }
  sub.unsubscribe();
} catch (e) {
  figures.error = e.message;
  say(`FAILED: ${e.stack ?? e.message}`);
} finally {
  pollPeaks();
  figures.peakRssMiB = Object.fromEntries([...peaks].map(([k, v]) => [k, +mib(v)]));
  figures.peakRssSumMiB = +mib([...peaks.values()].reduce((a, b) => a + b, 0));
  // The stack: every Patchbay process and nats-server (not the fleet, not this process).
  const stackSum = (m) => +mib([...m].filter(([k]) => isStackProcess(k)).reduce((a, [, v]) => a + v, 0));
  figures.stackPeakRssSumMiB = stackSum(peaks);
  figures.cyclePeakRssMiB = Object.fromEntries([...windowPeaks].map(([k, v]) => [k, +mib(v)]));
  figures.stackCyclePeakRssSumMiB = stackSum(windowPeaks);
  // Shared pages counted once (sampled every second): what the stack uses together.
  figures.stackPeakPssSumMiB = +mib(pss.peak);
  figures.stackCyclePeakPssSumMiB = +mib(pss.windowPeak);
  await stack?.stop();
  const stoppedAll = await Promise.all(fleets.map((f) => f.stop()));
  figures.fleetCounters = stoppedAll.map((x) => x?.counters);
  figures.fleetCpuS = stoppedAll.map((x) => (x ? +((x.cpu.userMs + x.cpu.systemMs) / 1000).toFixed(1) : NaN));
  stopWatch();
}

// ---------------------------------------------------------------- floor: the bare ssh2 driver
if (args.includes('--floor')) {
  const r = await new Promise((res) => {
    const child = spawn(process.execPath, [join(ROOT, 'libs/fleet-lab/dist/driver/main.js'), '--fleet', 'sim', '--endpoints', String(N), '--concurrency', String(CONC), '--apt-latency-ms', String(APT_MS), '--reboot-delay-ms', String(REBOOT_MS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => res({ code, out }));
  });
  figures.floor = r.out.trim().split('\n').filter((l) => !l.startsWith('[') && !l.startsWith('{')).join(' | ');
}

say(`figures: ${JSON.stringify(figures, null, 1)}`);
if (ok && !args.includes('--keep')) rmSync(work, { recursive: true, force: true });
else say(`data, stack logs (${join(dataDir, 'logs')}) and key kept in ${work}`);
process.exit(ok ? 0 : 1);
