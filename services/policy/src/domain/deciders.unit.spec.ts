import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PatchPolicy, ReferenceGroup } from '@patchbay/contracts';
import { checkGroup, checkPolicy, checkWorkflow, orThrow } from './definitions.js';
import { decideGroup, evolveGroup, initialGroupState, MEMBERSHIP_CHUNK, type EndpointLookup, type GroupCommand, type GroupEvent } from './group-decider.js';
import { decidePolicy, evolvePolicy, initialPolicyState, type PolicyCommand, type PolicyEvent } from './policy-decider.js';
import { decideWorkflow, evolveWorkflow, initialWorkflowState, type WorkflowCommand, type WorkflowEvent } from './workflow-decider.js';
import { compileGroup, computeMembership, explainMembership, type EndpointFacts } from './membership.js';

/** Given / when / then over a decider: the events it decides, or the error code it throws. */
function spec<S, C, E>(d: { initial: () => S; evolve: (s: S, e: E) => S; decide: (c: C, s: S) => E[] }) {
  return (given: E[]) => ({
    when: (command: C) => ({
      then: (expected: E[] | ((events: E[]) => void)) => {
        const events = d.decide(command, given.reduce(d.evolve, d.initial()));
        if (typeof expected === 'function') expected(events);
        else assert.deepEqual(events, expected);
      },
      thenThrows: (code: string) => assert.throws(() => d.decide(command, given.reduce(d.evolve, d.initial())), (e: unknown) => (e as { code?: string }).code === code),
    }),
  });
}

const directory = (...facts: EndpointFacts[]): EndpointLookup => {
  const m = new Map(facts.map((f) => [f.endpointId, f]));
  return { get: (id) => m.get(id), ids: () => m.keys() };
};
const ep = (endpointId: string, labels: Record<string, string>, retired = false): EndpointFacts => ({ endpointId, labels, retired });
const group = (g: Partial<ReferenceGroup> & { id: string }): ReferenceGroup => orThrow(checkGroup({ tier: 'critical', ...g }), 'group');

const givenGroup = spec<ReturnType<typeof initialGroupState>, GroupCommand, GroupEvent>({ initial: initialGroupState, evolve: evolveGroup, decide: decideGroup });
const fleet = directory(ep('db1', { env: 'prod', role: 'db' }), ep('db2', { env: 'prod', role: 'db', legacy: 'yes' }), ep('web1', { env: 'prod', role: 'web' }), ep('st1', { env: 'staging', role: 'db' }), ep('old', { env: 'prod', role: 'db' }, true));
const prodDb = group({ id: 'prod-db', selector: 'env=prod,role in (db),!legacy', members: ['st1'], exclusions: [] });
const defined: GroupEvent[] = [
  { type: 'ReferenceGroupDefined', data: { groupId: 'prod-db', version: 1, definition: prodDb } },
  {
    type: 'GroupMembershipChanged',
    data: { groupId: 'prod-db', definitionVersion: 1, added: [{ endpointId: 'db1', reason: 'selector env=prod,role in (db),!legacy matched' }, { endpointId: 'st1', reason: 'static member' }], removed: [], trigger: { kind: 'definition' } },
  },
];

