import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cyclePlanSchema } from '@patchbay/contracts';
import { planCycle, planHash, printPlan, splitPlan, joinPlan, planHeader } from './plan.js';
import { endpoint, snapshot, update } from './fixtures.js';
import type { EndpointSnapshot, GroupSnapshot } from './snapshot.js';

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
const names = (plan: ReturnType<typeof planCycle>) => plan.waves.map((w) => `${w.name}:${w.endpoints.map((e) => e.endpointId).join(',')}`);

test('waves follow the tier order, one wave per tier, whatever the group order', () => {
  const groups: GroupSnapshot[] = [
    { id: 'low-g', tier: 'low', members: ['l1'] },
    { id: 'crit-g', tier: 'critical', members: ['c2', 'c1'] },
    { id: 'med-g', tier: 'medium', members: ['m1'] },
  ];
  const plan = planCycle({ kind: 'manual' }, snapshot({}, groups, ['l1', 'c1', 'c2', 'm1'].map((id) => endpoint(id))));
  assert.deepEqual(names(plan), ['tier:critical:c1,c2', 'tier:medium:m1', 'tier:low:l1']);
  assert.equal(cyclePlanSchema.safeParse(plan).success, true);
});

test('a policy tier order overrides the default; unknown tiers go last', () => {
  const groups: GroupSnapshot[] = [
    { id: 'a', tier: 'critical', members: ['c1'] },
    { id: 'b', tier: 'low', members: ['l1'] },
    { id: 'z', tier: 'lab', members: ['x1'] },
  ];
  const plan = planCycle({ kind: 'manual' }, snapshot({ rollout: { tierOrder: ['low', 'critical'] } }, groups, ['c1', 'l1', 'x1'].map((id) => endpoint(id))));
  assert.deepEqual(names(plan), ['tier:low:l1', 'tier:critical:c1', 'tier:lab:x1']);
});

test('an endpoint in two groups is placed by its most important tier', () => {
  const groups: GroupSnapshot[] = [
    { id: 'web', tier: 'low', members: ['e1', 'e2'] },
    { id: 'pay', tier: 'critical', members: ['e2'] },
  ];
  const plan = planCycle({ kind: 'manual' }, snapshot({}, groups, [endpoint('e1'), endpoint('e2')]));
  assert.deepEqual(names(plan), ['tier:critical:e2', 'tier:low:e1']);
  assert.equal(plan.waves[0]!.endpoints[0]!.groupId, 'pay');
});

test('canary as a count, then explicit wave sizes with the rest in a last wave', () => {
  const eps = ids(10, 'e');
  const plan = planCycle({ kind: 'manual' }, snapshot({ rollout: { canary: 1, waves: [3, '20%'] } }, [{ id: 'g', tier: 'high', members: eps }], eps.map((id) => endpoint(id))));
  assert.deepEqual(plan.waves.map((w) => [w.name, w.endpoints.length]), [['canary', 1], ['wave-1', 3], ['wave-2', 2], ['wave-3', 4]]);
  assert.equal(plan.waves[0]!.endpoints[0]!.endpointId, 'e-00');
});

test('canary as a percentage rounds up and comes first, before the tier waves', () => {
  const eps = ids(15, 'e');
  const plan = planCycle({ kind: 'manual' }, snapshot({ rollout: { canary: '10%' } }, [{ id: 'g', tier: 'high', members: eps }], eps.map((id) => endpoint(id))));
  assert.deepEqual(plan.waves.map((w) => [w.name, w.endpoints.length]), [['canary', 2], ['tier:high', 13]]);
});

test('max concurrency as a percentage is resolved against the planned endpoints (rounded up), skipped ones excluded', () => {
  const eps = ids(21, 'e');
  const endpoints = eps.map((id, i) => (i === 20 ? endpoint(id, { facts: undefined }) : endpoint(id)));
  const plan = planCycle({ kind: 'manual' }, snapshot({ maxConcurrency: '15%' }, [{ id: 'g', tier: 'high', members: eps }], endpoints));
  assert.equal(plan.concurrency.limit, 3);
  assert.equal(plan.concurrency.from, '15%');
  const fixed = planCycle({ kind: 'manual' }, snapshot({ maxConcurrency: 4 }, [{ id: 'g', tier: 'high', members: eps }], endpoints));
  assert.equal(fixed.concurrency.limit, 4);
});

