import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EndpointRegistered,
  FactsGathered,
  GroupMembershipChanged,
  PatchPolicyDefined,
  PatchPolicyUpdated,
  PLANNER_COMMANDS,
  ReferenceGroupDefined,
  RunCancelled,
  RunFailed,
  RunSucceeded,
  toCycleStreamName,
  toEndpointStreamName,
  toGroupStreamName,
  toPolicyStreamName,
  toRunStreamName,
  toWorkflowStreamName,
  WorkflowTemplateVersionSaved,
  type CyclePlan,
  type CycleSummary,
  cycleSummarySchema,
  type NewEvent,
  type PatchPolicyInput,
  type RecordedEvent,
} from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { EventRelay, NatsBus } from '@patchbay/messaging';
import { loadConfig, startService, type RunningService } from '@patchbay/service-host';
import { CollectingMetricReader, METRIC, startTelemetry, type CollectedPoint, type Telemetry } from '@patchbay/telemetry';
import { NatsServer } from '@patchbay/testing';
import { plannerService } from './index.js';
import { plannerSubject, RUN_RESULTS_DURABLE } from './planner.js';
import { sampleTemplate } from './domain/fixtures.js';

let seq = 0;
const ev = (type: string, data: unknown): NewEvent => ({ eventId: `spec-${process.pid}-${++seq}`, type, data, actor: 'spec', correlationId: 'spec', causationId: 'spec' });

