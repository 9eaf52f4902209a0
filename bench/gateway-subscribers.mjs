// Event → GraphQL subscriber latency during a cycle on the simulated fleet: the embedded stack
// (`up()`, one process per service + relay + gateway + nats-server) and the simulated fleet (child
// process) prepared as in bench/cycle-simulated.mjs (shared pieces in bench/lib/sim-fleet.mjs),
// then S subscribers connected to the gateway before the cycle is requested (the bench picks the
// cycle id, as the CLI does), each on its own connection:
//   subscriber i: transport graphql-ws when i is even, SSE when odd;
//                 `cycleProgress(cycleId)` when (i >> 1) is even, `patchEvents` (no filter) when odd
// so with 100 subscribers 25 of each pair. Every subscriber asks the CLI's fields
// (eventId type stream revision position recordedAt actor data).
// Latency of one delivery = the time the subscriber's message arrived (this process, wall clock)
// minus the event's `recordedAt` (written by the service that appended it, same machine clock).
// Only events of the cycle's streams count (`cycle-<id>`, `run-<id>.*`). Delivered per subscriber
// is compared with what the SQLite store holds for those streams (by global position: none lost,
// none twice). The subscribers live in `--client-processes` child processes (default 4; subscriber
// i in child i mod 4, bench/lib/subscriber-clients.mjs), so that none waits for a busy event loop
// shared with the others or with the bench. For reference, a plain NATS subscriber in a child of
// its own measures recordedAt → the event on the bus (what the relay adds before the gateway sees it).
// `--renice fleet=10,planner=10` sets the nice value of every thread of the named processes once
// the subscribers are connected (names as in the output's CPU table; the simulated fleet stands in
// for hosts that are other machines). Default: none, every process as the stack starts it.
// Build first: npx tsc -b libs/cli libs/fleet-lab. Raise the descriptor limit in the same shell:
//   ulimit -n 65536 && ./node_modules/.bin/node bench/gateway-subscribers.mjs [--endpoints 1000] \
//     [--concurrency 200] [--apt-latency-ms 200] [--reboot-delay-ms 1000] [--facts-concurrency 200] \
//     [--subscribers 100] [--client-processes 4] [--clients light|library] [--renice name=N,...] [--ws-client ws|undici] \
//     [--base-port 20000] [--profile <dir>] [--save-timeline <file>] [--keep]
// --profile <dir>: every stack process writes a V8 CPU profile there when it stops; the gateway's
// is named in the output (summarise it with bench/cycle/profile-window.mjs).
// --save-timeline <file>: the cycle's stored events as JSON lines, for bench/subscriber-floor.mjs.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cycleEndOf, cycleEvents, cyclePositions, prepareFleet, processWatch, reniceAll, simBundle, simulatedFleetEnv, startFleet, startStack } from './lib/sim-fleet.mjs';
import { byType, compareWithStored, startClients, summary } from './lib/subscribers.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.indexOf(name) < 0 ? dflt : args[args.indexOf(name) + 1]);
const N = Number(opt('--endpoints', '1000'));
const CONC = Number(opt('--concurrency', '200'));
const APT_MS = Number(opt('--apt-latency-ms', '200'));
const REBOOT_MS = Number(opt('--reboot-delay-ms', '1000'));
const BASE_PORT = Number(opt('--base-port', '20000'));
const SUBS = Number(opt('--subscribers', '100'));
const CYCLE_TIMEOUT_S = Number(opt('--cycle-timeout-s', '900'));
const PROFILE_DIR = opt('--profile', undefined);
const CLIENT_PROCS = Number(opt('--client-processes', '4'));
// `light` (default): clients that read only what they measure; `library`: graphql-ws's client and fetch (bench/lib/subscriber-clients.mjs).
const CLIENTS = opt('--clients', 'light');
const RENICE = (opt('--renice', '') || '').split(',').filter(Boolean).map((x) => x.split('=')).map(([k, v]) => [k, Number(v)]);
const SAVE_TIMELINE = opt('--save-timeline', undefined);
const FIELDS = 'eventId type stream revision position recordedAt actor data';
if (BASE_PORT + N >= 32768) throw new Error(`--base-port + --endpoints must stay below 32768 (ephemeral ports), got ${BASE_PORT + N}`);

simulatedFleetEnv({ concurrency: CONC, factsConcurrency: opt('--facts-concurrency', '200') });
const token = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
process.env['PATCHBAY_ADMIN_TOKEN'] = token;

