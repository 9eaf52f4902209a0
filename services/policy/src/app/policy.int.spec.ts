import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import { headers as natsHeaders } from 'nats';
import { commandSubject, PatchbayError, POLICY_COMMANDS, toEndpointStreamName, type CommandEnvelope, type MembershipExplanation, type NewEvent } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { EventRelay, NatsBus } from '@patchbay/messaging';
import { loadConfig, startService, type RunningService } from '@patchbay/service-host';
import { NatsServer } from '@patchbay/testing';
import { policyService, readPolicyDirectory } from '../index.js';

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

describe('policy service with nats-server, the SQLite store, the relay and inventory events', () => {
  let nats: NatsServer;
  let dir: string;
  let store: SqliteEventStore;
  let bus: NatsBus;
  let relay: EventRelay;
  let service: RunningService;
  let seq = 0;

  const send = <R>(name: string, payload: unknown, commandId = `cmd-${++seq}`): Promise<R> => bus.request<R>(commandSubject('policy', name), { commandId, actor: 'spec', payload } satisfies CommandEnvelope);
  const fails = async (p: Promise<unknown>, code: string): Promise<PatchbayError> => {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof PatchbayError, String(e));
      assert.equal(e.code, code, e.message);
      return e;
    }
    assert.fail(`expected ${code}`);
  };
  const inventory = async (endpointId: string, type: 'EndpointRegistered' | 'EndpointLabelsChanged' | 'EndpointRetired', data: Record<string, unknown>) => {
    const stream = toEndpointStreamName(endpointId);
    const existing = await store.readStream(stream, { ifMissing: 'empty' });
    const event: NewEvent = { eventId: `inv-${endpointId}-${existing.length}`, type, data: { endpointId, ...data }, actor: 'inventory' };
    await store.append(stream, [event], existing.length ? existing.length - 1 : 'no-stream');
  };
  const register = (id: string, labels: Record<string, string>) => inventory(id, 'EndpointRegistered', { labels, ssh: { host: '127.0.0.1', port: 22, user: 'root', sudo: false }, source: 'manual' });
  const groupEvents = async (groupId: string) => store.readStream(`group-${groupId}`, { ifMissing: 'empty' });
  const members = async (groupId: string) => (await send<{ members: Array<{ endpointId: string; reason: string }> }>(POLICY_COMMANDS.getGroup, { groupId })).members;
  const countAll = async () => (await store.readAll({ categories: ['group', 'policy', 'workflow'] })).length;

  before(async () => {
    nats = await NatsServer.start();
    dir = mkdtempSync(join(tmpdir(), 'patchbay-policy-'));
    const dbPath = join(dir, 'events.db');
    store = SqliteEventStore.open(dbPath);
    bus = await NatsBus.connect({ servers: nats.url, name: 'policy-spec' });
    relay = new EventRelay({ store, bus });
    relay.start();
    service = await startService(policyService, loadConfig({ NATS_URL: nats.url, EVENTSTORE_SQLITE_PATH: dbPath, PATCHBAY_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent' }));
  });
  after(async () => {
    await service?.close();
    await relay?.stop();
    await bus?.close();
    await store?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('groups by tier and selector follow endpoint registrations and label changes, with reasons and explanations', async () => {
    await register('db1', { env: 'prod', role: 'db', cluster: 'pg-a' });
    await register('db2', { env: 'prod', role: 'db', cluster: 'pg-a', legacy: 'yes' });
    await register('web1', { env: 'prod', role: 'web' });
    await register('stg1', { env: 'staging', role: 'db' });
    // The service learns endpoints only through JetStream: wait until it has seen all four.
    await eventually('endpoint directory filled', async () => {
      const x = await send<MembershipExplanation>(POLICY_COMMANDS.explainMembership, { groupId: 'none', endpointId: 'stg1' }).catch((e: PatchbayError) => e.code);
      return x === 'GROUP_NOT_FOUND';
    });
    const defined = await send<{ id: string; version: number; eventsAppended: number }>(POLICY_COMMANDS.defineGroup, { group: { id: 'prod-db', tier: 'critical', selector: 'env=prod,role in (db),!legacy', members: ['stg1'] } });
    assert.equal(defined.version, 1);
    const web = await send<{ members: number }>(POLICY_COMMANDS.defineGroup, { group: { id: 'prod-web', tier: 'high', selector: 'env=prod,role=web' } });
    await eventually('db1 and stg1 in prod-db', async () => (await members('prod-db')).map((m) => m.endpointId).join() === 'db1,stg1');
    assert.deepEqual(await members('prod-db'), [
      { endpointId: 'db1', reason: 'selector env=prod,role in (db),!legacy matched' },
      { endpointId: 'stg1', reason: 'static member' },
    ]);
    assert.ok(web.members <= 1);
    await eventually('web1 in prod-web', async () => (await members('prod-web')).length === 1);

    // Inventory registers a new endpoint and changes labels: membership events follow through JetStream.
    await register('db3', { env: 'prod', role: 'db' });
    await inventory('db1', 'EndpointLabelsChanged', { labels: { env: 'staging', role: 'db' }, previous: { env: 'prod', role: 'db', cluster: 'pg-a' } });
    await eventually('db3 in, db1 out', async () => (await members('prod-db')).map((m) => m.endpointId).join() === 'db3,stg1');
    const changes = (await groupEvents('prod-db')).filter((e) => e.type === 'GroupMembershipChanged').map((e) => e.data as { added: unknown[]; removed: unknown[]; trigger: { kind: string } });
    assert.deepEqual(changes.at(-1)?.removed, [{ endpointId: 'db1', reason: 'selector env=prod,role in (db),!legacy did not match (env=prod: is staging)' }]);
    assert.equal(changes.at(-1)?.trigger.kind, 'endpoint');

    const why = await send<MembershipExplanation>(POLICY_COMMANDS.explainMembership, { groupId: 'prod-db', endpointId: 'db2' });
    assert.equal(why.member, false);
    assert.match(why.summary, /!legacy: is yes/);

    const of = await send<{ known: boolean; groups: Array<{ groupId: string; member: boolean; summary: string }> }>(POLICY_COMMANDS.endpointMemberships, { endpointId: 'web1' });
    assert.deepEqual(of.groups.map((g) => [g.groupId, g.member]), [['prod-web', true], ['prod-db', false]]);
    assert.match(of.groups[1]!.summary, /role in \(db\): is web/);

    // A static exclusion, by a definition change: db3 leaves with the reason.
    await send(POLICY_COMMANDS.updateGroup, { group: { id: 'prod-db', tier: 'critical', selector: 'env=prod,role in (db),!legacy', members: ['stg1'], exclusions: ['db3'] } });
    assert.deepEqual(await members('prod-db'), [{ endpointId: 'stg1', reason: 'static member' }]);
    const excluded = await send<MembershipExplanation>(POLICY_COMMANDS.explainMembership, { groupId: 'prod-db', endpointId: 'db3' });
    assert.equal(excluded.summary, 'selector env=prod,role in (db),!legacy matched; excluded by static exclusion → not a member');

    // Retiring a member removes it.
    await inventory('stg1', 'EndpointRetired', { reason: 'decommissioned' });
    await eventually('stg1 retired', async () => (await members('prod-db')).length === 0);
  });

  it('a retried command (same command id) appends nothing twice', async () => {
    const group = { id: 'retry', tier: 'low', selector: 'role=web' };
    const first = await send<{ eventsAppended: number }>(POLICY_COMMANDS.defineGroup, { group }, 'same-command');
    const before = (await groupEvents('retry')).length;
    const again = await send<{ eventsAppended: number; version: number }>(POLICY_COMMANDS.defineGroup, { group }, 'same-command');
    assert.ok(first.eventsAppended >= 1);
    assert.equal(again.eventsAppended, 0);
    assert.equal((await groupEvents('retry')).length, before);
    await send(POLICY_COMMANDS.deleteGroup, { groupId: 'retry' });
  });

  it('appended events carry the trace of the command that caused them', async () => {
    let traceId = '';
    await trace.getTracer('spec').startActiveSpan('spec: define a group', async (span) => {
      traceId = span.spanContext().traceId;
      await send(POLICY_COMMANDS.defineGroup, { group: { id: 'traced', tier: 'low', selector: 'role=db' } });
      span.end();
    });
    const events = await groupEvents('traced');
    assert.ok(events.length >= 1);
    assert.match(traceId, /^[0-9a-f]{32}$/);
    for (const e of events) assert.equal(e.metadata.traceparent?.split('-')[1], traceId, e.type);
    await send(POLICY_COMMANDS.deleteGroup, { groupId: 'traced' });
  });

  it('applies a policy directory; the same directory again appends no events; a change appends only the difference', async () => {
    const pdir = join(dir, 'policies');
    mkdirSync(join(pdir, 'workflows'), { recursive: true });
    writeFileSync(join(pdir, 'groups.yaml'), 'kind: ReferenceGroup\nid: pac-web\ntier: high\nselector: role=web\n---\nkind: ReferenceGroup\nid: pac-db\ntier: critical\nselector: role=db\n');
    writeFileSync(join(pdir, 'workflows', 'standard.yaml'), 'kind: WorkflowTemplate\nid: standard\nphases:\n  patch:\n    - id: patch\n      type: patch\n      params: { scope: security }\n');
    writeFileSync(join(pdir, 'nightly.yaml'), 'kind: PatchPolicy\nid: nightly\ngroups: [pac-db, pac-web]\nwindows:\n  - { cron: "0 22 * * 6", durationMinutes: 240, timezone: Europe/Paris }\nworkflow: { id: standard, version: 1 }\n');
    const first = await send<{ eventsAppended: number; changes: unknown[] }>(POLICY_COMMANDS.applyBundle, { files: readPolicyDirectory(pdir) });
    assert.equal(first.changes.length, 4);
    const afterFirst = await countAll();
    const second = await send<{ eventsAppended: number; changes: unknown[]; unchanged: number }>(POLICY_COMMANDS.applyBundle, { files: readPolicyDirectory(pdir) });
    assert.deepEqual([second.eventsAppended, second.changes.length, second.unchanged], [0, 0, 4]);
    assert.equal(await countAll(), afterFirst, 'second apply appended nothing');

    writeFileSync(join(pdir, 'nightly.yaml'), 'kind: PatchPolicy\nid: nightly\ngroups: [pac-db, pac-web]\nmaxConcurrency: "25%"\nwindows:\n  - { cron: "0 22 * * 6", durationMinutes: 240, timezone: Europe/Paris }\nworkflow: { id: standard, version: 1 }\n');
    const third = await send<{ eventsAppended: number; changes: Array<{ id: string; action: string; version: number }> }>(POLICY_COMMANDS.applyBundle, { files: readPolicyDirectory(pdir) });
    assert.equal(third.eventsAppended, 1);
    assert.deepEqual(third.changes, [{ kind: 'PatchPolicy', id: 'nightly', action: 'update', version: 2, events: 1 }]);
    assert.equal(await countAll(), afterFirst + 1);
    const p = await send<{ version: number; definition: { maxConcurrency: string } }>(POLICY_COMMANDS.getPolicy, { policyId: 'nightly' });
    assert.equal(p.definition.maxConcurrency, '25%');
    const w = await send<{ windows: Array<{ start: string; localStart: string }> }>(POLICY_COMMANDS.nextWindows, { policyId: 'nightly', from: '2026-03-27T00:00:00Z', count: 1 });
    assert.deepEqual(w.windows.map((x) => x.localStart), ['2026-03-28T22:00:00+01:00']);
    // Templates are versioned: a changed template is version 2, version 1 stays readable.
    const v2 = await send<{ version: number }>(POLICY_COMMANDS.saveWorkflow, { template: { id: 'standard', phases: { patch: [{ id: 'patch', type: 'patch', params: { scope: 'all' } }] } } });
    assert.equal(v2.version, 2);
    const old = await send<{ version: number; latestVersion: number; template: { phases: { patch: Array<{ params: { scope: string } }> } } }>(POLICY_COMMANDS.getWorkflow, { workflowId: 'standard', version: 1 });
    assert.deepEqual([old.version, old.latestVersion, old.template.phases.patch[0]!.params.scope], [1, 2, 'security']);
  });

  it('bad input is refused with its code, and nothing is stored', async () => {
    const before = await countAll();
    const bad = await fails(
      send(POLICY_COMMANDS.applyBundle, {
        files: [
          { name: 'ok.yaml', content: 'kind: ReferenceGroup\nid: never-stored\ntier: low\n' },
          { name: 'bad.yaml', content: 'kind: WorkflowTemplate\nid: broken\nphases:\n  patch:\n    - id: stop\n      type: stop-service\n      params: { service: "nginx; reboot" }\n' },
        ],
      }),
      'BUNDLE_INVALID',
    );
    const issues = bad.details['issues'] as Array<{ file: string; line: number; path: string; code: string }>;
    assert.deepEqual(
      issues.map((i) => [i.file, i.line, i.path, i.code]),
      [
        ['bad.yaml', 7, 'phases.patch[0].params.service', 'WORKFLOW_UNSAFE_VALUE'],
        ['bad.yaml', 5, 'phases.patch', 'WORKFLOW_MISSING_PARAMETER'],
      ],
    );
    await fails(send(POLICY_COMMANDS.defineGroup, { group: { id: 'g', tier: 'low', selector: 'env in prod' } }), 'SELECTOR_INVALID');
    await fails(send(POLICY_COMMANDS.definePolicy, { policy: { id: 'p', groups: ['pac-db'], workflow: { id: 'standard', version: 1 }, windows: [{ cron: '0 25 * * *', durationMinutes: 60, timezone: 'UTC' }] } }), 'POLICY_INVALID_CRON');
    await fails(send(POLICY_COMMANDS.definePolicy, { policy: { id: 'p', groups: ['pac-db'], workflow: { id: 'standard', version: 1 }, windows: [{ cron: '0 2 * * *', durationMinutes: 60, timezone: 'Mars/Olympus' }] } }), 'POLICY_INVALID_TIMEZONE');
    await fails(send(POLICY_COMMANDS.definePolicy, { policy: { id: 'p', groups: ['no-such-group'], workflow: { id: 'standard', version: 1 } } }), 'POLICY_UNKNOWN_GROUP');
    await fails(send(POLICY_COMMANDS.saveWorkflow, { template: { id: 'w', phases: { patch: [{ id: 'p', type: 'format-disk', params: {} }] } } }), 'WORKFLOW_UNKNOWN_STEP_TYPE');
    await fails(send(POLICY_COMMANDS.deleteGroup, { groupId: 'pac-db' }), 'GROUP_IN_USE');
    await fails(send(POLICY_COMMANDS.getGroup, { groupId: 'never-stored' }), 'GROUP_NOT_FOUND');
    await fails(send(POLICY_COMMANDS.getGroup, { groupId: 'Not Valid' }), 'VALIDATION_FAILED');
    assert.equal(await countAll(), before, 'nothing was stored');
  });

  it('after a restart the service keeps its endpoint directory and definitions', async () => {
    await service.close();
    service = await startService(policyService, loadConfig({ NATS_URL: nats.url, EVENTSTORE_SQLITE_PATH: join(dir, 'events.db'), PATCHBAY_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent' }));
    const x = await send<MembershipExplanation>(POLICY_COMMANDS.explainMembership, { groupId: 'prod-web', endpointId: 'web1' });
    assert.equal(x.member, true);
    assert.equal(x.endpoint.known, true);
    const list = await send<{ groups: Array<{ id: string }> }>(POLICY_COMMANDS.listGroups, {});
    assert.deepEqual(list.groups.map((g) => g.id), ['pac-db', 'pac-web', 'prod-db', 'prod-web']);
  });

  it('an endpoint event delivered again (republished with a new message id) is skipped, and later events still apply', async () => {
    await send(POLICY_COMMANDS.defineGroup, { group: { id: 'dup-grp', tier: 'low', selector: 'role=dup' } });
    await register('dup1', { role: 'dup' });
    await eventually('dup1 in dup-grp', async () => (await members('dup-grp')).length === 1);
    // The copy a relay that lost its checkpoint outside the duplicate window would publish.
    const info = await bus.manager.streams.info('PATCHBAY_EVENTS');
    let copied = 0;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await bus.manager.streams.getMessage('PATCHBAY_EVENTS', { seq }).catch(() => undefined);
      if (!m?.header || m.header.get('Patchbay-Event-Id') !== 'inv-dup1-0') continue;
      const h = natsHeaders();
      for (const k of m.header.keys()) if (k.toLowerCase() !== 'nats-msg-id') h.set(k, m.header.get(k));
      await bus.jetstream.publish(m.subject, m.data, { msgID: 'copy-of-inv-dup1-0', headers: h });
      copied++;
    }
    assert.equal(copied, 1);
    // The consumer reads in order: a duplicate it cannot get past would hold dup2 back for minutes.
    await register('dup2', { role: 'dup' });
    await eventually('dup2 in dup-grp after the duplicate', async () => (await members('dup-grp')).length === 2, 5_000);
  });
});