describe('reference group decider', () => {
  it('define: the definition and its first membership, with a reason per endpoint (retired and legacy left out)', () => {
    givenGroup([]).when({ type: 'DefineGroup', definition: prodDb, endpoints: fleet }).then(defined);
  });
  it('define again with the same definition: nothing (idempotent); with another: GROUP_ALREADY_EXISTS', () => {
    givenGroup(defined).when({ type: 'DefineGroup', definition: prodDb, endpoints: fleet }).then([]);
    givenGroup(defined).when({ type: 'DefineGroup', definition: { ...prodDb, tier: 'low' }, endpoints: fleet }).thenThrows('GROUP_ALREADY_EXISTS');
  });
  it('update: a static exclusion removes a member, with the reason', () => {
    const next = group({ ...prodDb, exclusions: ['db1'] });
    givenGroup(defined)
      .when({ type: 'UpdateGroup', definition: next, endpoints: fleet, upsert: false })
      .then([
        { type: 'ReferenceGroupUpdated', data: { groupId: 'prod-db', version: 2, definition: next, changed: ['exclusions'] } },
        { type: 'GroupMembershipChanged', data: { groupId: 'prod-db', definitionVersion: 2, added: [], removed: [{ endpointId: 'db1', reason: 'selector env=prod,role in (db),!legacy matched; excluded by static exclusion' }], trigger: { kind: 'definition' } } },
      ]);
  });
  it('update of a missing group: GROUP_NOT_FOUND; upsert defines it', () => {
    givenGroup([]).when({ type: 'UpdateGroup', definition: prodDb, endpoints: fleet, upsert: false }).thenThrows('GROUP_NOT_FOUND');
    givenGroup([]).when({ type: 'UpdateGroup', definition: prodDb, endpoints: fleet, upsert: true }).then(defined);
  });
  it('an endpoint whose labels stop matching leaves, and says why', () => {
    const after = directory(ep('db1', { env: 'staging', role: 'db' }));
    givenGroup(defined)
      .when({ type: 'RecomputeMembership', causes: new Map([['db1', 'e-9']]), endpoints: after })
      .then([
        {
          type: 'GroupMembershipChanged',
          data: { groupId: 'prod-db', definitionVersion: 1, added: [], removed: [{ endpointId: 'db1', reason: 'selector env=prod,role in (db),!legacy did not match (env=prod: is staging)' }], trigger: { kind: 'endpoint', causes: [{ endpointId: 'db1', eventId: 'e-9' }] } },
        },
      ]);
  });
  it('a retired member leaves; an unchanged endpoint changes nothing', () => {
    givenGroup(defined)
      .when({ type: 'RecomputeMembership', causes: new Map([['st1', 'e-1']]), endpoints: directory(ep('st1', { env: 'staging' }, true)) })
      .then((events) => assert.deepEqual(events[0]?.type === 'GroupMembershipChanged' && events[0].data.removed, [{ endpointId: 'st1', reason: 'endpoint retired' }]));
    givenGroup(defined).when({ type: 'RecomputeMembership', causes: new Map([['db1', 'e-2']]), endpoints: fleet }).then([]);
  });
  it('a batch of endpoint changes is one event naming, per endpoint, the event that moved it', () => {
    const after = directory(ep('db1', { env: 'dev' }), ep('db9', { env: 'prod', role: 'db' }), ep('web1', { env: 'prod', role: 'web' }));
    givenGroup(defined)
      .when({ type: 'RecomputeMembership', causes: new Map([['db1', 'e-1'], ['db9', 'e-7'], ['web1', 'e-8']]), endpoints: after })
      .then((events) => {
        assert.equal(events.length, 1);
        const d = events[0]!.type === 'GroupMembershipChanged' ? events[0]!.data : assert.fail();
        assert.deepEqual([d.added.map((a) => a.endpointId), d.removed.map((r) => r.endpointId)], [['db9'], ['db1']]);
        assert.deepEqual(d.trigger, { kind: 'endpoint', causes: [{ endpointId: 'db9', eventId: 'e-7' }, { endpointId: 'db1', eventId: 'e-1' }] });
      });
  });
  it('reconcile: a full re-evaluation finds what changed while no recomputation ran, and nothing when in step', () => {
    const after = directory(ep('db1', { env: 'prod', role: 'db' }), ep('db9', { env: 'prod', role: 'db' }), ep('st1', { env: 'staging' }));
    givenGroup(defined)
      .when({ type: 'ReconcileMembership', endpoints: after })
      .then((events) => assert.deepEqual(events.map((e) => e.type === 'GroupMembershipChanged' && [e.data.added.map((a) => a.endpointId), e.data.removed.length, e.data.trigger.kind]), [[['db9'], 0, 'reconcile']]));
    givenGroup(defined).when({ type: 'ReconcileMembership', endpoints: fleet }).then([]);
  });
  it('delete: members removed ("group deleted"), then deleted; GROUP_IN_USE while a policy uses it', () => {
    givenGroup(defined)
      .when({ type: 'DeleteGroup', groupId: 'prod-db', usedBy: [] })
      .then([
        { type: 'GroupMembershipChanged', data: { groupId: 'prod-db', definitionVersion: 1, added: [], removed: [{ endpointId: 'db1', reason: 'group deleted' }, { endpointId: 'st1', reason: 'group deleted' }], trigger: { kind: 'definition' } } },
        { type: 'ReferenceGroupDeleted', data: { groupId: 'prod-db', version: 2 } },
      ]);
    givenGroup(defined).when({ type: 'DeleteGroup', groupId: 'prod-db', usedBy: ['nightly'] }).thenThrows('GROUP_IN_USE');
    givenGroup([]).when({ type: 'DeleteGroup', groupId: 'prod-db', usedBy: [] }).thenThrows('GROUP_NOT_FOUND');
  });
  it('a large membership change is split into events of at most MEMBERSHIP_CHUNK entries, folding to the same members', () => {
    const many = directory(...Array.from({ length: 2500 }, (_, i) => ep(`h${String(i).padStart(4, '0')}`, { env: 'prod' })));
    const def = group({ id: 'big', selector: 'env=prod' });
    givenGroup([])
      .when({ type: 'DefineGroup', definition: def, endpoints: many })
      .then((events) => {
        const sizes = events.map((e) => (e.type === 'GroupMembershipChanged' ? e.data.added.length + e.data.removed.length : -1));
        assert.deepEqual(sizes, [-1, MEMBERSHIP_CHUNK, MEMBERSHIP_CHUNK, 500]);
        assert.equal(events.reduce(evolveGroup, initialGroupState()).members.size, 2500);
        const deleted = decideGroup({ type: 'DeleteGroup', groupId: 'big', usedBy: [] }, events.reduce(evolveGroup, initialGroupState()));
        assert.deepEqual(deleted.map((e) => e.type), ['GroupMembershipChanged', 'GroupMembershipChanged', 'GroupMembershipChanged', 'ReferenceGroupDeleted']);
      });
  });
  it('member and exclusion lists are sets: order and duplicates do not make a new definition', () => {
    const a = group({ id: 'x', members: ['b', 'a', 'a'] });
    const b = group({ id: 'x', members: ['a', 'b'] });
    givenGroup([{ type: 'ReferenceGroupDefined', data: { groupId: 'x', version: 1, definition: a } }]).when({ type: 'UpdateGroup', definition: b, endpoints: directory(), upsert: false }).then([]);
  });
  it('explains membership requirement by requirement', () => {
    const state = defined.reduce(evolveGroup, initialGroupState());
    const x = explainMembership(state.compiled!, fleet.get('db2'), 'db2', false);
    assert.equal(x.member, false);
    assert.equal(x.summary, 'selector env=prod,role in (db),!legacy did not match (!legacy: is yes) → not a member');
    assert.deepEqual(x.selector?.requirements.map((r) => r.matched), [true, true, false]);
    const excluded = explainMembership(compileGroup(group({ ...prodDb, exclusions: ['db1'] })), fleet.get('db1'), 'db1', true);
    assert.equal(excluded.summary, 'selector env=prod,role in (db),!legacy matched; excluded by static exclusion → not a member');
    assert.ok(excluded.reasons.includes('excluded by static exclusion'));
  });
});

