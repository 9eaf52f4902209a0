import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advisoryIdSchema, CYCLE_EVENTS, cyclePlanSchema, emergencySpecSchema, EndpointReleased, CycleAborted } from '@patchbay/contracts';
import { planCycle } from './domain/plan.js';
import { endpoint, snapshot } from './domain/fixtures.js';

test('advisory ids: CVE ids and vendor advisories pass, look-alikes do not', () => {
  for (const ok of ['CVE-2024-3094', 'CVE-2021-44228', 'CVE-2023-1234567', 'DSA-5678-1', 'DLA-3456-2', 'USN-6543-1', 'RHSA-2024:1234', 'ALSA-2024:0001', 'SUSE-SU-2024:1234-1', 'GHSA-jfh8-c2jp-5v3q'])
    assert.equal(advisoryIdSchema.safeParse(ok).success, true, ok);
  for (const bad of ['CVE-24-1', 'CVE-2024-123', 'cve-2024-3094', 'CVE-2024-3094; rm -rf /', 'XSA-1', 'DSA-', 'GHSA-aaaa-bbbb-cccc', ''])
    assert.equal(advisoryIdSchema.safeParse(bad).success, false, bad);
});

test('an emergency spec applies its defaults: skip the window, keep concurrency and budget', () => {
  const spec = emergencySpecSchema.parse({ advisoryId: 'CVE-2024-3094', packages: ['xz-utils'], target: { kind: 'vulnerable' } });
  assert.deepEqual({ skipWindow: spec.skipWindow, ignoreConcurrency: spec.ignoreConcurrency, ignoreDisruptionBudget: spec.ignoreDisruptionBudget }, { skipWindow: true, ignoreConcurrency: false, ignoreDisruptionBudget: false });
  assert.equal(emergencySpecSchema.safeParse({ advisoryId: 'CVE-2024-3094', packages: [], target: { kind: 'vulnerable' } }).success, false, 'at least one fixing package');
  assert.equal(emergencySpecSchema.safeParse({ advisoryId: 'CVE-2024-3094', packages: ['a'], target: { kind: 'groups', groups: [] } }).success, false, 'at least one group');
});

test('a plan satisfies the plan schema; every cycle event type is defined once; the hand-over events are unchanged', () => {
  const plan = planCycle({ kind: 'manual' }, snapshot({}, [{ id: 'g', tier: 'high', members: ['a'] }], [endpoint('a')]));
  assert.equal(cyclePlanSchema.safeParse(plan).success, true);
  const types = CYCLE_EVENTS.map((e) => e.type);
  assert.equal(new Set(types).size, types.length);
  assert.ok(types.includes(EndpointReleased.type) && types.includes(CycleAborted.type));
  assert.deepEqual(Object.keys(CycleAborted.schema.shape).sort(), ['by', 'cycleId', 'reason']);
  assert.deepEqual(Object.keys(EndpointReleased.schema.shape).sort(), ['cycleId', 'emergency', 'endpointId', 'packages', 'rebootPolicy', 'rollbackOnValidationFailure', 'ssh', 'wave', 'workflow']);
});
