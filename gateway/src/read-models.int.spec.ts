/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON, checked by value */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteEventStore } from '@patchbay/event-store';
import { EmbeddedReadStore, FerretDbServer, findFerretDbBinary, MongoReadStore, type ReadStore } from '@patchbay/read-store';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeOf, gql, startTestStack, type TestStack } from './spec-fixtures.js';
import type { RunningGateway } from './gateway.js';
import { cycleBatches, inventoryBatches, type StreamBatch } from './read/read-fixtures.js';
import { C, startReadModels } from './read/projections.js';
import { OPERATION_ROLES } from './auth/roles.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
}

type Gql = <T = Record<string, any>>(query: string, variables?: Record<string, unknown>, token?: string) => Promise<{ data?: T; errors?: any[] }>;

describe('read models: projections and entity queries', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  let q: Gql;
  const tokens: Record<string, string> = {};

  before(async () => {
    stack = await startTestStack();
    for (const [stream, events] of [...inventoryBatches(), ...cycleBatches('c-1', 30)]) await stack.store.append(stream, events, 'any');
    gw = await stack.startGateway();
    q = (query, variables, token = stack.adminToken) => gql(gw.url, query, variables, token) as never;
    for (const role of ['viewer', 'operator', 'approver', 'auditor'])
      tokens[role] = (await q<{ createApiToken: { token: string } }>(`mutation { createApiToken(name: "${role}-1", roles: [${role}]) { token } }`)).data!.createApiToken.token;
    await eventually('projections caught up', async () => (await q('{ cycle(id: "c-1") { status } }')).data?.['cycle']?.status === 'completed');
  });
  after(async () => stack?.close());

  it('endpoint: labels, SSH identity without secrets, host key, facts, groups, last cycle', async () => {
    const r = await q(`{ endpoint(id: "e-01") { id labels { key value } ssh { host port user sudo keyRef } hostKey { state } source retired
      facts { os { id versionId prettyName } packageManager updateCount securityUpdateCount securityPackages { name to severity advisory } rebootRequired }
      hasSecurityUpdates rebootRequired groupIds pendingUpdates { name from to security } } }`);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const e = r.data!['endpoint'];
    assert.deepEqual(e.labels, [{ key: 'env', value: 'prod' }, { key: 'role', value: 'web' }, { key: 'team.example/owner', value: 'ops' }]);
    assert.deepEqual(e.ssh, { host: 'e-01.lab', port: 22, user: 'patchbay', sudo: true, keyRef: 'env:PATCHBAY_KEY' });
    assert.equal(e.hostKey.state, 'unknown');
    assert.deepEqual(e.facts.os, { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
    assert.equal(e.facts.updateCount, 2);
    assert.deepEqual(e.facts.securityPackages, [{ name: 'openssl', to: '3.0.14', severity: 'important', advisory: 'DSA-5700-1' }]);
    assert.equal(e.rebootRequired, true);
    assert.deepEqual(e.groupIds, ['web']);
    assert.deepEqual(e.pendingUpdates.map((u: { name: string; security: boolean }) => `${u.name}:${u.security}`), ['openssl:true', 'vim:false']);
    assert.equal((await q('{ endpoint(id: "e-03") { hostKey { state fingerprint } } }')).data!['endpoint'].hostKey.state, 'pending');
    assert.equal((await q('{ endpoint(id: "e-02") { hostKey { state decidedBy } } }')).data!['endpoint'].hostKey.decidedBy, 'tofu');
    assert.equal((await q('{ endpoint(id: "nope") { id } }')).data!['endpoint'], null);
  });

  it('endpoints: filters by labels, group, tier, security updates, reboot; retired only when asked', async () => {
    const ids = async (filter: string) => {
      const r = await q(`{ endpoints(filter: ${filter}) { edges { node { id } } } }`);
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      return r.data!['endpoints'].edges.map((e: { node: { id: string } }) => e.node.id);
    };
    assert.deepEqual(await ids('{}'), ['e-01', 'e-02', 'e-03', 'e-04', 'e-05', 'e-06']);
    assert.deepEqual(await ids('{ includeRetired: true }'), ['e-01', 'e-02', 'e-03', 'e-04', 'e-05', 'e-06', 'e-07']);
    assert.deepEqual(await ids('{ labels: [{ key: "env", value: "prod" }, { key: "role", value: "web" }] }'), ['e-01', 'e-03']);
    assert.deepEqual(await ids('{ labels: [{ key: "team.example/owner", value: "ops" }], group: "db" }'), ['e-05', 'e-06']);
    assert.deepEqual(await ids('{ tier: "high" }'), ['e-01', 'e-02', 'e-03', 'e-04']);
    assert.deepEqual(await ids('{ hasSecurityUpdates: true }'), ['e-01', 'e-05']);
    assert.deepEqual(await ids('{ rebootRequired: true }'), ['e-01']);
    assert.deepEqual(await ids('{ tier: "critical", hasSecurityUpdates: true }'), ['e-05']);
  });

  it('pagination is stable across pages and survives an insert before the cursor', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const r: any = await q('query($after: String) { endpoints(first: 4, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }', { after });
      seen.push(...r.data.endpoints.edges.map((e: { node: { id: string } }) => e.node.id));
      if (i === 0) {
        // An endpoint registered before the cursor does not shift the next page.
        await stack.append('endpoint-a-00', [{ eventId: 'a-00-reg', type: 'EndpointRegistered', data: { endpointId: 'a-00', labels: {}, ssh: { host: 'a', port: 22, user: 'x', sudo: false }, source: 'manual' } }]);
        await eventually('a-00 projected', async () => (await q('{ endpoint(id: "a-00") { id } }')).data?.['endpoint']);
      }
      if (!r.data.endpoints.pageInfo.hasNextPage) break;
      after = r.data.endpoints.pageInfo.endCursor;
    }
    assert.deepEqual(seen, ['e-01', 'e-02', 'e-03', 'e-04', 'e-05', 'e-06']);
    assert.equal(codeOf(await gql(gw.url, '{ endpoints(after: "garbage") { edges { cursor } } }', undefined, stack.adminToken)), 'INVALID_QUERY');
    assert.equal(codeOf(await gql(gw.url, '{ endpoints(first: 0) { edges { cursor } } }', undefined, stack.adminToken)), 'VALIDATION_FAILED');
  });

  it('reference groups with members and why; policies; workflow templates with versions', async () => {
    const g = await q('{ referenceGroup(id: "db") { id tier version memberCount definition members { edges { node { endpointId reason } } } } referenceGroups(tier: "high") { edges { node { id } } } }');
    assert.equal(g.errors, undefined, JSON.stringify(g.errors));
    assert.equal(g.data!['referenceGroup'].tier, 'critical');
    assert.equal(g.data!['referenceGroup'].memberCount, 2);
    assert.deepEqual(g.data!['referenceGroup'].members.edges.map((e: any) => `${e.node.endpointId}:${e.node.reason}`), ['e-05:selector role=db matched', 'e-06:static member']);
    assert.deepEqual(g.data!['referenceGroups'].edges.map((e: any) => e.node.id), ['web']);
    const p = await q('{ policies { edges { node { id version definition } } } policy(id: "prod") { id definition } }');
    assert.deepEqual(p.data!['policy'].definition.groups, ['web', 'db']);
    assert.equal(p.data!['policies'].edges.length, 1);
    const w = await q('{ workflowTemplates { edges { node { id lastVersion } } } workflowTemplate(id: "standard", version: 1) { lastVersion versions { version } template { version template } } }');
    assert.equal(w.errors, undefined, JSON.stringify(w.errors));
    assert.equal(w.data!['workflowTemplate'].lastVersion, 2);
    assert.deepEqual(w.data!['workflowTemplate'].versions.map((v: any) => v.version), [1, 2]);
    assert.equal(w.data!['workflowTemplate'].template.template.phases.patch[0].params.scope, 'all');
  });

  it('cycles: status, waves, counts, plan hash, approvals; filters by status and kind', async () => {
    const r = await q('{ cycle(id: "c-1") { id kind status planHash requestedBy waves { index name size state succeeded failed } counts { planned released succeeded failed } approvals { by comment } approvalsRequired } }');
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const c = r.data!['cycle'];
    assert.equal(c.status, 'completed');
    assert.equal(c.planHash, 'c'.repeat(64));
    assert.deepEqual(c.waves, [
      { index: 0, name: 'tier:critical', size: 15, state: 'completed', succeeded: 14, failed: 1 },
      { index: 1, name: 'tier:high', size: 15, state: 'completed', succeeded: 13, failed: 2 },
    ]);
    assert.deepEqual(c.counts, { planned: 30, released: 30, succeeded: 27, failed: 3 });
    assert.deepEqual(c.approvals, [{ by: 'token:bbb:carol', comment: 'go' }]);
    const list = async (filter: string) => (await q(`{ cycles(filter: ${filter}) { edges { node { id } } } }`)).data!['cycles'].edges.map((e: any) => e.node.id);
    assert.deepEqual(await list('{ status: ["completed"] }'), ['c-1']);
    assert.deepEqual(await list('{ status: ["running"] }'), []);
    assert.deepEqual(await list('{ kind: ["manual"] }'), ['c-1']);
    assert.deepEqual(await list('{ kind: ["emergency"] }'), []);
  });

  it('endpointRuns: steps with status, timings, exit code, output tail; reboots; filter by status', async () => {
    const r = await q('{ endpointRuns(cycleId: "c-1", filter: { status: ["failed"] }) { edges { node { endpointId status code currentStep steps { stepKey status exitCode stdoutTail durationMs startedAt finishedAt } reboots { bootIdBefore bootIdAfter waitedMs } } } } }');
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const runs = r.data!['endpointRuns'].edges.map((e: any) => e.node);
    assert.deepEqual(runs.map((x: any) => x.endpointId), ['n-00009', 'n-00019', 'n-00029']);
    const run = runs[0];
    assert.equal(run.code, 'CHECK_FAILED');
    assert.deepEqual(run.steps.map((s: any) => `${s.stepKey}:${s.status}:${s.exitCode}`), ['disk:succeeded:0', 'patch:succeeded:0', 'reboot:failed:3']);
    assert.equal(run.steps[1].stdoutTail, 'Setting up openssl (3.0.14) ...');
    assert.equal(run.steps[1].durationMs, 900);
    assert.ok(run.steps[1].startedAt && run.steps[1].finishedAt);
    assert.deepEqual(run.reboots, [{ bootIdBefore: 'boot-a', bootIdAfter: 'boot-b', waitedMs: 30000 }]);
    const all = await q('{ endpointRuns(cycleId: "c-1", first: 100) { edges { node { status } } } }');
    assert.equal(all.errors, undefined, JSON.stringify(all.errors));
    assert.equal(all.data!['endpointRuns'].edges.length, 30);
  });

  it('pendingUpdates and compliance per group and tier', async () => {
    const u = await q('{ pendingUpdates(filter: { security: true }) { edges { node { endpointId name to advisory } } } }');
    assert.deepEqual(u.data!['pendingUpdates'].edges.map((e: any) => `${e.node.endpointId}:${e.node.name}`), ['e-01:openssl', 'e-05:libc6']);
    const t = await q('{ pendingUpdates(filter: { tier: "high" }) { edges { node { endpointId name } } } }');
    assert.deepEqual(t.data!['pendingUpdates'].edges.map((e: any) => `${e.node.endpointId}:${e.node.name}`), ['e-01:openssl', 'e-01:vim']);
    const c = await q('{ web: compliance(groupId: "web") { endpoints compliant unknown gaps { endpointId missing { name } } } critical: compliance(tier: "critical") { endpoints compliant unknown gaps { endpointId groupIds missing { name severity } } } }');
    assert.equal(c.errors, undefined, JSON.stringify(c.errors));
    assert.deepEqual(c.data!['web'], { endpoints: 4, compliant: 1, unknown: 2, gaps: [{ endpointId: 'e-01', missing: [{ name: 'openssl' }] }] });
    assert.deepEqual(c.data!['critical'], { endpoints: 2, compliant: 0, unknown: 1, gaps: [{ endpointId: 'e-05', groupIds: ['db'], missing: [{ name: 'libc6', severity: 'critical' }] }] });
    assert.equal(codeOf(await gql(gw.url, '{ compliance { endpoints } }', undefined, stack.adminToken)), 'VALIDATION_FAILED');
  });

  it('roles: every role reads, viewer/auditor/approver cannot send commands, rebuild is admin only', async () => {
    const reads = Object.keys(OPERATION_ROLES).filter((k) => ['Query.endpoints', 'Query.cycle', 'Query.compliance', 'Query.endpointRuns'].includes(k));
    assert.equal(reads.length, 4);
    for (const role of ['viewer', 'operator', 'approver', 'auditor']) {
      const r = await q('{ endpoints { edges { cursor } } cycle(id: "c-1") { id } endpointRuns(cycleId: "c-1", first: 1) { edges { cursor } } referenceGroups { edges { cursor } } policies { edges { cursor } } workflowTemplates { edges { cursor } } cycles { edges { cursor } } pendingUpdates { edges { cursor } } compliance(tier: "high") { endpoints } }', undefined, tokens[role]);
      assert.equal(r.errors, undefined, `${role}: ${JSON.stringify(r.errors)}`);
    }
    const mutations = [
      'importInventory(format: csv, fileName: "a.csv", content: "x")',
      'gatherFacts',
      'acceptHostKey(endpointId: "e-03", fingerprint: "x", reason: "y")',
      'defineReferenceGroup(group: {})',
      'definePolicy(policy: {})',
      'saveWorkflowTemplate(template: {})',
      'applyPolicyBundle(files: [{ name: "a", content: "b" }])',
      'previewCycle(policyId: "prod")',
      'emergencyCycle(policyId: "prod", emergency: {})',
      'requestCycle(policyId: "prod")',
      'pauseCycle(cycleId: "c-1", reason: "r")',
      'resumeCycle(cycleId: "c-1")',
      'abortCycle(cycleId: "c-1", reason: "r")',
    ];
    for (const role of ['viewer', 'approver', 'auditor'])
      for (const m of mutations) assert.equal(codeOf(await gql(gw.url, `mutation { ${m} { commandId } }`, undefined, tokens[role])), 'FORBIDDEN', `${role} ${m}`);
    for (const role of ['viewer', 'operator', 'auditor']) assert.equal(codeOf(await gql(gw.url, 'mutation { approveCycle(cycleId: "c-1") { commandId } }', undefined, tokens[role])), 'FORBIDDEN', `${role} approves`);
    for (const role of ['viewer', 'operator', 'approver', 'auditor']) assert.equal(codeOf(await gql(gw.url, 'mutation { rebuildReadModels { name } }', undefined, tokens[role])), 'FORBIDDEN');
    assert.equal(codeOf(await gql(gw.url, '{ endpoints { edges { cursor } } }')), 'UNAUTHENTICATED');
    // Input is checked at the edge with the contracts' schemas before anything is sent.
    assert.equal(codeOf(await gql(gw.url, 'mutation { acceptHostKey(endpointId: "e-03", fingerprint: "not-a-fingerprint", reason: "y") { commandId } }', undefined, tokens['operator'])), 'VALIDATION_FAILED');
  });

  it('an event without its key or of an unknown type is skipped, never stalls the projections', async () => {
    await stack.append('endpoint-broken', [
      { eventId: 'broken-1', type: 'EndpointRegistered', data: { labels: {} } },
      { eventId: 'broken-2', type: 'EndpointTeleported', data: { endpointId: 'broken' } },
    ]);
    await stack.append('group-broken', [{ eventId: 'broken-3', type: 'GroupMembershipChanged', data: { groupId: 'broken', added: [{ reason: 'no id' }], removed: [] } }]);
    // Nested deeper than the read store's dialect allows: refused outright, so skipped (a retry could never succeed).
    let deep: Record<string, unknown> = { end: true };
    for (let i = 0; i < 40; i++) deep = { next: deep };
    await stack.append('cycle-deep', [{ eventId: 'deep-1', type: 'CycleRequested', data: { cycleId: 'deep', kind: 'emergency', policyId: 'prod', requestedBy: 'x', requestedAt: '2026-11-25T10:00:00Z', emergency: deep } }]);
    await stack.append('cycle-after-deep', [{ eventId: 'after-deep-1', type: 'CycleRequested', data: { cycleId: 'after-deep', kind: 'manual', policyId: 'prod', requestedBy: 'x', requestedAt: '2026-11-25T10:00:00Z' } }]);
    await eventually('the cycle after the refused one projected', async () => (await q('{ cycle(id: "after-deep") { status } }')).data?.['cycle']);
    assert.equal((await q('{ cycle(id: "deep") { status } }')).data!['cycle'], null, 'the refused event wrote nothing');
    await stack.append('endpoint-z-99', [{ eventId: 'z-99-reg', type: 'EndpointRegistered', data: { endpointId: 'z-99', labels: {}, ssh: { host: 'z', port: 22, user: 'x', sudo: false }, source: 'manual' } }]);
    await eventually('the event after the broken ones projected', async () => (await q('{ endpoint(id: "z-99") { id } }')).data?.['endpoint']);
  });

  it('rebuildReadModels replays to the same read models', async () => {
    const dump = async () => JSON.stringify((await q('{ endpoints(filter: { includeRetired: true }, first: 100) { edges { node { id labels { key value } hostKey { state } facts { securityUpdateCount } groupIds lastCycle { cycleId } } } } cycle(id: "c-1") { status waves { state succeeded failed } counts { released succeeded failed } } endpointRuns(cycleId: "c-1", first: 100) { edges { node { endpointId status steps { status } } } } referenceGroup(id: "db") { memberCount } }')).data);
    const before = await dump();
    const r = await q('mutation { rebuildReadModels { name position } }');
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.deepEqual(r.data!['rebuildReadModels'].map((p: any) => p.name), ['gateway.inventory', 'gateway.definitions', 'gateway.cycles']);
    assert.equal(await dump(), before);
  });
});