describe('reference group definitions: rejected with codes and paths', () => {
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['missing tier', { id: 'g' }, 'GROUP_MISSING_FIELD', 'tier'],
    ['missing id', { tier: 'low' }, 'GROUP_MISSING_FIELD', 'id'],
    ['unknown field', { id: 'g', tier: 'low', colour: 'red' }, 'GROUP_UNKNOWN_FIELD', ''],
    ['id not stream-safe', { id: 'Prod DB', tier: 'low' }, 'GROUP_INVALID_VALUE', 'id'],
    ['tier not a name', { id: 'g', tier: 'Very High!' }, 'GROUP_INVALID_VALUE', 'tier'],
    ['member id with a space', { id: 'g', tier: 'low', members: ['web 1'] }, 'GROUP_INVALID_VALUE', 'members[0]'],
    ['empty selector', { id: 'g', tier: 'low', selector: '' }, 'GROUP_INVALID_VALUE', 'selector'],
    ['selector syntax', { id: 'g', tier: 'low', selector: 'env=prod,,x' }, 'SELECTOR_INVALID', 'selector'],
  ];
  for (const [name, input, code, path] of cases) {
    it(`${name}: ${code} at "${path}"`, () => {
      const r = checkGroup(input);
      assert.equal(r.ok, false);
      assert.deepEqual(!r.ok && [r.issues[0]!.code, r.issues[0]!.path], [code, path]);
    });
  }
  it('a custom tier name is accepted (policies order tiers with rollout.tierOrder)', () => {
    assert.equal(checkGroup({ id: 'g', tier: 'tier-0' }).ok, true);
  });
});

