// The live view's store: events applied once each, over any seed, with counts that follow.
// Run: node --test gateway/console/src/pages/cycles/live.unit.spec.mjs (Node 24 strips the types).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveStore } from './live.ts';

let n = 0;
const ev = (type, data, stream = 'cycle-c1') => ({ eventId: `e${++n}`, type, stream, recordedAt: new Date(1_700_000_000_000 + n * 1000).toISOString(), data });
const run = (type, endpointId, extra = {}) => ev(type, { cycleId: 'c1', endpointId, ...extra }, `run-c1.${endpointId}`);

function seeded() {
  const s = new LiveStore('c1');
  s.seed({ status: 'approved' }, [{ index: 0, name: 'canary', size: 1, state: 'planned' }, { index: 1, name: 'wave-1', size: 2, state: 'planned' }], [
    { endpointId: 'a', wave: 0, status: 'planned' },
    { endpointId: 'b', wave: 1, status: 'planned' },
    { endpointId: 'c', wave: 1, status: 'planned' },
  ]);
  return s;
}

test('a run moves its endpoint through the states; counts per state and per wave follow', () => {
  const s = seeded();
  s.apply(ev('CycleStarted', { cycleId: 'c1' }));
  s.apply(ev('EndpointReleased', { cycleId: 'c1', endpointId: 'b', wave: 1 }));
  assert.equal(s.get('b').state, 'released');
  s.apply(run('RunStarted', 'b'));
  s.apply(run('StepStarted', 'b', { stepKey: 'patch', stepId: 'patch', attempt: 1, type: 'patch', phase: 'patch' }));
  assert.deepEqual([s.get('b').state, s.get('b').step, s.get('b').stepStatus], ['running', 'patch', 'running']);
  assert.equal(s.waves[1].counts.running, 1);
  assert.equal(s.waves[1].counts.planned, 1);
  s.apply(run('RunSucceeded', 'b', { durationMs: 10 }));
  assert.equal(s.get('b').state, 'succeeded');
  assert.deepEqual(s.counts(), { running: 0, released: 0, planned: 2, failed: 0, succeeded: 1, cancelled: 0 });
  assert.deepEqual({ ...s.waves[1].counts }, { running: 0, released: 0, planned: 1, failed: 0, succeeded: 1, cancelled: 0 });
  assert.equal(s.header.status, 'running');
  assert.deepEqual(s.page('succeeded', 0, 10), { ids: ['b'], total: 1 });
  assert.deepEqual(s.page('all', 1, 1), { ids: ['b'], total: 3 });
});

test('an event is applied once, and a late step event does not reopen a finished endpoint', () => {
  const s = seeded();
  const started = run('StepStarted', 'a', { stepKey: 'disk', stepId: 'disk', attempt: 1 });
  s.apply(started);
  s.apply(run('RunFailed', 'a', { stepId: 'disk', code: 'DISK_LOW', message: 'only 10 MB', durationMs: 5 }));
  s.apply(started);
  s.apply(run('StepSucceeded', 'a', { stepKey: 'cleanup', attempt: 1 }));
  assert.equal(s.get('a').state, 'failed');
  assert.equal(s.get('a').code, 'DISK_LOW');
  assert.equal(s.counts().failed, 1);
  assert.equal(s.eventsApplied, 3);
});

test('a failed step keeps the tail of its output; a failure known from the seed is not listed twice', () => {
  const s = seeded();
  s.seedFailures([{ key: 'c:validate:1', endpointId: 'c', step: 'validate', attempt: 1, code: 'CHECK_FAILED', message: 'seeded', willRetry: false, at: '', stdoutTail: '', stderrTail: '' }]);
  s.apply(run('StepFailed', 'c', { stepKey: 'validate', attempt: 1, code: 'CHECK_FAILED', message: 'again', durationMs: 1, willRetry: false, commands: [] }));
  const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n');
  s.apply(run('StepFailed', 'b', { stepKey: 'patch', attempt: 2, code: 'STEP_FAILED', message: 'apt failed', durationMs: 1, willRetry: true, commands: [{ stdoutTail: 'ok\n', stderrTail: lines }] }));
  assert.equal(s.failureCount, 2);
  const f = s.failures.at(-1);
  assert.deepEqual([f.endpointId, f.step, f.attempt, f.willRetry, f.stdoutTail], ['b', 'patch', 2, true, 'ok']);
  assert.equal(f.stderrTail.split('\n').length, 20);
  assert.ok(f.stderrTail.endsWith('line 39'));
  assert.equal(s.get('b').stepStatus, 'retrying');
});

