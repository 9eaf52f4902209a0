import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { toEndpointStreamName, type CommandEnvelope, type RecordedEvent } from '@patchbay/contracts';
import { SqliteEventStore, type EventStore } from '@patchbay/event-store';
import { SqliteAppliedEventLedger } from '@patchbay/messaging';
import { compileGroup, computeMembership } from '../domain/membership.js';
import { openPolicyDatabase } from './endpoint-directory.js';
import { PolicyApplication } from './policy-application.js';

describe('policy application on a real SQLite store and ledger', () => {
  let dir: string;
  let store: SqliteEventStore;
  let db: DatabaseSync;
  let ledger: SqliteAppliedEventLedger;
  let failGroupAppends = 0;
  let seq = 0;
  const apps: PolicyApplication[] = [];

  /** The real store, except that the next `failGroupAppends` appends to group streams fail (a store outage mid-recompute). */
  const flaky = (s: EventStore): EventStore =>
    new Proxy(s, {
      get(target, prop, receiver) {
        if (prop === 'append')
          return async (stream: string, events: never, expected: never) => {
            if (stream.startsWith('group-') && failGroupAppends > 0) {
              failGroupAppends--;
              throw new Error('disk unavailable');
            }
            return target.append(stream, events, expected);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });

  const envelope = (payload: unknown): CommandEnvelope => ({ commandId: `c-${++seq}`, actor: 'spec', payload });
  const endpointEvent = async (endpointId: string, type: string, data: Record<string, unknown>): Promise<RecordedEvent> => {
    const stream = toEndpointStreamName(endpointId);
    const existing = await store.readStream(stream, { ifMissing: 'empty' });
    await store.append(stream, [{ eventId: `inv-${endpointId}-${existing.length}`, type, data: { endpointId, ...data }, actor: 'inventory' }], existing.length ? existing.length - 1 : 'no-stream');
    return (await store.readStream(stream)).at(-1)!;
  };
  const registered = (id: string, labels: Record<string, string>) => endpointEvent(id, 'EndpointRegistered', { labels, ssh: { host: '10.0.0.1', port: 22, user: 'root', sudo: false }, source: 'spec' });
  const open = async () => {
    db = openPolicyDatabase(join(dir, 'policy.db'));
    ledger = new SqliteAppliedEventLedger(db);
    const app = new PolicyApplication(flaky(store), db, ledger, { backoffMs: [10] });
    await app.start();
    apps.push(app);
    return app;
  };
  const groupEventCount = async (id: string) => (await store.readStream(`group-${id}`, { ifMissing: 'empty' })).length;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-policy-app-'));
    store = SqliteEventStore.open(join(dir, 'events.db'));
    failGroupAppends = 0;
  });
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.stop();
    await ledger.close();
    if (db.isOpen) db.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an endpoint event delivered twice is applied once', async () => {
    const app = await open();
    await app.defineGroup(envelope({ group: { id: 'web', tier: 'high', selector: 'role=web' } }), 'define');
    const e = await registered('w1', { role: 'web' });
    assert.deepEqual(await app.onEndpointEvent(e), { applied: true });
    await app.settled();
    const count = await groupEventCount('web');
    assert.equal(count, 2, 'defined, then w1 added');
    assert.deepEqual(await app.onEndpointEvent(e), { applied: false });
    await app.settled();
    assert.equal(await groupEventCount('web'), count);
  });

  it('a failed recomputation is retried until it lands; the fact and its applied mark are already committed', async () => {
    const app = await open();
    await app.defineGroup(envelope({ group: { id: 'a', tier: 'high', selector: 'role=web' } }), 'define');
    await app.defineGroup(envelope({ group: { id: 'b', tier: 'low', selector: 'env=prod' } }), 'define');
    const e = await registered('w1', { role: 'web', env: 'prod' });
    failGroupAppends = 3; // the store refuses the next three membership appends
    assert.deepEqual(await app.onEndpointEvent(e), { applied: true });
    assert.equal((db.prepare('SELECT count(*) AS n FROM policy_endpoints').get() as { n: number }).n, 1);
    assert.equal(await ledger.lastApplied('policy-endpoint-membership', e.metadata.stream), 0);
    await app.settled();
    assert.equal(failGroupAppends, 0);
    assert.ok(app.refresher.stats.failures >= 3);
    for (const g of ['a', 'b']) assert.deepEqual((await app.getGroup(envelope({ groupId: g }))).members.map((m) => m.endpointId), ['w1'], `group ${g}`);
  });

  it('a stop before the batch ran is caught up by the reconciliation at the next start', async () => {
    const app = await open();
    await app.defineGroup(envelope({ group: { id: 'web', tier: 'high', selector: 'role=web' } }), 'define');
    failGroupAppends = 1_000_000; // the batch cannot land before the stop
    await app.onEndpointEvent(await registered('w1', { role: 'web' }));
    await app.onEndpointEvent(await registered('w2', { role: 'db' }));
    await app.stop();
    await ledger.close();
    db.close();
    failGroupAppends = 0;
    const next = await open();
    assert.deepEqual((await next.getGroup(envelope({ groupId: 'web' }))).members, [{ endpointId: 'w1', reason: 'selector role=web matched' }]);
    const last = (await store.readStream('group-web')).at(-1)!;
    assert.deepEqual((last.data as { trigger: unknown }).trigger, { kind: 'reconcile' });
    await next.stop();
  });

  it('definition changes racing endpoint events end in the membership the rule gives for the final facts', async () => {
    const app = await open();
    await app.defineGroup(envelope({ group: { id: 'prod', tier: 'critical', selector: 'env=prod' } }), 'define');
    const events: RecordedEvent[] = [];
    for (let i = 0; i < 40; i++) events.push(await registered(`h${i}`, { env: i % 2 ? 'prod' : 'dev', role: i % 3 ? 'web' : 'db' }));
    for (let i = 0; i < 40; i += 3) events.push(await endpointEvent(`h${i}`, 'EndpointLabelsChanged', { labels: { env: 'prod', role: 'db' }, previous: {} }));
    const consumer = (async () => {
      for (const e of events) await app.onEndpointEvent(e);
      await app.settled();
    })();
    const selectors = ['env=prod,role=db', 'env=prod', 'role=web', 'env=prod,role in (db,web)'];
    const definer = (async () => {
      for (const selector of selectors) {
        await app.defineGroup(envelope({ group: { id: 'prod', tier: 'critical', selector } }), 'update');
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await Promise.all([consumer, definer]);
    const got = (await app.getGroup(envelope({ groupId: 'prod' }))).members.map((m) => m.endpointId).sort();
    const finalGroup = compileGroup((await app.getGroup(envelope({ groupId: 'prod' }))).definition);
    const expected = [...computeMembership(finalGroup, [...app.endpoints.ids()].map((id) => app.endpoints.get(id)!)).keys()].sort();
    assert.equal(app.endpoints.size, 40);
    assert.deepEqual(got, expected);
    // And a fresh process folding the streams agrees.
    await ledger.close();
    db.close();
    const reopened = await open();
    assert.deepEqual((await reopened.getGroup(envelope({ groupId: 'prod' }))).members.map((m) => m.endpointId).sort(), expected);
  });

  it('bundle dry run stores nothing; prune removes what the bundle no longer lists, policies before their groups and templates', async () => {
    const app = await open();
    const wf = 'kind: WorkflowTemplate\nid: std\nphases:\n  patch:\n    - { id: patch, type: patch, params: { scope: all } }\n';
    const groups = 'kind: ReferenceGroup\nid: a\ntier: high\nselector: role=web\n---\nkind: ReferenceGroup\nid: b\ntier: low\n';
    const policies = 'kind: PatchPolicy\nid: pa\ngroups: [a]\nworkflow: { id: std, version: 1 }\n---\nkind: PatchPolicy\nid: pb\ngroups: [b]\nworkflow: { id: legacy, version: 1 }\n';
    const legacy = 'kind: WorkflowTemplate\nid: legacy\nphases:\n  patch:\n    - { id: patch, type: patch, params: { scope: security } }\n';
    const files = [
      { name: 'wf.yaml', content: wf },
      { name: 'legacy.yaml', content: legacy },
      { name: 'groups.yaml', content: groups },
      { name: 'policies.yaml', content: policies },
    ];
    const dry = await app.applyBundle(envelope({ files, dryRun: true }));
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.changes.map((c) => `${c.action} ${c.kind} ${c.id}`).sort(), ['define PatchPolicy pa', 'define PatchPolicy pb', 'define ReferenceGroup a', 'define ReferenceGroup b', 'save-version WorkflowTemplate legacy', 'save-version WorkflowTemplate std']);
    assert.equal((await store.readAll()).length, 0, 'a dry run stores nothing');
    const applied = await app.applyBundle(envelope({ files }));
    assert.equal(applied.changes.length, 6);
    // Drop policy pb, group b and template legacy from the directory.
    const pruned = await app.applyBundle(envelope({ files: [files[0]!, { name: 'groups.yaml', content: groups.split('---')[0]! }, { name: 'policies.yaml', content: policies.split('---')[0]! }], prune: true }));
    assert.deepEqual(pruned.changes.map((c) => `${c.action} ${c.kind} ${c.id}`), ['delete PatchPolicy pb', 'delete ReferenceGroup b', 'retire WorkflowTemplate legacy']);
    assert.deepEqual((await app.listGroups()).groups.map((g) => g.id), ['a']);
    assert.deepEqual((await app.listWorkflows()).workflows.map((w) => [w.id, w.retired]), [['legacy', true], ['std', false]]);
    // Pruning a group a remaining policy still uses is refused before anything is stored.
    const before = (await store.readAll()).length;
    await assert.rejects(app.applyBundle(envelope({ files: [files[0]!, { name: 'policies.yaml', content: policies.split('---')[0]! }], prune: true })), (e: unknown) => (e as { code?: string }).code === 'BUNDLE_INVALID');
    assert.equal((await store.readAll()).length, before);
  });
});