test('the disruption budget is resolved per cluster from the cluster size in the inventory', () => {
  const endpoints = [
    ...['a1', 'a2', 'a3', 'a4'].map((id) => endpoint(id, { cluster: 'a' })),
    ...['b1', 'b2'].map((id) => endpoint(id, { cluster: 'b' })),
    endpoint('solo'),
  ];
  const plan = planCycle(
    { kind: 'manual' },
    snapshot({ disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: '50%' } }, [{ id: 'g', tier: 'high', members: ['a1', 'a2', 'a3', 'b1', 'solo'] }], endpoints),
  );
  assert.deepEqual(plan.disruptionBudget?.limits, { a: 2, b: 1 });
  assert.equal(plan.waves[0]!.endpoints.find((e) => e.endpointId === 'a1')?.cluster, 'a');
  assert.equal(plan.waves[0]!.endpoints.find((e) => e.endpointId === 'solo')?.cluster, undefined);
});

test('endpoints with nothing to install are skipped with a stable code and a reason', () => {
  const endpoints: EndpointSnapshot[] = [
    endpoint('ok'),
    endpoint('no-facts', { facts: undefined }),
    endpoint('unknown-updates', { facts: { updatesKnown: false, rebootRequired: false, updates: [] } }),
    endpoint('up-to-date', { updates: [] }),
    endpoint('only-denied', { updates: [update('kernel-image')] }),
    endpoint('gone', { retired: true }),
  ];
  const members = [...endpoints.map((e) => e.endpointId), 'ghost'];
  const plan = planCycle({ kind: 'manual' }, snapshot({ updates: { packages: { deny: ['kernel-*'] } } }, [{ id: 'g', tier: 'high', members }], endpoints));
  assert.deepEqual(names(plan), ['tier:high:ok']);
  assert.deepEqual(
    plan.skipped.map((s) => [s.endpointId, s.code]),
    [
      ['ghost', 'UNKNOWN_ENDPOINT'],
      ['gone', 'RETIRED'],
      ['no-facts', 'NO_FACTS'],
      ['only-denied', 'NOTHING_TO_INSTALL'],
      ['unknown-updates', 'UPDATES_UNKNOWN'],
      ['up-to-date', 'NOTHING_TO_INSTALL'],
    ],
  );
  assert.ok(plan.skipped.every((s) => s.reason.length > 0));
});

test('the update filter: security only, minimum severity, allow and deny globs', () => {
  const updates = [
    update('openssl', { security: true, severity: 'important' }),
    update('libc6', { security: true, severity: 'low' }),
    update('vim', { security: false }),
    update('nginx-core', { security: true, severity: 'Critical' }),
  ];
  const plan = planCycle(
    { kind: 'manual' },
    snapshot({ updates: { include: 'security', minSeverity: 'high', packages: { allow: ['openssl', 'nginx*'], deny: [] } } }, [{ id: 'g', tier: 'high', members: ['e'] }], [endpoint('e', { updates })]),
  );
  assert.deepEqual(plan.waves[0]!.endpoints[0]!.packages.map((p) => p.name), ['nginx-core', 'openssl']);
});

test('an emergency targets every endpoint with a pending update of a fixing package, in any group or none', () => {
  const endpoints = [
    endpoint('web1', { updates: [update('xz-utils', { security: true }), update('vim')] }),
    endpoint('web2', { updates: [update('vim')] }),
    endpoint('db1', { updates: [update('liblzma5', { security: true })] }),
    endpoint('old', { retired: true, updates: [update('xz-utils')] }),
  ];
  const plan = planCycle(
    { kind: 'emergency', emergency: { advisoryId: 'CVE-2024-3094', packages: ['xz-utils', 'liblzma5'], target: { kind: 'vulnerable' }, skipWindow: true, ignoreConcurrency: false, ignoreDisruptionBudget: false } },
    snapshot({}, [{ id: 'web', tier: 'high', members: ['web1', 'web2'] }], endpoints),
  );
  assert.deepEqual(names(plan), ['tier:high:web1', 'tier:unassigned:db1']);
  assert.deepEqual(plan.waves[0]!.endpoints[0]!.packages.map((p) => p.name), ['xz-utils']);
  assert.equal(plan.kind, 'emergency');
});