/** Every document of the read models, without the `_v` stamps (positions differ only by design: none here). */
async function dumpStore(rs: ReadStore): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const name of Object.values(C)) if (name !== C.meta) out[name] = await rs.collection(name).find({}, { sort: { _id: 1 } });
  return out;
}

describe('read models: a projection stopped and restarted mid-way ends equal to a rebuild', () => {
  let dir: string;
  let store: SqliteEventStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-gateway-rm-'));
    store = SqliteEventStore.open(join(dir, 'events.db'));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restart from the snapshot after half the events, then the rest, equals one run from scratch', async () => {
    const batches: StreamBatch[] = [...inventoryBatches(), ...cycleBatches('c-r', 40)];
    const half = Math.floor(batches.length / 2);
    for (const [s, e] of batches.slice(0, half)) await store.append(s, e, 'any');
    const file = join(dir, 'rs.jsonl');
    const first = await EmbeddedReadStore.open({ file });
    const live = await startReadModels({ store, readStore: first, pollIntervalMs: 10 });
    await live.caughtUp();
    await live.stop();
    await first.close(); // snapshot with the checkpoints
    for (const [s, e] of batches.slice(half)) await store.append(s, e, 'any');
    const reopened = await EmbeddedReadStore.open({ file });
    const resumed = await startReadModels({ store, readStore: reopened, pollIntervalMs: 10 });
    await resumed.caughtUp();
    await resumed.stop();

    const fresh = await EmbeddedReadStore.open({});
    const scratch = await startReadModels({ store, readStore: fresh, pollIntervalMs: 10 });
    await scratch.caughtUp();
    await scratch.stop();
    const a = await dumpStore(reopened);
    const b = await dumpStore(fresh);
    assert.equal((a[C.runs] ?? []).length, 40);
    assert.deepEqual(a, b);

    // A stored read-model version other than this build's: everything is dropped and replayed.
    await reopened.collection(C.meta).upsertOne({ _id: 'read-models' }, { _id: 'read-models', version: 0 });
    await reopened.collection(C.endpoints).upsertOne({ _id: 'stale' }, { _id: 'stale', registered: true });
    const upgraded = await startReadModels({ store, readStore: reopened, pollIntervalMs: 10 });
    await upgraded.caughtUp();
    await upgraded.stop();
    assert.deepEqual(await dumpStore(reopened), b);
    await reopened.close();
    await fresh.close();
  });
});

const ferretBinary = findFerretDbBinary();
describe('read models: the same projections on a MongoDB-wire server (FerretDB) end equal to the embedded store', { skip: ferretBinary ? false : 'FerretDB not built (libs/read-store/scripts/build-ferretdb.sh)' }, () => {
  it('inventory, definitions, a cycle of 10 runs: every collection equal', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-gateway-ferret-'));
    const store = SqliteEventStore.open(join(dir, 'events.db'));
    const ferret = await FerretDbServer.start({ binary: ferretBinary! });
    try {
      for (const [s, e] of [...inventoryBatches(), ...cycleBatches('c-f', 10)]) await store.append(s, e, 'any');
      const mongo = await MongoReadStore.connect(ferret.url, { database: 'gateway_spec' });
      const embedded = await EmbeddedReadStore.open({});
      for (const rs of [mongo, embedded]) {
        const rm = await startReadModels({ store, readStore: rs, pollIntervalMs: 10 });
        await rm.caughtUp();
        await rm.stop();
      }
      assert.deepEqual(await dumpStore(mongo), await dumpStore(embedded));
      await mongo.close();
      await embedded.close();
    } finally {
      await ferret.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