const policy = (p: Record<string, unknown> = {}): PatchPolicy => orThrow(checkPolicy({ id: 'nightly', groups: ['prod-db'], workflow: { id: 'web-standard', version: 1 }, ...p }), 'policy');
const refs = { groups: new Set(['prod-db']), workflows: new Map([['web-standard', 2]]) };
const givenPolicy = spec<ReturnType<typeof initialPolicyState>, PolicyCommand, PolicyEvent>({ initial: initialPolicyState, evolve: evolvePolicy, decide: decidePolicy });

describe('patch policy decider', () => {
  const p1 = policy();
  const defined: PolicyEvent[] = [{ type: 'PatchPolicyDefined', data: { policyId: 'nightly', version: 1, definition: p1 } }];
  it('define, then the same again appends nothing, and a change appends an update naming the fields', () => {
    givenPolicy([]).when({ type: 'DefinePolicy', definition: p1, references: refs }).then(defined);
    givenPolicy(defined).when({ type: 'UpdatePolicy', definition: p1, references: refs, upsert: false }).then([]);
    const p2 = policy({ maxConcurrency: '25%', reboot: 'always' });
    givenPolicy(defined)
      .when({ type: 'UpdatePolicy', definition: p2, references: refs, upsert: false })
      .then([{ type: 'PatchPolicyUpdated', data: { policyId: 'nightly', version: 2, definition: p2, changed: ['maxConcurrency', 'reboot'] } }]);
  });
  it('refuses unknown groups and template versions', () => {
    givenPolicy([]).when({ type: 'DefinePolicy', definition: policy({ groups: ['nope'] }), references: refs }).thenThrows('POLICY_UNKNOWN_GROUP');
    givenPolicy([]).when({ type: 'DefinePolicy', definition: policy({ workflow: { id: 'web-standard', version: 3 } }), references: refs }).thenThrows('POLICY_UNKNOWN_WORKFLOW');
    givenPolicy([]).when({ type: 'DefinePolicy', definition: policy({ workflow: { id: 'other', version: 1 } }), references: refs }).thenThrows('POLICY_UNKNOWN_WORKFLOW');
  });
  it('delete, and delete again: POLICY_NOT_FOUND', () => {
    givenPolicy(defined).when({ type: 'DeletePolicy', policyId: 'nightly' }).then([{ type: 'PatchPolicyDeleted', data: { policyId: 'nightly', version: 2 } }]);
    givenPolicy([...defined, { type: 'PatchPolicyDeleted', data: { policyId: 'nightly', version: 2 } }]).when({ type: 'DeletePolicy', policyId: 'nightly' }).thenThrows('POLICY_NOT_FOUND');
  });
  it('policy fields: every option the issue lists validates, bad ones are refused with codes', () => {
    const full = checkPolicy({
      id: 'full',
      groups: ['a', 'b'],
      updates: { include: 'security', minSeverity: 'high', packages: { allow: ['openssl*', 'lib?ssl'], deny: ['kernel*'] }, cves: ['CVE-2024-3094'] },
      approval: { mode: 'manual', approvers: ['alice', 'change-board'] },
      windows: [{ cron: '0 22 * * 6', durationMinutes: 240, timezone: 'Europe/Paris', blackoutDates: ['2026-12-24'] }],
      rollout: { tierOrder: ['critical', 'high', 'medium', 'low'], canary: 2, waves: ['25%', '50%'] },
      maxConcurrency: '20%',
      disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: 1 },
      errorThreshold: '5%',
      reboot: 'if-required',
      workflow: { id: 'web-standard', version: 1 },
    });
    assert.equal(full.ok, true, JSON.stringify(!full.ok && full.issues));
    const bad: Array<[Record<string, unknown>, string, string]> = [
      [{ maxConcurrency: '150%' }, 'POLICY_INVALID_VALUE', 'maxConcurrency'],
      [{ maxConcurrency: 0 }, 'POLICY_INVALID_VALUE', 'maxConcurrency'],
      [{ disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: 0 } }, 'POLICY_INVALID_VALUE', 'disruptionBudget.maxUnavailable'],
      [{ updates: { cves: ['CVE-24-1'] } }, 'POLICY_INVALID_VALUE', 'updates.cves[0]'],
      [{ updates: { packages: { allow: ['open ssl'] } } }, 'POLICY_INVALID_VALUE', 'updates.packages.allow[0]'],
      [{ approval: { mode: 'manual', approvers: [] } }, 'POLICY_INVALID_VALUE', 'approval.approvers'],
      [{ reboot: 'sometimes' }, 'POLICY_INVALID_VALUE', 'reboot'],
      [{ workflow: undefined }, 'POLICY_MISSING_FIELD', 'workflow'],
      [{ rollout: { tierOrder: ['high', 'high'] } }, 'POLICY_INVALID_VALUE', 'rollout.tierOrder[1]'],
      [{ colour: 'blue' }, 'POLICY_UNKNOWN_FIELD', ''],
    ];
    for (const [edit, code, path] of bad) {
      const r = checkPolicy({ id: 'p', groups: ['a'], workflow: { id: 'w', version: 1 }, ...edit });
      assert.equal(r.ok, false, JSON.stringify(edit));
      assert.equal(!r.ok && r.issues[0]!.code, code, JSON.stringify(edit));
      assert.equal(!r.ok && r.issues[0]!.path, path, JSON.stringify(edit));
    }
  });
});