test('an emergency on named groups skips the members that are not affected; nobody affected is an empty target', () => {
  const spec = { advisoryId: 'DSA-5678-1', packages: ['openssl'], target: { kind: 'groups' as const, groups: ['db'] }, skipWindow: true, ignoreConcurrency: true, ignoreDisruptionBudget: false };
  const snap = snapshot({}, [{ id: 'web', tier: 'high', members: ['w1'] }, { id: 'db', tier: 'low', members: ['d1', 'd2'] }], [endpoint('w1'), endpoint('d1'), endpoint('d2', { updates: [update('vim')] })]);
  const plan = planCycle({ kind: 'emergency', emergency: spec }, snap);
  assert.deepEqual(names(plan), ['tier:low:d1']);
  assert.deepEqual(plan.skipped.map((s) => [s.endpointId, s.code]), [['d2', 'NOT_AFFECTED']]);
  assert.equal(plan.concurrency.limit, 1, 'override: one endpoint planned, unlimited is all of them');
  assert.throws(() => planCycle({ kind: 'emergency', emergency: { ...spec, packages: ['bash'], target: { kind: 'vulnerable' } } }, snap), { code: 'PLANNER_EMPTY_TARGET' });
  assert.throws(() => planCycle({ kind: 'manual' }, snapshot({}, [{ id: 'empty', tier: 'high', members: [] }], [endpoint('w1')])), { code: 'PLANNER_EMPTY_TARGET' });
});

test('split and join give the plan back, and parts stay under the byte budget', () => {
  const eps = ids(60, 'e');
  const plan = planCycle({ kind: 'manual' }, snapshot({ rollout: { canary: 2 } }, [{ id: 'g', tier: 'high', members: [...eps, 'ghost'] }], eps.map((id) => endpoint(id))));
  const parts = splitPlan(plan, 2000);
  assert.ok(parts.length > 3);
  for (const p of parts) assert.ok(JSON.stringify(p).length < 2000 + 600);
  assert.equal(planHash(joinPlan(planHeader(plan), parts)), planHash(plan));
});

test('the printed plan names every wave, endpoint, skip and step', () => {
  const plan = planCycle({ kind: 'manual' }, snapshot({ rollout: { canary: 1 } }, [{ id: 'g', tier: 'high', members: ['a', 'b', 'c'] }], [endpoint('a'), endpoint('b', { cluster: 'x' })]));
  const text = printPlan(plan);
  assert.match(text, /wave 0 canary \(1\)\n {2}a {2}g\/high/);
  assert.match(text, /skipped \(1\)\n {2}c {2}UNKNOWN_ENDPOINT/);
  assert.match(text, /pre:disk\(check-disk\) → patch:patch\(patch\) → post:reboot\(reboot\)/);
});

function shuffle<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('determinism: shuffled inputs give the same plan hash (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ group: fc.integer({ min: 0, max: 3 }), cluster: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), pkgs: fc.subarray(['openssl', 'vim', 'bash', 'curl'], { minLength: 1 }) }), { minLength: 1, maxLength: 40 }),
      fc.integer(),
      fc.constantFrom<number | `${number}%`>(1, 3, '10%', '50%'),
      (rows, seed, canary) => {
        const tiers = ['critical', 'high', 'medium', 'low'];
        const endpoints = rows.map((r, i) => endpoint(`e${i}`, { cluster: r.cluster, updates: r.pkgs.map((p) => update(p, { security: p !== 'vim' })) }));
        const groups = tiers.map((t, g) => ({ id: `g-${t}`, tier: t, members: rows.flatMap((r, i) => (r.group === g ? [`e${i}`] : [])) }));
        const policy = { rollout: { canary }, maxConcurrency: '25%' as const, disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: 1 } };
        const a = planCycle({ kind: 'manual' }, snapshot(policy, groups, endpoints));
        const shuffledGroups = shuffle(groups, seed).map((g) => ({ ...g, members: shuffle(g.members, seed + 1) }));
        const shuffledEndpoints = shuffle(endpoints, seed + 2).map((e) => ({ ...e, facts: e.facts && { ...e.facts, updates: shuffle(e.facts.updates, seed + 3) } }));
        const b = planCycle({ kind: 'manual' }, snapshot(policy, shuffledGroups, shuffledEndpoints));
        assert.equal(planHash(b), planHash(a));
      },
    ),
    { numRuns: 200 },
  );
});

test('a different input gives a different hash', () => {
  const groups = [{ id: 'g', tier: 'high', members: ['a', 'b'] }];
  const a = planCycle({ kind: 'manual' }, snapshot({}, groups, [endpoint('a'), endpoint('b')]));
  const b = planCycle({ kind: 'manual' }, snapshot({}, groups, [endpoint('a'), endpoint('b', { updates: [update('openssl', { to: '1.2' })] })]));
  assert.notEqual(planHash(a), planHash(b));
});
