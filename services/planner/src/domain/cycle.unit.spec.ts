import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CYCLE_EVENTS } from '@patchbay/contracts';
import { decide, evolve, foldCycle, initialState, type CycleCommand, type CycleEvent, type CycleState } from './cycle.js';
import { planCycle, planHash } from './plan.js';
import { endpoint, snapshot } from './fixtures.js';
import type { PatchPolicyInput } from '@patchbay/contracts';
import type { EndpointSnapshot } from './snapshot.js';

const NOW = '2026-11-25T10:00:00.000Z';

/** Given events, when a command: the events decided (or the error thrown). */
function given(events: CycleEvent[]) {
  const state = (): CycleState => foldCycle('c1', events);
  return {
    when(command: CycleCommand) {
      return {
        then(check: (out: CycleEvent[]) => void) {
          const out = decide(command, state());
          // Every decided event satisfies its contract schema.
          for (const e of out) CYCLE_EVENTS.find((d) => d.type === e.type)!.parse(e.data);
          check(out);
          events.push(...out);
          return given(events);
        },
        thenThrows(code: string) {
          assert.throws(() => decide(command, state()), { code });
          return given(events);
        },
      };
    },
    state,
  };
}

function requested(policy: Partial<PatchPolicyInput>, endpoints: EndpointSnapshot[], requestedBy = 'alice'): CycleEvent[] {
  const plan = planCycle({ kind: 'manual' }, snapshot(policy, [{ id: 'g', tier: 'high', members: endpoints.map((e) => e.endpointId) }], endpoints));
  return decide({ type: 'RequestCycle', kind: 'manual', policyId: 'web', requestedBy, requestedAt: NOW, notBefore: NOW, plan, planHash: planHash(plan) }, initialState('c1'));
}

const released = (out: CycleEvent[]) => out.flatMap((e) => (e.type === 'EndpointReleased' ? [e.data.endpointId] : []));
const types = (out: CycleEvent[]) => out.map((e) => e.type);
const result = (endpointId: string, outcome: 'succeeded' | 'failed' | 'cancelled' = 'succeeded'): CycleCommand => ({ type: 'RecordRunResult', endpointId, outcome, runEventId: `run-${endpointId}`, now: NOW });
const eps = (n: number, cluster?: (i: number) => string | undefined) => Array.from({ length: n }, (_, i) => endpoint(`e${i}`, { cluster: cluster?.(i) }));

test('auto approval queues the cycle; start releases the first wave up to the concurrency limit', () => {
  given(requested({ maxConcurrency: 2, rollout: { canary: 1 } }, eps(5)))
    .when({ type: 'Start', now: NOW })
    .then((out) => {
      assert.deepEqual(types(out), ['CycleStarted', 'WaveReleased', 'EndpointReleased']);
      assert.deepEqual(released(out), ['e0']);
      const r = out[2]!;
      assert.ok(r.type === 'EndpointReleased' && r.data.ssh.host === 'e0.lab' && r.data.workflow.steps.length === 3 && r.data.packages[0]!.name === 'openssl' && r.data.rebootPolicy === 'if-required');
    })
    .when(result('e0'))
    .then((out) => {
      assert.deepEqual(types(out), ['EndpointRunFinished', 'WaveCompleted', 'WaveReleased', 'EndpointReleased', 'EndpointReleased']);
      assert.deepEqual(released(out), ['e1', 'e2']);
    })
    .when(result('e1'))
    .then((out) => assert.deepEqual(released(out), ['e3']))
    .when(result('e2'))
    .then((out) => assert.deepEqual(released(out), ['e4']))
    .when(result('e3'))
    .then((out) => assert.deepEqual(types(out), ['EndpointRunFinished']))
    .when(result('e4'))
    .then((out) => {
      assert.deepEqual(types(out), ['EndpointRunFinished', 'WaveCompleted', 'CycleCompleted']);
      assert.deepEqual(out[2]!.data, { cycleId: 'c1', succeeded: 5, failed: 0, skipped: 0 });
    });
});

test('never more than K members of one cluster in flight, even with free slots', () => {
  const endpoints = eps(6, (i) => (i < 4 ? 'a' : 'b'));
  given(requested({ maxConcurrency: 10, disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: 1 } }, endpoints))
    .when({ type: 'Start', now: NOW })
    .then((out) => assert.deepEqual(released(out), ['e0', 'e4']))
    .when(result('e0'))
    .then((out) => assert.deepEqual(released(out), ['e1']))
    .when(result('e4'))
    .then((out) => assert.deepEqual(released(out), ['e5']));
});

