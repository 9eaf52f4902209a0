// Audit replay and verify of a 1,000-endpoint cycle (TARGETS: ≤ 1 s). First a real cycle: the
// simulated-fleet benchmark (bench/cycle-simulated.mjs --keep: the embedded stack, 1,000 SSH
// endpoints, one full cycle) leaves its SQLite event store behind. Then, on that store, what an
// auditor's replay does (gateway/src/audit; `patchbay audit history|as-of|verify`, the console's
// Audit page):
//   read    — the cycle's history: its stream and every run stream it released, merged by position
//   replay  — fold every event into the cycle's state (waves, endpoints, steps), as of the end
//   as-of   — the same as of the middle event (the console's slider)
//   verify  — every stream's hash chain, event by event
// each timed, the store opened afresh for every repetition (first one cold), and the total.
//   ./node_modules/.bin/node bench/audit-replay.mjs [--endpoints 1000] [--runs 10] [--store <events.db> --cycle <id>]
// Build first: npm run build.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.indexOf(name) < 0 ? dflt : args[args.indexOf(name) + 1]);
const N = Number(opt('--endpoints', '1000'));
const RUNS = Number(opt('--runs', '10'));
const say = (l) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`);

let store = opt('--store', undefined);
let cycleId = opt('--cycle', undefined);
let work;
if (!store || !cycleId) {
  say(`running a ${N}-endpoint cycle on the simulated fleet (bench/cycle-simulated.mjs --keep)`);
  const script = join(dirname(fileURLToPath(import.meta.url)), 'cycle-simulated.mjs');
  const r = spawnSync(process.execPath, [script, '--endpoints', String(N), '--concurrency', '200', '--apt-latency-ms', '200', '--reboot-delay-ms', '1000', '--facts-concurrency', '200', '--keep'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = `${r.stdout}\n${r.stderr}`;
  cycleId = /cycle (\S+) requested/.exec(out)?.[1];
  work = /kept in (\S+)\s*$/m.exec(out)?.[1];
  if (r.status !== 0 || !cycleId || !work) throw new Error(`the simulated cycle failed (exit ${r.status}):\n${out.slice(-3000)}`);
  store = join(work, 'patchbay', 'events.db');
  if (!existsSync(store)) throw new Error(`no event store at ${store}`);
  say(`cycle ${cycleId} done; store ${store}`);
}

const { SqliteEventStore } = await import('@patchbay/event-store');
const { readCycleHistory, foldCycle, eventsAsOf, verifyCycleHistory } = await import('@patchbay/gateway');

const times = { read: [], replay: [], asOf: [], verify: [], total: [] };
let facts;
for (let i = 0; i < RUNS; i++) {
  const es = SqliteEventStore.open(store);
  try {
    const t0 = performance.now();
    const history = await readCycleHistory(es, cycleId);
    const t1 = performance.now();
    const state = foldCycle(cycleId, history.events);
    const t2 = performance.now();
    const middle = history.events[Math.floor(history.events.length / 2)];
    const past = foldCycle(cycleId, eventsAsOf(history.events, { eventId: middle.metadata.eventId }) ?? []);
    const t3 = performance.now();
    const verification = verifyCycleHistory(history);
    const t4 = performance.now();
    if (!verification.ok) throw new Error(`the chain does not verify: ${JSON.stringify(verification.firstBroken)}`);
    times.read.push(t1 - t0);
    times.replay.push(t2 - t1);
    times.asOf.push(t3 - t2);
    times.verify.push(t4 - t3);
    times.total.push(t4 - t0);
    facts = { streams: history.streams.size, events: history.events.length, status: state.status, endpoints: state.endpoints.length, eventsFolded: state.eventCount, asOfEventsFolded: past.eventCount };
  } finally {
    await es.close?.();
  }
}
const ms = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return { first: +xs[0].toFixed(1), p50: +a[Math.floor(a.length / 2)].toFixed(1), max: +a[a.length - 1].toFixed(1) };
};
const figures = {
  date: new Date().toISOString(),
  machine: { nproc: cpus().length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), loadavg: loadavg().map((l) => +l.toFixed(1)) },
  cycle: { id: cycleId, ...facts },
  runs: RUNS,
  ms: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, ms(v)])),
};
figures.targetMet = figures.ms.total.max <= 1000;
say(`replay + verify of ${facts.events} events in ${facts.streams} streams: total p50 ${figures.ms.total.p50} ms, first (cold) ${figures.ms.total.first} ms, max ${figures.ms.total.max} ms (target ≤ 1000 ms)`);
say(`figures: ${JSON.stringify(figures, null, 1)}`);
if (work && !args.includes('--keep')) rmSync(work, { recursive: true, force: true });