async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('planner service: nats-server, SQLite store, relay and the planner booted by the host', () => {
  let nats: NatsServer;
  let dir: string;
  let store: SqliteEventStore;
  let bus: NatsBus;
  let relay: EventRelay;
  let planner: RunningService;
  let config: ReturnType<typeof loadConfig>;
  let commands = 0;
  const reader = new CollectingMetricReader();
  let telemetry: Telemetry;

  const send = <R>(name: string, payload: unknown, actor = 'alice') => bus.request<R>(plannerSubject(name), { commandId: `spec-cmd-${++commands}`, actor, payload });
  const cycleEvents = (cycleId: string) => store.readStream(toCycleStreamName(cycleId), { ifMissing: 'empty' });
  const released = async (cycleId: string) => (await cycleEvents(cycleId)).filter((e) => e.type === 'EndpointReleased').map((e) => (e.data as { endpointId: string }).endpointId);
  const allCycleEvents = async () => (await store.readAll({ categories: ['cycle'] })).length;
  /** The executor's part: the final event of one endpoint's run. */
  const finish = (cycleId: string, endpointId: string, ok = true) =>
    store.append(
      toRunStreamName(cycleId, endpointId),
      [ok ? ev(RunSucceeded.type, RunSucceeded.parse({ cycleId, endpointId, durationMs: 10 })) : ev(RunFailed.type, RunFailed.parse({ cycleId, endpointId, stepId: 'patch', code: 'STEP_FAILED', message: 'apt-get failed', durationMs: 10 }))],
      'any',
    );
  /** The executor's answer to an abort: every run still in flight ends cancelled. */
  const cancelInFlight = async (cycleId: string) => {
    const events = await cycleEvents(cycleId);
    const done = new Set(events.filter((e) => e.type === 'EndpointRunFinished').map((e) => (e.data as { endpointId: string }).endpointId));
    for (const endpointId of await released(cycleId))
      if (!done.has(endpointId)) await store.append(toRunStreamName(cycleId, endpointId), [ev(RunCancelled.type, RunCancelled.parse({ cycleId, endpointId, reason: 'cycle aborted', durationMs: 1 }))], 'any');
  };
  const abort = async (cycleId: string, reason: string, actor = 'alice') => {
    const r = await send<CycleSummary>(PLANNER_COMMANDS.abort, { cycleId, reason }, actor);
    await cancelInFlight(cycleId);
    await eventually(`${cycleId}: cancellations recorded`, async () => (await send<CycleSummary>(PLANNER_COMMANDS.get, { cycleId })).inFlight === 0);
    return r;
  };
  const status = async (cycleId: string) => (await send<CycleSummary>(PLANNER_COMMANDS.get, { cycleId })).status;

  /** Registers endpoints with facts, a group holding them, and a policy on the group. */
  async function seed(policyId: string, tier: string, endpoints: string[], policy: Partial<PatchPolicyInput> = {}, updates = ['openssl']) {
    for (const id of endpoints) {
      await store.append(
        toEndpointStreamName(id),
        [
          ev(EndpointRegistered.type, EndpointRegistered.parse({ endpointId: id, labels: { cluster: id.split('-')[0]! }, ssh: { host: `${id}.lab`, user: 'patchbay', keyRef: 'env:PATCHBAY_KEY' }, source: 'spec' })),
          ev(
            FactsGathered.type,
            FactsGathered.parse({
              endpointId: id,
              gatheredAt: '2026-11-25T09:00:00Z',
              facts: { os: { id: 'debian', idLike: [] }, packageManager: 'apt', updates: updates.map((name) => ({ name, from: '1.0', to: '1.1', security: true })), updatesKnown: true, rebootRequired: false, disks: [], services: { source: 'systemd', names: [] }, problems: [] },
            }),
          ),
        ],
        'no-stream',
      );
    }
    const groupId = `${policyId}-g`;
    await store.append(
      toGroupStreamName(groupId),
      [
        ev(ReferenceGroupDefined.type, ReferenceGroupDefined.parse({ groupId, version: 1, definition: { id: groupId, tier, members: [], exclusions: [] } })),
        ev(GroupMembershipChanged.type, GroupMembershipChanged.parse({ groupId, definitionVersion: 1, added: endpoints.map((endpointId) => ({ endpointId, reason: 'static member' })), removed: [], trigger: { kind: 'definition' } })),
      ],
      'no-stream',
    );
    const definition = { id: policyId, groups: [groupId], workflow: { id: 'standard', version: 1 }, ...policy };
    await store.append(toPolicyStreamName(policyId), [ev(PatchPolicyDefined.type, PatchPolicyDefined.parse({ policyId, version: 1, definition }))], 'no-stream');
  }

  before(async () => {
    // Started before the host's own call, which then keeps this set-up (and its reader).
    telemetry = startTelemetry({ serviceName: 'planner-spec', metricReaders: [reader] });
    nats = await NatsServer.start();
    dir = mkdtempSync(join(tmpdir(), 'patchbay-planner-'));
    const path = join(dir, 'events.db');
    config = loadConfig({ NATS_URL: nats.url, EVENTSTORE_SQLITE_PATH: path, PATCHBAY_DATA_DIR: dir, LOG_LEVEL: 'silent' });
    process.env['PLANNER_TICK_MS'] = '100';
    store = SqliteEventStore.open(path);
    bus = await NatsBus.connect({ servers: [nats.url], name: 'planner-spec' });
    relay = new EventRelay({ store, bus, pollIntervalMs: 20 });
    relay.start();
    await store.append(toWorkflowStreamName('standard'), [ev(WorkflowTemplateVersionSaved.type, { workflowId: 'standard', version: 1, template: sampleTemplate })], 'no-stream');
    planner = await startService(plannerService, config);
  });

  after(async () => {
    await planner?.close();
    await relay?.stop();
    await bus?.close();
    await store?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
    delete process.env['PLANNER_TICK_MS'];
    await telemetry?.shutdown();
  });

  it('releases endpoints wave by wave as runs succeed, within the concurrency limit, then completes', async () => {
    await seed('web', 'high', ['web-0', 'web-1', 'web-2', 'web-3', 'web-4'], { rollout: { canary: 1 }, maxConcurrency: 2 });
    const r = await send<CycleSummary>(PLANNER_COMMANDS.request, { cycleId: 'waves', policyId: 'web' });
    assert.equal(r.endpoints, 5);
    assert.equal(cycleSummarySchema.safeParse(r).success, true, 'the reply matches its contract');
    assert.deepEqual(await eventually('canary released', async () => ((await released('waves')).length === 1 ? released('waves') : undefined)), ['web-0']);
    await sleep(300);
    assert.equal((await released('waves')).length, 1, 'the next wave waits for the canary');
    await finish('waves', 'web-0');
    await eventually('wave 1 released up to the limit', async () => (await released('waves')).length === 3);
    await sleep(300);
    assert.deepEqual(await released('waves'), ['web-0', 'web-1', 'web-2'], 'never more than 2 in flight');
    await finish('waves', 'web-1');
    await eventually('a freed slot is refilled', async () => (await released('waves')).length === 4);
    for (const id of ['web-2', 'web-3']) await finish('waves', id);
    await eventually('last endpoint', async () => (await released('waves')).length === 5);
    await finish('waves', 'web-4');
    await eventually('completed', async () => (await status('waves')) === 'completed');
    const types = (await cycleEvents('waves')).map((e) => e.type);
    assert.deepEqual(types.slice(0, 5), ['CycleRequested', 'CyclePlanned', 'CyclePlanPartRecorded', 'CycleApproved', 'CycleStarted']);
    assert.ok(types.indexOf('WaveCompleted') < types.lastIndexOf('WaveReleased'), 'wave 1 released after wave 0 completed');
    assert.equal(types.at(-1), 'CycleCompleted');
    const rel = (await cycleEvents('waves')).find((e) => e.type === 'EndpointReleased')!;
    const d = rel.data as { ssh: { host: string; keyRef: string }; workflow: { steps: unknown[] }; packages: Array<{ name: string }> };
    assert.equal(d.ssh.host, 'web-0.lab');
    assert.equal(d.ssh.keyRef, 'env:PATCHBAY_KEY');
    assert.equal(d.workflow.steps.length, 3);
    assert.deepEqual(d.packages.map((p) => p.name), ['openssl']);
    assert.equal(rel.metadata.correlationId, 'waves');
    // Run results commute (counts per cycle, idempotent by command id): the server keeps a window
    // of them in flight instead of one round trip per event.
    const consumer = await bus.manager.consumers.info('PATCHBAY_EVENTS', RUN_RESULTS_DURABLE);
    assert.equal(consumer.config.max_ack_pending, 256);
  });

  it('halts at the error threshold with no release beyond what was in flight', async () => {
    const eps = Array.from({ length: 8 }, (_, i) => `db-${i}`);
    await seed('db', 'critical', eps, { maxConcurrency: 3, errorThreshold: 2 });
    await send(PLANNER_COMMANDS.request, { cycleId: 'halting', policyId: 'db' });
    await eventually('3 released', async () => (await released('halting')).length === 3);
    await finish('halting', 'db-0', false);
    await eventually('slot refilled after one failure', async () => (await released('halting')).length === 4);
    await finish('halting', 'db-1', false);
    await eventually('halted', async () => (await status('halting')) === 'halted');
    await finish('halting', 'db-2', true);
    await finish('halting', 'db-3', false);
    await eventually('in-flight runs recorded', async () => (await cycleEvents('halting')).filter((e) => e.type === 'EndpointRunFinished').length === 4);
    await sleep(400);
    assert.equal((await released('halting')).length, 4, 'nothing released after the halt');
    const halted = (await cycleEvents('halting')).find((e) => e.type === 'CycleHalted')!.data as { code: string; failed: number; threshold: number; inFlight: number };
    assert.deepEqual({ ...halted, cycleId: undefined, reason: undefined }, { cycleId: undefined, reason: undefined, code: 'ERROR_THRESHOLD_REACHED', failed: 2, threshold: 2, inFlight: 2 });
    assert.equal(await status('halting'), 'halted');
  });

  it('an emergency cycle goes ahead of a queued cycle', async () => {
    await seed('app', 'medium', ['app-0', 'app-1'], { maxConcurrency: 1 });
    await seed('batch', 'low', ['batch-0'], {});
    await send(PLANNER_COMMANDS.request, { cycleId: 'first', policyId: 'app' });
    await eventually('first runs', async () => (await released('first')).length === 1);
    await send(PLANNER_COMMANDS.request, { cycleId: 'queued', policyId: 'batch' });
    const e = await send<CycleSummary>(PLANNER_COMMANDS.emergency, {
      cycleId: 'zero-day',
      policyId: 'app',
      emergency: { advisoryId: 'CVE-2024-3094', packages: ['openssl'], target: { kind: 'groups', groups: ['app-g'] } },
    });
    assert.equal(e.status, 'queued');
    await sleep(300);
    assert.equal(await status('queued'), 'queued', 'one active cycle at a time');
    await finish('first', 'app-0');
    await eventually('first continues', async () => (await released('first')).length === 2);
    await finish('first', 'app-1');
    await eventually('the emergency starts first', async () => (await released('zero-day')).length === 1);
    assert.equal(await status('queued'), 'queued');
    const zr = (await cycleEvents('zero-day')).find((x) => x.type === 'EndpointReleased')!.data as { emergency: boolean };
    assert.equal(zr.emergency, true);
    await finish('zero-day', 'app-0');
    await eventually('emergency second endpoint', async () => (await released('zero-day')).length === 2);
    await finish('zero-day', 'app-1');
    await eventually('then the queued cycle', async () => (await released('queued')).length === 1);
    await finish('queued', 'batch-0');
    await eventually('queued completes', async () => (await status('queued')) === 'completed');
  });

  it('approval gate: the requester cannot approve (nothing stored), an approver can; abort appends CycleAborted', async () => {
    await seed('pay', 'critical', ['pay-0', 'pay-1'], { approval: { mode: 'manual', approvers: ['alice', 'bob'] }, maxConcurrency: 1 });
    const r = await send<CycleSummary>(PLANNER_COMMANDS.request, { cycleId: 'gated', policyId: 'pay' }, 'alice');
    assert.equal(r.status, 'awaiting-approval');
    const before = (await cycleEvents('gated')).length;
    await assert.rejects(send(PLANNER_COMMANDS.approve, { cycleId: 'gated' }, 'alice'), { code: 'CYCLE_APPROVER_IS_REQUESTER' });
    await assert.rejects(send(PLANNER_COMMANDS.approve, { cycleId: 'gated' }, 'mallory'), { code: 'CYCLE_NOT_AN_APPROVER' });
    assert.equal((await cycleEvents('gated')).length, before, 'refused approvals store nothing');
    await sleep(300);
    assert.equal((await released('gated')).length, 0, 'nothing released before approval');
    await send(PLANNER_COMMANDS.approve, { cycleId: 'gated', comment: 'change CHG-1' }, 'bob');
    await eventually('released after approval', async () => (await released('gated')).length === 1);
    await send(PLANNER_COMMANDS.pause, { cycleId: 'gated', reason: 'noisy neighbour' }, 'bob');
    await finish('gated', 'pay-0');
    await sleep(300);
    assert.equal((await released('gated')).length, 1, 'paused: nothing new');
    await send(PLANNER_COMMANDS.resume, { cycleId: 'gated' }, 'bob');
    await eventually('resumed', async () => (await released('gated')).length === 2);
    const a = await abort('gated', 'rollback requested', 'bob');
    assert.equal(a.status, 'aborted');
    const aborted = (await cycleEvents('gated')).find((e) => e.type === 'CycleAborted')!;
    assert.deepEqual(aborted.data, { cycleId: 'gated', by: 'bob', reason: 'rollback requested' });
    assert.equal((await cycleEvents('gated')).at(-1)!.type, 'EndpointRunFinished', 'the cancellation is recorded, nothing released after the abort');
  });

  it('preview returns the plan and its hash, stores nothing, and the stored plan has the same hash', async () => {
    await seed('api', 'high', ['api-0', 'api-1', 'api-2'], { rollout: { canary: 1 }, disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: 1 } });
    const count = await allCycleEvents();
    const p = await send<{ plan: CyclePlan; planHash: string; text: string }>(PLANNER_COMMANDS.preview, { policyId: 'api' });
    assert.equal(await allCycleEvents(), count, 'a dry run stores nothing');
    assert.deepEqual(p.plan.waves.map((w) => w.name), ['canary', 'tier:high']);
    assert.match(p.text, /wave 0 canary \(1\)/);
    const again = await send<{ planHash: string }>(PLANNER_COMMANDS.preview, { policyId: 'api' });
    assert.equal(again.planHash, p.planHash);
    const r = await send<CycleSummary>(PLANNER_COMMANDS.request, { cycleId: 'previewed', policyId: 'api' });
    assert.equal(r.planHash, p.planHash);
    await abort('previewed', 'only a preview test');
  });

  it('a retried request (same command id) answers with the same cycle and stores nothing more', async () => {
    await seed('retry', 'high', ['retry-0'], {});
    const envelope = { commandId: 'retry-me', actor: 'alice', payload: { policyId: 'retry' } };
    const first = await bus.request<CycleSummary>(plannerSubject(PLANNER_COMMANDS.request), envelope);
    await eventually('released', async () => (await released(first.cycleId)).length === 1);
    const count = (await cycleEvents(first.cycleId)).length;
    const again = await bus.request<CycleSummary>(plannerSubject(PLANNER_COMMANDS.request), envelope);
    assert.equal(again.cycleId, first.cycleId);
    assert.match(first.cycleId, /^manual-[0-9a-f]{16}$/);
    assert.equal((await cycleEvents(first.cycleId)).length, count);
    await finish(first.cycleId, 'retry-0');
    await eventually('completed', async () => (await status(first.cycleId)) === 'completed');
  });

  it('a large plan is stored in parts small enough for the bus: the relay publishes all of them', async () => {
    const eps = Array.from({ length: 1500 }, (_, i) => `big-${i}`);
    const updates = Array.from({ length: 30 }, (_, u) => `library-package-with-a-long-name-${u}`);
    await seed('big', 'low', eps, { maxConcurrency: 1 }, updates);
    const r = await send<CycleSummary>(PLANNER_COMMANDS.request, { cycleId: 'big', policyId: 'big' });
    assert.equal(r.endpoints, 1500);
    const events = await cycleEvents('big');
    const parts = events.filter((e) => e.type === 'CyclePlanPartRecorded');
    assert.ok(parts.length > 4, `${parts.length} parts`);
    for (const p of parts) assert.ok(JSON.stringify(p.data).length <= 300 * 1024);
    await eventually('released', async () => (await released('big')).length === 1);
    const last = (await cycleEvents('big')).at(-1)!;
    await Promise.race([relay.waitFor(last.position), sleep(15_000).then(() => assert.fail('the relay did not publish the plan'))]);
    await abort('big', 'size test done');
  });

  it('bad input: each case has its code and stores nothing', async () => {
    await seed('empty', 'low', [], {});
    const count = await allCycleEvents();
    await assert.rejects(send(PLANNER_COMMANDS.request, { policyId: 'no-such-policy' }), { code: 'PLANNER_UNKNOWN_POLICY' });
    await assert.rejects(send(PLANNER_COMMANDS.request, { policyId: 'empty' }), { code: 'PLANNER_EMPTY_TARGET' });
    await assert.rejects(
      send(PLANNER_COMMANDS.emergency, { policyId: 'web', emergency: { advisoryId: 'CVE-24-1', packages: ['openssl'], target: { kind: 'vulnerable' } } }),
      { code: 'PLANNER_INVALID_ADVISORY' },
    );
    await assert.rejects(
      send(PLANNER_COMMANDS.emergency, { policyId: 'web', emergency: { advisoryId: 'CVE-2024-0001', packages: ['not-installed-anywhere'], target: { kind: 'vulnerable' } } }),
      { code: 'PLANNER_EMPTY_TARGET' },
    );
    await assert.rejects(send(PLANNER_COMMANDS.request, { policyId: 'web', surprise: true }), { code: 'VALIDATION_FAILED' });
    await assert.rejects(send(PLANNER_COMMANDS.approve, { cycleId: 'nope' }), { code: 'CYCLE_NOT_FOUND' });
    await assert.rejects(send(PLANNER_COMMANDS.resume, { cycleId: 'waves' }), { code: 'CYCLE_INVALID_TRANSITION' });
    assert.equal(await allCycleEvents(), count, 'nothing stored');
  });

  it('maintenance windows: a window opening requests a scheduled cycle; a manual one waits for its window; an emergency skips it', async () => {
    await seed('nightly', 'low', ['nightly-0'], { windows: [{ cron: '*/2 * * * * *', durationMinutes: 1, timezone: 'Europe/Paris' }] });
    const sched = await eventually('a scheduled cycle', async () => (await send<CycleSummary[]>(PLANNER_COMMANDS.list, {})).find((c) => c.policyId === 'nightly'));
    assert.match(sched.cycleId, /^sched-nightly-\d{8}T\d{6}Z$/);
    assert.equal(sched.kind, 'scheduled');
    assert.equal(sched.requestedBy, 'scheduler');
    await eventually('it starts inside its window', async () => (await released(sched.cycleId)).length === 1);
    const started = (await cycleEvents(sched.cycleId)).find((e) => e.type === 'CycleStarted')!.data as { windowEndsAt?: string };
    assert.ok(started.windowEndsAt && Date.parse(started.windowEndsAt) > Date.now(), 'the window end is recorded');
    await sleep(2500);
    assert.equal((await send<CycleSummary[]>(PLANNER_COMMANDS.list, {})).filter((c) => c.policyId === 'nightly').length, 1, 'no pile-up while it is open');
    // Drop the window before ending the cycle, or its next opening would request another one.
    const nightly = { id: 'nightly', groups: ['nightly-g'], workflow: { id: 'standard', version: 1 } };
    await store.append(toPolicyStreamName('nightly'), [ev(PatchPolicyUpdated.type, PatchPolicyUpdated.parse({ policyId: 'nightly', version: 2, definition: nightly, changed: ['windows'] }))], 0);
    await sleep(300);
    await abort(sched.cycleId, 'window test done');
    await sleep(2500);
    assert.equal((await send<CycleSummary[]>(PLANNER_COMMANDS.list, {})).filter((c) => c.policyId === 'nightly').length, 1, 'no window, no scheduled cycle');

    await seed('yearly', 'low', ['yearly-0'], { windows: [{ cron: '0 0 29 2 *', durationMinutes: 1, timezone: 'UTC' }] });
    await send(PLANNER_COMMANDS.request, { cycleId: 'outside', policyId: 'yearly' });
    await sleep(400);
    assert.equal(await status('outside'), 'queued', 'a manual cycle waits for a window');
    await send(PLANNER_COMMANDS.emergency, { cycleId: 'inside-anyway', policyId: 'yearly', emergency: { advisoryId: 'DSA-5678-1', packages: ['openssl'], target: { kind: 'vulnerable' } } });
    await eventually('the emergency skips the window', async () => (await released('inside-anyway')).length > 0);
    assert.equal(await status('outside'), 'queued');
    await abort('inside-anyway', 'window test done');
    await abort('outside', 'window test done');
  });

  it('a restarted planner carries on from the cycle stream and the run events it missed', async () => {
    await seed('cache', 'high', ['cache-0', 'cache-1', 'cache-2'], { maxConcurrency: 1 });
    await send(PLANNER_COMMANDS.request, { cycleId: 'restart', policyId: 'cache' });
    await eventually('first released', async () => (await released('restart')).length === 1);
    await planner.close();
    await finish('restart', 'cache-0');
    await sleep(300);
    assert.equal((await released('restart')).length, 1, 'nobody releases while the planner is down');
    planner = await startService(plannerService, config);
    await eventually('continues after restart', async () => (await released('restart')).length === 2);
    await sleep(300);
    assert.equal((await released('restart')).length, 2, 'the missed result is applied once');
    await finish('restart', 'cache-1');
    await eventually('third', async () => (await released('restart')).length === 3);
    await finish('restart', 'cache-2');
    await eventually('completed', async () => (await status('restart')) === 'completed');
    const finished = (await cycleEvents('restart')).filter((e: RecordedEvent) => e.type === 'EndpointRunFinished');
    assert.equal(finished.length, 3);
  });

  it('metrics: ended cycles by kind and outcome with their duration in seconds; cycle events appended', async () => {
    const key = (p: CollectedPoint) => `${String(p.attributes['patchbay.cycle.kind'])}/${String(p.attributes['patchbay.outcome'])}`;
    const snapshot = async () => ({
      cycles: Object.fromEntries((await reader.points(METRIC.cycles)).map((p) => [key(p), p.value])),
      durations: Object.fromEntries((await reader.points(METRIC.cycleDuration)).map((p) => [key(p), p])),
      appended: (await reader.points(METRIC.eventsAppended)).find((p) => p.attributes['patchbay.event.category'] === 'cycle')?.value ?? 0,
    });
    const before = await snapshot();
    const cycleEventsBefore = await allCycleEvents();
    await seed('metered', 'high', ['meter-0'], {});
    const started = Date.now();
    await send(PLANNER_COMMANDS.request, { cycleId: 'metered-done', policyId: 'metered' });
    await eventually('released', async () => (await released('metered-done')).length === 1);
    await sleep(200);
    await finish('metered-done', 'meter-0');
    await eventually('completed', async () => (await status('metered-done')) === 'completed');
    const took = (Date.now() - started) / 1000;
    await send(PLANNER_COMMANDS.emergency, { cycleId: 'metered-abort', policyId: 'metered', emergency: { advisoryId: 'CVE-2025-0001', packages: ['openssl'], target: { kind: 'groups', groups: ['metered-g'] } } });
    await eventually('emergency released', async () => (await released('metered-abort')).length === 1);
    await abort('metered-abort', 'metrics test done');
    // A second abort is refused: the cycle is counted once.
    await assert.rejects(send(PLANNER_COMMANDS.abort, { cycleId: 'metered-abort', reason: 'again' }), { code: 'CYCLE_INVALID_TRANSITION' });

    const now = await snapshot();
    assert.equal((now.cycles['manual/completed'] ?? 0) - (before.cycles['manual/completed'] ?? 0), 1);
    assert.equal((now.cycles['emergency/aborted'] ?? 0) - (before.cycles['emergency/aborted'] ?? 0), 1);
    const manual = now.durations['manual/completed']!;
    const manualBefore = before.durations['manual/completed'];
    assert.equal((manual.count ?? 0) - (manualBefore?.count ?? 0), 1);
    const seconds = manual.value - (manualBefore?.value ?? 0);
    assert.ok(seconds >= 0.2 && seconds <= took + 0.5, `the cycle took ${seconds} s (request to completion, at most ${took} s)`);
    assert.equal(now.appended - before.appended, (await allCycleEvents()) - cycleEventsBefore, 'every cycle event appended is counted once');
  });
});