const { DEFAULT_SCENARIO, writeClientKey } = await import('@patchbay/fleet-lab');
// The WebSocket client: the `ws` package by default; `--ws-client undici` uses Node's built-in
// WebSocket, whose sockets failed (1006, no message) under this load in earlier runs.
const WS_CLIENT = opt('--ws-client', 'ws');

const say = (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);
const s = (ms) => (ms / 1000).toFixed(2);
const work = mkdtempSync(join(tmpdir(), 'pb-gw-subs-'));
const dataDir = join(work, 'patchbay');
mkdirSync(dataDir, { recursive: true });
const { watched, peaks, poll, cpuAll, stop: stopWatch } = processWatch();

// ---------------------------------------------------------------- run
const figures = { clients: CLIENTS, date: new Date().toISOString(), nproc: cpus().length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), loadavgAtStart: loadavg().map((x) => +x.toFixed(1)), endpoints: N, concurrency: CONC, aptMs: APT_MS, rebootMs: REBOOT_MS, subscribers: SUBS, wsClient: WS_CLIENT, fleet: 'simulated, 1 child process (libs/fleet-lab/dist/sim/main.js)' };
let fleet;
let stack;
let clients = [];
let busWatch;
let ok = false;
try {
  watched.set('bench', process.pid);
  const { public: clientPublicKey, path: keyPath } = writeClientKey(work);
  fleet = startFleet({ endpoints: N, basePort: BASE_PORT, clientPublicKey, aptMs: APT_MS, rebootMs: REBOOT_MS });
  watched.set('fleet', fleet.pid);
  const ready = await fleet.ready;
  say(`fleet: ${N} endpoints from port ${BASE_PORT}`);

  stack = await startStack({ dataDir, watched, name: 'bench-subscribers', profileDir: PROFILE_DIR });
  const { info, send } = stack;
  const url = info.url;
  const wsUrl = url.replace(/^http/, 'ws');
  say(`stack up: ${url} ${[...watched].map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const { answered, factsMs } = await prepareFleet(send, { targets: ready.targets, keyPath, bundle: simBundle({ app: DEFAULT_SCENARIO.app, concurrency: CONC, endpoints: N }) });
  say(`facts: ${answered}/${N} answered in ${s(factsMs)} s`);

  const cycleId = `c-${randomUUID()}`;
  let t = performance.now();
  // The bus as the gateway's fan-out sees it (recordedAt → a core NATS subscriber), in a child of its own.
  [busWatch] = startClients(1, say);
  watched.set('bench-bus-watch', busWatch.child.pid);
  await busWatch.ask({ start: { mode: 'bus', natsUrl: info.natsUrl, cycleId } }, 'ready');
  clients = startClients(CLIENT_PROCS, say);
  clients.forEach((c, k) => watched.set(`bench-clients-${k + 1}`, c.child.pid));
  const indices = (k) => [...Array(SUBS).keys()].filter((i) => i % CLIENT_PROCS === k);
  await Promise.all(clients.map((c, k) => c.ask({ start: { mode: 'clients', url, wsUrl, token, cycleId, indices: indices(k), fields: FIELDS, wsClient: WS_CLIENT, clients: CLIENTS } }, 'ready')));
  // graphql-ws does not acknowledge a subscription: give the gateway a moment to start them all.
  await new Promise((r) => setTimeout(r, 2000));
  say(`${SUBS} subscribers connected in ${s(performance.now() - t)} s, in ${CLIENT_PROCS} client processes`);
  for (const [name, nice] of RENICE) {
    if (!watched.has(name)) throw new Error(`--renice: no process named ${name} (${[...watched.keys()].join(', ')})`);
    reniceAll(watched.get(name), nice);
    say(`${name} reniced to ${nice} (every thread)`);
  }

  const cpu0 = cpuAll();
  const tReq = performance.now();
  await send('planner', 'cycle.request', { policyId: 'sim', cycleId });
  say(`cycle ${cycleId} requested`);
  const cycleEnd = new Promise((resolve) => {
    const poll = setInterval(() => {
      const end = cycleEndOf(dataDir, cycleId);
      if (end) {
        clearInterval(poll);
        resolve(end);
      }
    }, 250);
  });
  void cycleEnd.then((end) => {
    figures.cycleStoredWallS = +s(performance.now() - tReq);
    say(`cycle ${end} in the store after ${figures.cycleStoredWallS} s`);
  });
  const endedCount = () => clients.reduce((a, c) => a + c.ended.size, 0);
  const all = new Promise((r) => {
    const check = setInterval(() => {
      if (endedCount() >= SUBS) {
        clearInterval(check);
        r();
      }
    }, 20);
  });
  const timeout = new Promise((_, j) => setTimeout(() => j(new Error(`not every subscriber saw the end of ${cycleId} within ${CYCLE_TIMEOUT_S} s`)), CYCLE_TIMEOUT_S * 1000).unref());
  const progress = setInterval(() => say(`  +${s(performance.now() - tReq)} s: subscribers that saw the end ${endedCount()}/${SUBS}`), 10_000);
  try {
    await Promise.race([all, timeout]);
  } finally {
    clearInterval(progress);
  }
  figures.requestToLastDeliveryS = +s(performance.now() - tReq);
  const cpu1 = cpuAll();
  figures.cycleCpuS = Object.fromEntries(Object.keys(cpu1).map((k) => [k, +(cpu1[k] - cpu0[k]).toFixed(1)]));
  // Anything recorded after the end event (none expected) still has time to arrive.
  await new Promise((r) => setTimeout(r, 2000));
  const subs = (await Promise.all(clients.map((c) => c.ask({ report: true }, 'report')))).flat().sort((a, b) => a.i - b.i);
  const [busReport] = await busWatch.ask({ report: true }, 'report');
  const busLatencies = busReport.latencies;

  const stored = cyclePositions(dataDir, cycleId);
  figures.storedEvents = stored.length;
  figures.endEvent = subs.find((x) => x.ended !== 'closed')?.ended;
  figures.closedBeforeEnd = subs.filter((x) => x.ended === 'closed').length;
  const { mismatches: lost, delivered } = compareWithStored(subs, stored);
  figures.deliveredPerSubscriber = delivered;
  if (lost.length) figures.mismatches = lost.slice(0, 10);
  if (SAVE_TIMELINE) {
    writeFileSync(SAVE_TIMELINE, cycleEvents(dataDir, cycleId).map((e) => JSON.stringify(e)).join('\n') + '\n');
    say(`the cycle's ${stored.length} events written to ${SAVE_TIMELINE} (replay them with bench/subscriber-floor.mjs)`);
  }
  figures.subscriberErrors = subs.reduce((a, x) => a + x.errorCount, 0);
  if (figures.subscriberErrors) figures.firstErrors = subs.filter((x) => x.errors.length).slice(0, 5).map((x) => ({ i: x.i, transport: x.transport, kind: x.kind, errors: x.errors.map(String).slice(0, 2) }));

  figures.latencyMs = { all: summary(subs.map((x) => x.latencies)) };
  for (const tr of ['ws', 'sse']) for (const k of ['cycleProgress', 'patchEvents']) figures.latencyMs[`${tr} ${k}`] = summary(subs.filter((x) => x.transport === tr && x.kind === k).map((x) => x.latencies));
  figures.busLatencyMs = summary([busLatencies]);
  // By event type (all subscribers; and on the bus): which events make the tail.
  figures.latencyByTypeMs = byType(subs);
  figures.busLatencyByTypeMs = byType([busReport]);
  // Gateway CPU per delivery (one event to one subscriber), over the request → last delivery window.
  figures.deliveries = subs.reduce((a, x) => a + x.positions.length + x.other, 0);
  figures.gatewayCpuPerDeliveryUs = Math.round((figures.cycleCpuS.gateway * 1e6) / figures.deliveries);
  ok = lost.length === 0 && figures.subscriberErrors === 0 && figures.storedEvents > 0;
} catch (e) {
  figures.error = e.message;
  say(`FAILED: ${e.stack ?? e.message}`);
} finally {
  poll();
  figures.peakRssMiB = Object.fromEntries([...peaks].map(([k, v]) => [k, Math.round(v / 1024)]));
  for (const c of [...clients, ...(busWatch ? [busWatch] : [])]) await c.close().catch(() => undefined);
  await stack?.stop();
  await fleet?.stop();
  stopWatch();
}
if (PROFILE_DIR) {
  const gw = watched.get('gateway');
  figures.gatewayProfile = readdirSync(PROFILE_DIR).filter((f) => f.includes(`.${gw}.`)).map((f) => join(resolve(PROFILE_DIR), f))[0];
}
say(`figures: ${JSON.stringify(figures, null, 1)}`);
if (ok && !args.includes('--keep')) rmSync(work, { recursive: true, force: true });
else say(`data and stack logs kept in ${work}`);
process.exit(ok ? 0 : 1);
