import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, evolve, initialState, type CycleEvent, type CycleState } from './cycle.js';
import { planCycle, planHash } from './plan.js';
import { endpoint, snapshot } from './fixtures.js';

const NOW = '2026-11-25T10:00:00.000Z';

test('supervision invariants hold for any plan and any order and outcome of runs (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 6 }),
      fc.constantFrom<number | `${number}%`>(1, 2, 5, '20%', '50%'),
      fc.constantFrom<number | `${number}%`>(1, 3, '10%', '30%'),
      fc.option(fc.constantFrom<number | `${number}%`>(1, '10%'), { nil: undefined }),
      fc.constantFrom<number | `${number}%`>(1, '50%'),
      fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 200, maxLength: 200 }),
      (n, clusters, concurrency, threshold, canary, budget, choices) => {
        const eps = Array.from({ length: n }, (_, i) => endpoint(`e${i}`, { cluster: i % 5 === 4 ? undefined : `c${i % clusters}` }));
        const plan = planCycle(
          { kind: 'manual' },
          snapshot(
            { maxConcurrency: concurrency, errorThreshold: threshold, rollout: { ...(canary !== undefined ? { canary } : {}), waves: ['30%'] }, disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: budget } },
            [{ id: 'g', tier: 'high', members: eps.map((e) => e.endpointId) }],
            eps,
          ),
        );
        let s: CycleState = initialState('p');
        const log: CycleEvent[] = [];
        const apply = (events: CycleEvent[]) => {
          for (const e of events) {
            s = evolve(s, e);
            log.push(e);
            // In flight never exceeds the concurrency limit nor a cluster's limit.
            assert.ok(s.inFlight <= plan.concurrency.limit, 'concurrency');
            for (const [c, k] of s.inFlightByCluster) assert.ok(k <= (plan.disruptionBudget?.limits[c] ?? Infinity), `cluster ${c}`);
            if (e.type === 'EndpointReleased') {
              assert.notEqual(s.status, 'halted', 'no release after a halt');
              assert.equal(e.data.wave, s.currentWave, 'only the current wave is released');
              for (let w = 0; w < e.data.wave; w++) assert.equal(s.finishedInWave[w], plan.waves[w]!.endpoints.length, 'earlier waves finished first');
            }
          }
        };
        apply(decide({ type: 'RequestCycle', kind: 'manual', policyId: 'web', requestedBy: 'a', requestedAt: NOW, notBefore: NOW, plan, planHash: planHash(plan) }, s));
        apply(decide({ type: 'Start', now: NOW }, s));
        let i = 0;
        for (;;) {
          const inFlight = [...s.progress].filter(([, p]) => p.released && !p.outcome).map(([id]) => id);
          if (inFlight.length === 0) break;
          const [pick, roll] = choices[i++ % choices.length]!;
          const id = inFlight[pick % inFlight.length]!;
          apply(decide({ type: 'RecordRunResult', endpointId: id, outcome: roll < 0.15 ? 'failed' : 'succeeded', runEventId: `r-${id}`, now: NOW }, s));
        }
        const limit = plan.errorThreshold.limit;
        if (s.failed >= limit) {
          assert.equal(s.status, 'halted');
          const haltAt = log.findIndex((e) => e.type === 'CycleHalted');
          assert.ok(!log.slice(haltAt).some((e) => e.type === 'EndpointReleased'), 'nothing released after the halt');
          // No overshoot: everything released had been released while failures were under the threshold.
          const halted = log[haltAt]!;
          assert.ok(halted.type === 'CycleHalted' && halted.data.failed === limit);
        } else {
          assert.equal(s.status, 'completed');
          assert.equal(s.succeeded + s.failed, n);
        }
      },
    ),
    { numRuns: 300 },
  );
});
