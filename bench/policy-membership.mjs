// Reference-group membership recomputed for 10,000 endpoints across 20 groups (target ≤ 1 s).
//   node bench/policy-membership.mjs [--endpoints 10000] [--groups 20] [--runs 5]
// Prints three figures (median of the runs):
//   decide      the pure decider: 20 group definitions evaluated over every endpoint, diffs and events built;
//   store       the same through the policy application and the embedded SQLite event store
//               (20 groups defined, each append carrying its membership event), what a define command costs;
//   incremental one label change per endpoint (10,000 endpoint events) recomputed across the 20 groups in memory;
//   endpoint events 10,000 registrations through PolicyApplication.onEndpointEvent (SQLite ledger and store).
// Needs `npx tsc -b services/policy` first. Endpoints are generated (simulated fleet), labels spread
// over env/role/dc/cluster so selectors match between 1% and 50% of the fleet.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { performance } from 'node:perf_hooks';
import { SqliteEventStore } from '@patchbay/event-store';
import { InMemoryAppliedEventLedger, SqliteAppliedEventLedger } from '@patchbay/messaging';
import { PolicyApplication, openPolicyDatabase, checkGroup, decideGroup, diffMembership, evolveGroup, initialGroupState, orThrow } from '@patchbay/policy';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('--endpoints', 10_000);
const G = arg('--groups', 20);
const RUNS = arg('--runs', 5);

const envs = ['prod', 'staging', 'dev'];
const roles = ['web', 'db', 'cache', 'queue', 'batch'];
const dcs = ['par1', 'nyc1', 'fra2', 'sgp1'];
const endpoints = Array.from({ length: N }, (_, i) => {
  const labels = { env: envs[i % 3], role: roles[i % 5], dc: dcs[i % 4], cluster: `c${i % 50}` };
  if (i % 7 === 0) labels.legacy = 'yes';
  if (i % 11 === 0) labels['example.com/tier'] = 'gold';
  return { endpointId: `host-${String(i).padStart(5, '0')}`, labels, retired: i % 97 === 0 };
});
const selectors = [
  'env=prod', 'env=prod,role in (web,db),!legacy', 'env!=dev', 'role notin (batch,queue)', 'dc in (par1,fra2),env=prod',
  'legacy', '!legacy,env=staging', 'example.com/tier=gold', 'cluster in (c1,c2,c3,c4,c5)', 'role=db,dc=nyc1',
];
const definitions = Array.from({ length: G }, (_, g) =>
  orThrow(
    checkGroup({
      id: `group-${g}`,
      tier: ['critical', 'high', 'medium', 'low'][g % 4],
      selector: selectors[g % selectors.length] + (g >= selectors.length ? `,dc!=sgp1` : ''),
      members: endpoints.slice(g * 5, g * 5 + 5).map((e) => e.endpointId),
      exclusions: endpoints.slice(N - g * 3 - 3, N - g * 3).map((e) => e.endpointId),
    }),
    'group',
  ),
);
const byId = new Map(endpoints.map((e) => [e.endpointId, e]));
const lookup = { get: (id) => byId.get(id), ids: () => byId.keys() };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// 1. Pure decider.
const decideRuns = [];
let totalMembers = 0;
for (let r = 0; r < RUNS; r++) {
  const t0 = performance.now();
  totalMembers = 0;
  for (const definition of definitions) {
    const events = decideGroup({ type: 'DefineGroup', definition, endpoints: lookup }, initialGroupState());
    for (const e of events) if (e.type === 'GroupMembershipChanged') totalMembers += e.data.added.length;
  }
  decideRuns.push(performance.now() - t0);
}