test('error threshold: the cycle halts and releases nothing more; runs in flight finish without overshoot', () => {
  const g = given(requested({ maxConcurrency: 3, errorThreshold: 2 }, eps(8)))
    .when({ type: 'Start', now: NOW })
    .then((out) => assert.deepEqual(released(out), ['e0', 'e1', 'e2']))
    .when(result('e0', 'failed'))
    .then((out) => assert.deepEqual(released(out), ['e3'], 'one failure is under the threshold: the slot is refilled'))
    .when(result('e1', 'failed'))
    .then((out) => {
      assert.deepEqual(types(out), ['EndpointRunFinished', 'CycleHalted']);
      const h = out[1]!;
      assert.ok(h.type === 'CycleHalted' && h.data.code === 'ERROR_THRESHOLD_REACHED' && h.data.failed === 2 && h.data.inFlight === 2);
    })
    .when(result('e2'))
    .then((out) => assert.deepEqual(types(out), ['EndpointRunFinished']))
    .when(result('e3', 'failed'))
    .then((out) => assert.deepEqual(types(out), ['EndpointRunFinished']));
  const s = g.state();
  assert.equal(s.status, 'halted');
  assert.equal([...s.progress.values()].filter((p) => p.released).length, 4, 'only what was released before the halt ran');
  g.when({ type: 'Resume', by: 'bob', now: NOW }).thenThrows('CYCLE_INVALID_TRANSITION');
});

test('a wave with a failure under the threshold still passes; the next wave waits for the whole wave', () => {
  given(requested({ maxConcurrency: 5, errorThreshold: 3, rollout: { canary: 2 } }, eps(4)))
    .when({ type: 'Start', now: NOW })
    .then((out) => assert.deepEqual(released(out), ['e0', 'e1']))
    .when(result('e0', 'failed'))
    .then((out) => assert.deepEqual(types(out), ['EndpointRunFinished']))
    .when(result('e1'))
    .then((out) => {
      assert.deepEqual(types(out), ['EndpointRunFinished', 'WaveCompleted', 'WaveReleased', 'EndpointReleased', 'EndpointReleased']);
      assert.deepEqual(out[1]!.data, { cycleId: 'c1', wave: 0, succeeded: 1, failed: 1 });
    });
});

test('pause stops releases, resume fills the free slots; a wave that passed while paused opens on resume', () => {
  given(requested({ maxConcurrency: 2, rollout: { canary: 1 } }, eps(3)))
    .when({ type: 'Start', now: NOW })
    .then((out) => assert.deepEqual(released(out), ['e0']))
    .when({ type: 'Pause', by: 'ops', reason: 'incident' })
    .then((out) => assert.deepEqual(types(out), ['CyclePaused']))
    .when(result('e0'))
    .then((out) => assert.deepEqual(types(out), ['EndpointRunFinished', 'WaveCompleted']))
    .when({ type: 'Pause', by: 'ops', reason: 'again' })
    .thenThrows('CYCLE_INVALID_TRANSITION')
    .when({ type: 'Resume', by: 'ops', now: NOW })
    .then((out) => {
      assert.deepEqual(types(out), ['CycleResumed', 'WaveReleased', 'EndpointReleased', 'EndpointReleased']);
      assert.deepEqual(released(out), ['e1', 'e2']);
    });
});

test('abort ends the cycle; later run results are recorded but nothing is released', () => {
  given(requested({ maxConcurrency: 1 }, eps(3)))
    .when({ type: 'Start', now: NOW })
    .then((out) => assert.deepEqual(released(out), ['e0']))
    .when({ type: 'Abort', by: 'ops', reason: 'wrong packages' })
    .then((out) => assert.deepEqual(out, [{ type: 'CycleAborted', data: { cycleId: 'c1', by: 'ops', reason: 'wrong packages' } }]))
    .when(result('e0', 'cancelled'))
    .then((out) => assert.deepEqual(types(out), ['EndpointRunFinished']))
    .when({ type: 'Abort', by: 'ops', reason: 'twice' })
    .thenThrows('CYCLE_INVALID_TRANSITION')
    .when({ type: 'Resume', by: 'ops', now: NOW })
    .thenThrows('CYCLE_INVALID_TRANSITION');
});

test('manual approval: the requester cannot approve, only listed approvers count, and the cycle queues at the quorum', () => {
  const g = given(requested({ approval: { mode: 'manual', approvers: ['alice', 'bob', 'carol'], minApprovals: 2 } }, eps(2), 'alice'));
  assert.equal(g.state().status, 'awaiting-approval');
  g.when({ type: 'Start', now: NOW })
    .thenThrows('CYCLE_INVALID_TRANSITION')
    .when({ type: 'Approve', by: 'alice' })
    .thenThrows('CYCLE_APPROVER_IS_REQUESTER')
    .when({ type: 'Approve', by: 'mallory' })
    .thenThrows('CYCLE_NOT_AN_APPROVER')
    .when({ type: 'Approve', by: 'bob' })
    .then((out) => assert.deepEqual(out[0]!.data, { cycleId: 'c1', by: 'bob', auto: false, approvals: 1, required: 2 }))
    .when({ type: 'Approve', by: 'bob' })
    .thenThrows('CYCLE_ALREADY_APPROVED_BY')
    .when({ type: 'Approve', by: 'carol', comment: 'ok' })
    .then((out) => assert.equal(out.length, 1));
  assert.equal(g.state().status, 'queued');
});