test('cycle events set the status and go to the timeline; a finished cycle keeps its status', () => {
  const s = seeded();
  s.apply(ev('CyclePaused', { cycleId: 'c1', by: 'op', reason: 'lunch' }));
  assert.deepEqual([s.header.status, s.header.pauseReason], ['paused', 'lunch']);
  s.apply(ev('CycleResumed', { cycleId: 'c1', by: 'op' }));
  s.apply(ev('WaveReleased', { cycleId: 'c1', wave: 0, name: 'canary', endpoints: 1 }));
  assert.equal(s.waves[0].state, 'released');
  s.apply(ev('CycleAborted', { cycleId: 'c1', by: 'op', reason: 'stop' }));
  s.apply(ev('CycleResumed', { cycleId: 'c1', by: 'op' }));
  assert.equal(s.header.status, 'aborted');
  assert.deepEqual(
    s.timeline.map((t) => t.type),
    ['CyclePaused', 'CycleResumed', 'WaveReleased', 'CycleAborted', 'CycleResumed'],
  );
});

test('events wait until the seed is in, then are applied in one batch per frame', () => {
  const frames = [];
  globalThis.requestAnimationFrame = (fn) => frames.push(fn);
  globalThis.cancelAnimationFrame = () => undefined;
  const s = new LiveStore('c1');
  let notified = 0;
  s.subscribe(() => notified++);
  s.push(run('RunStarted', 'x'));
  s.push(run('StepStarted', 'x', { stepKey: 'disk', stepId: 'disk', attempt: 1 }));
  assert.equal(frames.length, 0);
  s.seed({ status: 'running' }, [{ index: 0, name: 'w', size: 1, state: 'released' }], [{ endpointId: 'x', wave: 0, status: 'released' }]);
  s.start();
  assert.equal(frames.length, 1);
  s.push(run('RunSucceeded', 'x', { durationMs: 1 }));
  assert.equal(frames.length, 1);
  frames.shift()();
  assert.equal(notified, 1);
  assert.equal(s.version, 1);
  assert.equal(s.lastBatch.length, 3);
  assert.equal(s.get('x').state, 'succeeded');
  assert.equal(s.waves[0].counts.succeeded, 1);
  assert.equal(s.waves[0].counts.released, 0);
});

test('catching up takes what the read model shows further along, never steps back', () => {
  const s = seeded();
  s.apply(run('RunStarted', 'a'));
  s.apply(run('RunSucceeded', 'b', { durationMs: 1 }));
  const changed = s.reconcile('completed', [
    { endpointId: 'a', wave: 0, status: 'succeeded' },
    { endpointId: 'b', wave: 1, status: 'running', currentStep: 'patch' },
    { endpointId: 'c', wave: 1, status: 'failed', code: 'STEP_FAILED' },
  ]);
  assert.equal(changed, 2);
  assert.deepEqual(['a', 'b', 'c'].map((id) => s.get(id).state), ['succeeded', 'succeeded', 'failed']);
  assert.equal(s.get('c').code, 'STEP_FAILED');
  assert.deepEqual(s.counts(), { running: 0, released: 0, planned: 0, failed: 1, succeeded: 2, cancelled: 0 });
  assert.equal(s.waves[1].counts.planned, 0);
  assert.equal(s.header.status, 'completed');
  s.reconcile('running', []);
  assert.equal(s.header.status, 'completed');
});