// 2. Through the application and the SQLite store (fresh store each run).
const storeRuns = [];
for (let r = 0; r < RUNS; r++) {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-policy-'));
  const store = SqliteEventStore.open(join(dir, 'events.db'));
  const db = new DatabaseSync(join(dir, 'policy.db'));
  try {
    const app = new PolicyApplication(store, db, new InMemoryAppliedEventLedger());
    await app.start();
    db.exec('BEGIN');
    for (const e of endpoints) app.endpoints.put(e);
    db.exec('COMMIT');
    const t0 = performance.now();
    for (const group of definitions) await app.defineGroup({ commandId: `bench-${r}-${group.id}`, actor: 'bench', payload: { group } }, 'define');
    storeRuns.push(performance.now() - t0);
  } finally {
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// 3. Incremental: every endpoint changes labels once; each change is re-evaluated against every group.
const incRuns = [];
for (let r = 0; r < RUNS; r++) {
  const states = definitions.map((definition) => decideGroup({ type: 'DefineGroup', definition, endpoints: lookup }, initialGroupState()).reduce(evolveGroup, initialGroupState()));
  const changed = new Map(endpoints.map((e, i) => [e.endpointId, { ...e, labels: { ...e.labels, env: envs[(i + 1) % 3] } }]));
  const changedLookup = (id) => changed.get(id);
  const t0 = performance.now();
  let moves = 0;
  for (const e of endpoints) {
    for (const s of states) {
      const d = diffMembership(s.compiled, s.members, [e.endpointId], changedLookup, false);
      moves += d.added.length + d.removed.length;
    }
  }
  incRuns.push(performance.now() - t0);
  void moves;
}

// 4. Endpoint events end to end in the application (no NATS): 10,000 registrations, each applied
//    under the SQLite ledger and recomputed across the 20 groups, membership appends fsynced.
let eventsMs = 0;
let eventCount = 0;
{
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-policy-'));
  const store = SqliteEventStore.open(join(dir, 'events.db'));
  const db = openPolicyDatabase(join(dir, 'policy.db'));
  const ledger = new SqliteAppliedEventLedger(db);
  try {
    const app = new PolicyApplication(store, db, ledger);
    await app.start();
    for (const group of definitions) await app.defineGroup({ commandId: `bench-ev-${group.id}`, actor: 'bench', payload: { group } }, 'define');
    const events = endpoints.map((e, i) => ({
      type: 'EndpointRegistered',
      data: { endpointId: e.endpointId, labels: e.labels, ssh: { host: '127.0.0.1', port: 22, user: 'root', sudo: false }, source: 'bench' },
      metadata: { eventId: `reg-${i}`, stream: `endpoint-${e.endpointId}`, revision: 0, correlationId: 'bench', causationId: 'bench', actor: 'inventory', recordedAt: new Date().toISOString(), schemaVersion: 1, prevHash: '0'.repeat(64), hash: '0'.repeat(64) },
      position: BigInt(i + 1),
    }));
    // The fleet's retired endpoints are registered, then retired, as inventory would say.
    endpoints.forEach((e, i) => {
      if (!e.retired) return;
      events.push({ type: 'EndpointRetired', data: { endpointId: e.endpointId, reason: 'bench' }, metadata: { ...events[i].metadata, eventId: `ret-${i}`, revision: 1 }, position: BigInt(N + i + 1) });
    });
    eventCount = events.length;
    const t0 = performance.now();
    for (const e of events) await app.onEndpointEvent(e);
    await app.settled();
    eventsMs = performance.now() - t0;
    const members = (await app.listGroups()).groups.reduce((n, g) => n + g.memberCount, 0);
    if (members !== totalMembers) throw new Error(`endpoint events gave ${members} memberships, the full computation ${totalMembers}`);
    await app.stop();
  } finally {
    await ledger.close();
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (ms) => `${ms.toFixed(1)} ms`;
console.log(`policy membership: ${N} endpoints × ${G} groups, ${totalMembers} memberships, median of ${RUNS} runs (simulated fleet)`);
console.log(`  decide (pure, full recompute)          ${fmt(median(decideRuns))}   target ≤ 1000 ms: ${median(decideRuns) <= 1000 ? 'met' : 'MISSED'}`);
console.log(`  store (define 20 groups, SQLite store) ${fmt(median(storeRuns))}   target ≤ 1000 ms: ${median(storeRuns) <= 1000 ? 'met' : 'MISSED'}`);
console.log(`  incremental (${N} label changes × ${G})  ${fmt(median(incRuns))}   (${Math.round((N * G) / (median(incRuns) / 1000)).toLocaleString('en-US')} evaluations/s)`);
console.log(`  endpoint events (${eventCount} registrations and retirements through the ledger, batched appends fsynced, one run) ${fmt(eventsMs)}   (${Math.round(eventCount / (eventsMs / 1000)).toLocaleString('en-US')} events/s)`);