test('duplicate and stray run results change nothing', () => {
  given(requested({ maxConcurrency: 1 }, eps(2)))
    .when(result('e0'))
    .then((out) => assert.deepEqual(out, [], 'not released yet'))
    .when({ type: 'Start', now: NOW })
    .then((out) => assert.deepEqual(released(out), ['e0']))
    .when(result('e0'))
    .then((out) => assert.deepEqual(types(out), ['EndpointRunFinished', 'EndpointReleased']))
    .when(result('e0', 'failed'))
    .then((out) => assert.deepEqual(out, []))
    .when(result('nobody'))
    .then((out) => assert.deepEqual(out, []));
});

test('after the window closes nothing new is released, and the cycle pauses for the next window once idle', () => {
  const end = '2026-11-25T10:30:00.000Z';
  const later = { ...result('e0'), now: '2026-11-25T10:31:00.000Z' };
  const g = given(requested({ maxConcurrency: 1 }, eps(2)))
    .when({ type: 'Start', now: NOW, windowEndsAt: end })
    .then((out) => assert.deepEqual(released(out), ['e0']))
    .when(later)
    .then((out) => {
      assert.deepEqual(types(out), ['EndpointRunFinished', 'CyclePaused']);
      assert.ok(out[1]!.type === 'CyclePaused' && out[1]!.data.windowClosed);
    });
  assert.equal(g.state().pausedForWindow, true);
  g.when({ type: 'Resume', by: 'planner', now: '2026-11-26T10:00:00.000Z', windowEndsAt: '2026-11-26T10:30:00.000Z' }).then((out) => assert.deepEqual(released(out), ['e1']));
});

test('the request records the plan in parts, and folding the stream gives the plan back', () => {
  const events = requested({ rollout: { canary: 1 } }, eps(30));
  const parts = decide(
    { type: 'RequestCycle', kind: 'manual', policyId: 'web', requestedBy: 'a', requestedAt: NOW, notBefore: NOW, plan: planCycle({ kind: 'manual' }, snapshot({ rollout: { canary: 1 } }, [{ id: 'g', tier: 'high', members: eps(30).map((e) => e.endpointId) }], eps(30))), planHash: 'x'.repeat(64), partBudgetBytes: 1000 },
    initialState('c1'),
  ).filter((e) => e.type === 'CyclePlanPartRecorded');
  assert.ok(parts.length > 5);
  const s = foldCycle('c1', events);
  assert.deepEqual(s.waves.map((w) => w.length), [1, 29]);
  assert.equal(s.progress.size, 30);
  assert.throws(() => decide({ type: 'Pause', by: 'x', reason: 'y' }, s), { code: 'CYCLE_INVALID_TRANSITION' });
  assert.throws(() => decide({ type: 'RequestCycle', kind: 'manual', policyId: 'web', requestedBy: 'a', requestedAt: NOW, notBefore: NOW, plan: {} as never, planHash: '' }, s), { code: 'CYCLE_ALREADY_EXISTS' });
  assert.equal(evolve(initialState('c1'), events[0]!).requestedBy, 'alice');
});

test('a wave that passes after the window ended does not open the next one: the cycle pauses, and resume opens it', () => {
  const end = '2026-11-25T10:30:00.000Z';
  given(requested({ maxConcurrency: 2, rollout: { canary: 1 } }, eps(3)))
    .when({ type: 'Start', now: NOW, windowEndsAt: end })
    .then((out) => assert.deepEqual(released(out), ['e0']))
    .when({ type: 'RecordRunResult', endpointId: 'e0', outcome: 'succeeded', runEventId: 'run-e0', now: '2026-11-25T10:45:00.000Z' })
    .then((out) => assert.deepEqual(types(out), ['EndpointRunFinished', 'WaveCompleted', 'CyclePaused']))
    .when({ type: 'Resume', by: 'planner', now: '2026-11-26T10:00:00.000Z', windowEndsAt: '2026-11-26T10:30:00.000Z' })
    .then((out) => assert.deepEqual(types(out), ['CycleResumed', 'WaveReleased', 'EndpointReleased', 'EndpointReleased']));
});
