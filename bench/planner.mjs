// Planner benchmark: a 10,000-endpoint plan (pure planning function, hash, split into stored
// parts), the supervision decider driving the whole cycle to completion, and storing the plan in
// the embedded SQLite event store. Prints the figures. Build first (npx tsc -b services/planner).
//   ./node_modules/.bin/node bench/planner.mjs [--endpoints 10000] [--runs 5]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, totalmem, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { patchPolicySchema, workflowTemplateSchema, toCycleStreamName } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { planCycle, planHash, splitPlan, decide, evolve, initialState, cycleEventId } from '@patchbay/planner';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer`);
  return v;
};
const N = opt('--endpoints', 10_000);
const RUNS = opt('--runs', 5);
const NOW = '2026-11-25T10:00:00.000Z';

const tiers = ['critical', 'high', 'medium', 'low'];
const groups = Array.from({ length: 20 }, (_, g) => ({ id: `g-${g}`, tier: tiers[g % 4], members: [] }));
const endpoints = [];
for (let i = 0; i < N; i++) {
  const id = `ep-${String(i).padStart(5, '0')}`;
  groups[i % 20].members.push(id);
  if (i % 7 === 0) groups[(i + 3) % 20].members.push(id);
  const updates = Array.from({ length: 20 }, (_, u) => ({ name: `pkg${(i + u) % 300}`, from: '1.0.0-1', to: '1.0.1-1+deb12u1', security: u % 3 === 0, severity: u % 3 === 0 ? 'important' : undefined }));
  endpoints.push({
    endpointId: id,
    labels: { cluster: `c${i % 500}`, env: 'prod' },
    ssh: { host: `${id}.example.net`, port: 22, user: 'patchbay', keyRef: 'env:PATCHBAY_KEY', sudo: true },
    retired: i % 101 === 0,
    ...(i % 97 === 0 ? {} : { facts: { updatesKnown: true, rebootRequired: i % 4 === 0, updates } }),
  });
}
const definition = patchPolicySchema.parse({
  id: 'fleet',
  groups: groups.map((g) => g.id),
  updates: { include: 'all', packages: { deny: ['pkg29*'] } },
  rollout: { canary: '1%', waves: ['10%', '30%'] },
  maxConcurrency: '5%',
  disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: '25%' },
  errorThreshold: '2%',
  workflow: { id: 'standard', version: 1 },
});
const template = workflowTemplateSchema.parse({
  id: 'standard',
  phases: {
    pre: [{ id: 'disk', type: 'check-disk', params: { minFreeMb: 500 } }],
    patch: [{ id: 'patch', type: 'patch', params: { scope: 'all' } }],
    post: [{ id: 'reboot', type: 'reboot', timeoutSeconds: 900, params: { mode: 'if-required', returnTimeoutSeconds: 600 } }],
  },
});
const snapshot = { policy: { id: 'fleet', version: 1, definition }, workflow: { id: 'standard', version: 1, template }, groups, endpoints };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => {
  const t = performance.now();
  const r = fn();
  return [performance.now() - t, r];
};

const planMs = [];
const hashMs = [];
const splitMs = [];
let plan;
let hash;
let parts;
for (let r = 0; r < RUNS; r++) {
  let ms;
  [ms, plan] = time(() => planCycle({ kind: 'manual' }, snapshot));
  planMs.push(ms);
  [ms, hash] = time(() => planHash(plan));
  hashMs.push(ms);
  [ms, parts] = time(() => splitPlan(plan));
  splitMs.push(ms);
}
const planned = plan.waves.reduce((n, w) => n + w.endpoints.length, 0);
const biggestPart = Math.max(...parts.map((p) => JSON.stringify(p).length));

// Supervision: start, then one run result per endpoint (every 60th fails, under the 2 % threshold).
const superviseMs = [];
let decisions = 0;
let eventsDecided = 0;
let finalStatus;
let requestEvents;
for (let r = 0; r < Math.min(RUNS, 3); r++) {
  const t = performance.now();
  let s = initialState('bench');
  requestEvents = decide({ type: 'RequestCycle', kind: 'manual', policyId: 'fleet', requestedBy: 'bench', requestedAt: NOW, notBefore: NOW, plan, planHash: hash }, s);
  for (const e of requestEvents) s = evolve(s, e);
  const inFlight = [];
  const apply = (events) => {
    decisions++;
    eventsDecided += events.length;
    for (const e of events) {
      s = evolve(s, e);
      if (e.type === 'EndpointReleased') inFlight.push(e.data.endpointId);
    }
  };
  apply(decide({ type: 'Start', now: NOW }, s));
  let i = 0;
  while (inFlight.length > 0) {
    const id = inFlight.shift();
    apply(decide({ type: 'RecordRunResult', endpointId: id, outcome: i++ % 60 === 59 ? 'failed' : 'succeeded', runEventId: `run-${id}`, now: NOW }, s));
  }
  finalStatus = s.status;
  superviseMs.push(performance.now() - t);
}

// Storing the request: CycleRequested, CyclePlanned, the parts and the approval in one append.
const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-planner-'));
let storeMs;
try {
  const store = SqliteEventStore.open(join(dir, 'events.db'));
  const batch = requestEvents.map((e, i) => ({ eventId: cycleEventId('bench', 'cmd', i), type: e.type, data: e.data, correlationId: 'bench', causationId: 'cmd', actor: 'bench' }));
  [storeMs] = [await (async () => {
    const t = performance.now();
    await store.append(toCycleStreamName('bench'), batch, 'no-stream');
    return performance.now() - t;
  })()];
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const f = (ms) => `${ms.toFixed(1)} ms`;
console.log(`planner benchmark: ${N} endpoints (${planned} planned, ${plan.skipped.length} skipped), 20 groups in 4 tiers, 20 pending updates each, 500 clusters`);
console.log(`node ${process.version}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg()[0].toFixed(1)}; median of ${RUNS} runs`);
console.log(`  plan (pure planning function)            ${f(median(planMs))}   (min ${f(Math.min(...planMs))}, max ${f(Math.max(...planMs))})`);
console.log(`  plan hash (canonical JSON + SHA-256)     ${f(median(hashMs))}`);
console.log(`  split into stored parts                  ${f(median(splitMs))}   (${parts.length} parts, largest ${(biggestPart / 1024).toFixed(0)} KiB)`);
console.log(`  waves                                    ${plan.waves.map((w) => `${w.name}:${w.endpoints.length}`).join(' ')}`);
console.log(`  concurrency ${plan.concurrency.limit}, error threshold ${plan.errorThreshold.limit}, cluster limits ${Object.keys(plan.disruptionBudget.limits).length}`);
console.log(`  supervise the whole cycle (decide+evolve) ${f(median(superviseMs))}   (${decisions / Math.min(RUNS, 3)} decisions, ${eventsDecided / Math.min(RUNS, 3)} events, ends ${finalStatus})`);
console.log(`  store the request (${requestEvents.length} events, one append) ${f(storeMs)}`);