const givenWorkflow = spec<ReturnType<typeof initialWorkflowState>, WorkflowCommand, WorkflowEvent>({ initial: initialWorkflowState, evolve: evolveWorkflow, decide: decideWorkflow });
describe('workflow template decider (versioned)', () => {
  const t1 = orThrow(checkWorkflow({ id: 'wf', phases: { patch: [{ id: 'patch', type: 'patch', params: { scope: 'all' } }] } }), 'wf');
  const t2 = orThrow(checkWorkflow({ id: 'wf', phases: { patch: [{ id: 'patch', type: 'patch', params: { scope: 'security' } }] } }), 'wf');
  const v1: WorkflowEvent = { type: 'WorkflowTemplateVersionSaved', data: { workflowId: 'wf', version: 1, template: t1 } };
  it('each changed save is a new version; the same content again is not', () => {
    givenWorkflow([]).when({ type: 'SaveWorkflow', template: t1 }).then([v1]);
    givenWorkflow([v1]).when({ type: 'SaveWorkflow', template: t1 }).then([]);
    givenWorkflow([v1]).when({ type: 'SaveWorkflow', template: t2 }).then([{ type: 'WorkflowTemplateVersionSaved', data: { workflowId: 'wf', version: 2, template: t2 } }]);
  });
  it('old versions stay readable after a new one', () => {
    const s = [v1, { type: 'WorkflowTemplateVersionSaved', data: { workflowId: 'wf', version: 2, template: t2 } } as WorkflowEvent].reduce(evolveWorkflow, initialWorkflowState());
    assert.deepEqual(s.versions, [t1, t2]);
  });
  it('retire: WORKFLOW_IN_USE while a policy uses it; a retired template saved again comes back as a new version', () => {
    givenWorkflow([v1]).when({ type: 'RetireWorkflow', workflowId: 'wf', usedBy: ['nightly'] }).thenThrows('WORKFLOW_IN_USE');
    const retired: WorkflowEvent = { type: 'WorkflowTemplateRetired', data: { workflowId: 'wf', lastVersion: 1 } };
    givenWorkflow([v1]).when({ type: 'RetireWorkflow', workflowId: 'wf', usedBy: [] }).then([retired]);
    givenWorkflow([v1, retired]).when({ type: 'SaveWorkflow', template: t1 }).then((e) => assert.equal(e[0]?.type === 'WorkflowTemplateVersionSaved' && e[0].data.version, 2));
    givenWorkflow([]).when({ type: 'RetireWorkflow', workflowId: 'wf', usedBy: [] }).thenThrows('WORKFLOW_NOT_FOUND');
  });
});

