// How the Policies page reads a policy definition and writes its windows and quantities.
// Run: node --test gateway/console/src/pages/policies/definition.unit.spec.mjs (Node 24 strips the types).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durationText, formatInZone, policyView, quantityText } from './definition.ts';

test('reads a full definition', () => {
  const v = policyView({
    id: 'prod',
    groups: ['web', 'db'],
    updates: { include: 'security', minSeverity: 'high', packages: { allow: ['openssl*'], deny: ['kernel*'] }, cves: ['CVE-2024-1234'] },
    approval: { mode: 'manual', approvers: ['alice', 'bob'], minApprovals: 2 },
    windows: [{ cron: '0 2 * * 6', durationMinutes: 240, timezone: 'Europe/Paris', blackoutDates: ['2026-12-26'] }],
    rollout: { tierOrder: ['critical', 'high'], canary: 1, waves: ['10%', 5] },
    maxConcurrency: '10%',
    disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: 1 },
    errorThreshold: 3,
    reboot: 'always',
    workflow: { id: 'standard', version: 2 },
  });
  assert.deepEqual(v.approval, { mode: 'manual', approvers: ['alice', 'bob'], minApprovals: 2 });
  assert.deepEqual(v.updates, { include: 'security', minSeverity: 'high', allow: ['openssl*'], deny: ['kernel*'], cves: ['CVE-2024-1234'] });
  assert.deepEqual(v.waves, ['10%', 5]);
  assert.deepEqual(v.disruptionBudget, { clusterLabel: 'cluster', maxUnavailable: 1 });
  assert.deepEqual(v.workflow, { id: 'standard', version: 2 });
  assert.equal(v.windows[0].timezone, 'Europe/Paris');
});

test('a definition of another shape reads as "not set", never throws', () => {
  for (const d of [null, 42, 'x', [], { approval: { mode: 'weird' }, windows: 'no', rollout: { waves: [{}] }, disruptionBudget: { clusterLabel: 1 } }]) {
    const v = policyView(d);
    assert.equal(v.approval, undefined);
    assert.deepEqual(v.windows, []);
    assert.deepEqual(v.waves, []);
    assert.equal(v.disruptionBudget, undefined);
    assert.equal(quantityText(v.maxConcurrency), 'not set');
  }
});

test('quantities and durations in words', () => {
  assert.equal(quantityText(1), '1 endpoint');
  assert.equal(quantityText(5), '5 endpoints');
  assert.equal(quantityText('10%'), '10% of the endpoints (rounded up)');
  assert.equal(quantityText(1, 'members'), '1 member');
  assert.equal(durationText(240), '4 h');
  assert.equal(durationText(90), '1 h 30 min');
  assert.equal(durationText(1560), '1 d 2 h');
});

test('one instant in the policy zone and the viewer zone, across a DST change', () => {
  // 01:00Z on 21 March is 02:00 in Paris (winter) and 21:00 the day before in New York (summer time since 8 March).
  assert.equal(formatInZone('2026-03-21T01:00:00Z', 'Europe/Paris', 'en-GB'), 'Sat, 21 Mar 2026, 02:00 CET');
  assert.equal(formatInZone('2026-03-21T01:00:00Z', 'America/New_York', 'en-GB'), 'Fri, 20 Mar 2026, 21:00 GMT-4');
  // After Paris moves to summer time the same wall clock is an hour earlier in UTC.
  assert.equal(formatInZone('2026-04-04T00:00:00Z', 'Europe/Paris', 'en-GB'), 'Sat, 4 Apr 2026, 02:00 CEST');
  assert.equal(formatInZone('2026-04-04T00:00:00Z', 'UTC', 'en-GB'), 'Sat, 4 Apr 2026, 00:00 UTC');
});
