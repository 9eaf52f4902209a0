import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeFor } from './client/graphql.js';
import { applyProgressEvent, initialProgress, renderProgress, type ProgressEvent } from './client/progress.js';
import { recordedHaltingCycle } from './client/recorded-cycle.js';

const asEvents = (cycleId: string): ProgressEvent[] =>
  recordedHaltingCycle(cycleId).map((s, i) => ({ eventId: `e-${i}`, type: s.type, stream: s.stream === 'cycle' ? `cycle-${cycleId}` : `run-${cycleId}.${s.stream}`, recordedAt: new Date(Date.UTC(2026, 10, 25, 10, 0, i)).toISOString(), data: s.data }));

describe('live cycle view (renderer fed with a recorded event sequence)', () => {
  it('mid-cycle: the wave, endpoints by state with their current step', () => {
    const events = asEvents('c-1');
    const mid = events.slice(0, 10).reduce(applyProgressEvent, initialProgress('c-1'));
    const text = renderProgress(mid);
    assert.match(text, /cycle c-1 {2}status: running {2}policy: cli-policy/);
    assert.match(text, /wave 0 canary: released {2}0\/2 ok, 2 running, 0 failed/);
    assert.match(text, /running \(2\)\n {4}web-1 \[wave 0\] {2}step: patch\n {4}db-1 \[wave 0\] {2}step: validate/);
    assert.doesNotMatch(text, /failures/);
  });

  it('at the end: halted with its code, the failure with the tail of its output', () => {
    const end = asEvents('c-1').reduce(applyProgressEvent, initialProgress('c-1'));
    assert.equal(end.cycle.status, 'halted');
    const text = renderProgress(end);
    assert.match(text, /status: halted .*halt: ERROR_THRESHOLD_REACHED/);
    assert.match(text, /wave 0 canary: completed {2}1\/2 ok, 0 running, 1 failed/);
    assert.match(text, /succeeded \(1\)\n {4}web-1/);
    assert.match(text, /failed \(1\)\n {4}db-1 \[wave 0\] {2}step: validate {2}CHECK_FAILED/);
    assert.match(text, /failures\n {4}db-1 validate: CHECK_FAILED health check answered 503\n {6}\| line 1\n {6}\| line 2\n {6}\| curl: \(22\) The requested URL returned error: 503/);
  });

  it('an event type the view does not know changes nothing and does not throw', () => {
    const before = asEvents('c-2').slice(0, 5).reduce(applyProgressEvent, initialProgress('c-2'));
    const after = applyProgressEvent(before, { eventId: 'x', type: 'CycleArchivedByFutureVersion', stream: 'cycle-c-2', recordedAt: new Date().toISOString(), data: null });
    assert.equal(renderProgress(after), renderProgress(before));
  });
});

describe('exit codes', () => {
  it('map the gateway codes to 1..5', () => {
    const cases: Array<[string | undefined, number]> = [
      ['VALIDATION_FAILED', 2],
      ['INVENTORY_PARSE_ERROR', 2],
      ['BUNDLE_INVALID', 2],
      ['INVALID_LABEL', 2],
      ['INVENTORY_DUPLICATE_HOST', 2],
      ['PLANNER_INVALID_ADVISORY', 2],
      ['COMMANDER_MISSING_ARGUMENT', 2],
      ['UNAUTHENTICATED', 3],
      ['FORBIDDEN', 3],
      ['NOT_FOUND', 4],
      ['PLANNER_UNKNOWN_POLICY', 4],
      ['GATEWAY_UNREACHABLE', 5],
      ['PLANNER_EMPTY_TARGET', 1],
      ['CYCLE_NOT_COMPLETED', 1],
      ['INTERNAL', 1],
      [undefined, 1],
    ];
    for (const [code, exit] of cases) assert.equal(exitCodeFor(code), exit, String(code));
    assert.equal(exitCodeFor('SOME_SERVICE_REFUSAL', { issues: [{ line: 3 }] }), 2, 'issues of the input');
    assert.equal(exitCodeFor('SOME_SERVICE_REFUSAL', { reason: 'x' }), 1);
  });
});