describe('membership: incremental recomputation agrees with the full computation (property)', () => {
  const env = fc.constantFrom('prod', 'staging', 'dev');
  const role = fc.constantFrom('web', 'db', 'cache');
  const labelsArb = fc.record({ env, role, legacy: fc.option(fc.constant('yes'), { nil: undefined }) }).map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as Record<string, string>);
  const change = fc.record({ endpoint: fc.integer({ min: 0, max: 11 }), labels: labelsArb, retire: fc.boolean() });
  const selector = fc.constantFrom('env=prod', 'env=prod,role in (web,db),!legacy', 'role notin (cache)', 'legacy', '!legacy,env!=dev');
  it('any sequence of endpoint changes, applied in batches, ends in the membership the rule gives', () => {
    fc.assert(
      fc.property(selector, fc.subarray(['h0', 'h1', 'h2']), fc.subarray(['h3', 'h4']), fc.array(fc.array(change, { maxLength: 5 }), { maxLength: 8 }), (sel, members, exclusions, batches) => {
        const facts = new Map<string, EndpointFacts>();
        const lookup: EndpointLookup = { get: (id) => facts.get(id), ids: () => facts.keys() };
        const definition = group({ id: 'g', selector: sel, members, exclusions });
        let state = decideGroup({ type: 'DefineGroup', definition, endpoints: lookup }, initialGroupState()).reduce(evolveGroup, initialGroupState());
        batches.forEach((batch, b) => {
          const causes = new Map<string, string>();
          batch.forEach((c, i) => {
            const id = `h${c.endpoint}`;
            facts.set(id, { endpointId: id, labels: c.labels, retired: c.retire && i % 2 === 0 });
            causes.set(id, `e-${b}-${i}`);
          });
          state = decideGroup({ type: 'RecomputeMembership', causes, endpoints: lookup }, state).reduce(evolveGroup, state);
        });
        const expected = computeMembership(compileGroup(definition), facts.values());
        // Reasons are why an endpoint joined; they are not rewritten while it stays a member.
        assert.deepEqual([...state.members.keys()].sort(), [...expected.keys()].sort());
      }),
    );
  });
});
