import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflowStepSchema, type RecordedEvent, type RunPlan, type WorkflowStepInput } from '@patchbay/contracts';
import { decideNext, foldRun, retryDelayMs, willRetry, type DecideContext, type NextAction } from './run-state.js';

const step = (s: WorkflowStepInput) => workflowStepSchema.parse(s);

const STEPS = [
  { phase: 'pre' as const, step: step({ id: 'disk', type: 'check-disk', params: { minFreeMb: 100 } }) },
  { phase: 'pre' as const, step: step({ id: 'stop-app', type: 'stop-service', params: { service: 'app' }, compensate: ['start-app'] }) },
  { phase: 'pre' as const, step: step({ id: 'drain', type: 'drain', params: { hook: { kind: 'command', argv: ['lb', 'drain'] } }, compensate: ['rejoin'], retries: { max: 2, backoffSeconds: 1, multiplier: 2 } }) },
  { phase: 'patch' as const, step: step({ id: 'patch', type: 'patch', params: { scope: 'all' }, onFailure: 'compensate', compensate: ['rejoin', 'start-app'] }) },
  { phase: 'post' as const, step: step({ id: 'reboot', type: 'reboot', timeoutSeconds: 300, params: { mode: 'if-required', returnTimeoutSeconds: 120 } }) },
  { phase: 'post' as const, step: step({ id: 'start-app', type: 'start-service', params: { service: 'app' } }) },
  { phase: 'post' as const, step: step({ id: 'validate', type: 'validate', params: { check: { kind: 'http', url: 'http://10.0.0.5:8080/health' } }, onFailure: 'compensate', compensate: ['rejoin'] }) },
  { phase: 'post' as const, step: step({ id: 'cleanup', type: 'cleanup', params: {}, onFailure: 'continue' }) },
];

const PLAN: RunPlan = {
  wave: 0,
  ssh: { host: '10.0.0.5', port: 22, user: 'root', sudo: false },
  workflow: { workflowId: 'standard', version: 1, steps: STEPS, compensations: [step({ id: 'rejoin', type: 'rejoin', params: { hook: { kind: 'command', argv: ['lb', 'rejoin'] } } })] },
  packages: [],
  rebootPolicy: 'if-required',
  rollbackOnValidationFailure: true,
  emergency: false,
};

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const STREAM = 'run-c1.web-1';

/** A run stream from compact event descriptions: `[type, data]`. */
function stream(...events: Array<[string, Record<string, unknown>]>): RecordedEvent[] {
  return events.map(([type, data], revision) => ({
    type,
    data: { cycleId: 'c1', endpointId: 'web-1', ...data },
    metadata: { eventId: `${STREAM}:${revision}`, stream: STREAM, revision, recordedAt: new Date(T0 + revision * 1000).toISOString() } as RecordedEvent['metadata'],
    position: BigInt(revision + 1),
  }));
}

const started: [string, Record<string, unknown>] = ['RunStarted', { executorId: 'x1', releasedEventId: 'e1', plan: PLAN }];
const ok = (key: string, attempt = 1): Array<[string, Record<string, unknown>]> => [
  ['StepStarted', { stepKey: key, attempt }],
  ['StepSucceeded', { stepKey: key, attempt }],
];
const fail = (key: string, attempt: number, code: string, willRetry: boolean, retryInMs?: number): Array<[string, Record<string, unknown>]> => [
  ['StepStarted', { stepKey: key, attempt }],
  ['StepFailed', { stepKey: key, attempt, code, message: `${key} failed`, willRetry, ...(retryInMs !== undefined ? { retryInMs } : {}) }],
];
const upTo = (lastKey: string): Array<[string, Record<string, unknown>]> => {
  const out: Array<[string, Record<string, unknown>]> = [];
  for (const s of STEPS) {
    out.push(...ok(s.step.id));
    if (s.step.id === lastKey) break;
  }
  return out;
};

/** The part of an action a reader checks. */
function summary(a: NextAction): Record<string, unknown> {
  switch (a.kind) {
    case 'run-step':
      return { kind: a.kind, key: a.planned.key, attempt: a.attempt, resumed: a.resumed, ...(a.notBefore !== undefined ? { notBefore: a.notBefore - T0 } : {}) };
    case 'confirm-reboot':
      return { kind: a.kind, key: a.planned.key, attempt: a.attempt, bootIdBefore: a.bootIdBefore };
    case 'close-step':
      return { kind: a.kind, key: a.planned.key, attempt: a.attempt, code: a.code };
    case 'complete-step':
      return { kind: a.kind, key: a.planned.key, attempt: a.attempt, bootIdAfter: a.detail['bootIdAfter'] };
    case 'finish':
      return a.outcome === 'failed' ? { kind: a.kind, outcome: a.outcome, stepId: a.stepId, code: a.code, compensated: a.compensated } : { kind: a.kind, outcome: a.outcome };
    default:
      return { kind: a.kind };
  }
}

const CANCEL: DecideContext = { cancel: { reason: 'operator abort' } };

const cases: Array<{ name: string; given: RecordedEvent[]; ctx?: DecideContext; then: Record<string, unknown> }> = [
  { name: 'no stream: nothing to do (the run is not claimed)', given: [], then: { kind: 'done' } },
  { name: 'claimed: the first step, first attempt', given: stream(started), then: { kind: 'run-step', key: 'disk', attempt: 1, resumed: false } },
  { name: 'after a success: the next step', given: stream(started, ...ok('disk')), then: { kind: 'run-step', key: 'stop-app', attempt: 1, resumed: false } },
  { name: 'every step done: the run succeeded', given: stream(started, ...upTo('cleanup')), then: { kind: 'finish', outcome: 'succeeded' } },
  { name: 'a final event: done', given: stream(started, ...upTo('cleanup'), ['RunSucceeded', { durationMs: 1 }]), then: { kind: 'done' } },
  {
    name: 'crash mid-step (idempotent step): run it again as a resumed attempt',
    given: stream(started, ...ok('disk'), ['StepStarted', { stepKey: 'stop-app', attempt: 1 }]),
    then: { kind: 'run-step', key: 'stop-app', attempt: 2, resumed: true },
  },
  {
    name: 'crash mid-patch: a resumed attempt (the activity repairs dpkg first)',
    given: stream(started, ...upTo('drain'), ['StepStarted', { stepKey: 'patch', attempt: 1 }], ['PackagesRecorded', { stepKey: 'patch', attempt: 1, when: 'before', manager: 'apt', packages: { a: '1' } }]),
    then: { kind: 'run-step', key: 'patch', attempt: 2, resumed: true },
  },
  {
    name: 'crash after RebootIssued: confirm by boot id, never issue again',
    given: stream(started, ...upTo('patch'), ['StepStarted', { stepKey: 'reboot', attempt: 1 }], ['RebootIssued', { stepKey: 'reboot', attempt: 1, bootIdBefore: 'boot-a' }]),
    then: { kind: 'confirm-reboot', key: 'reboot', attempt: 1, bootIdBefore: 'boot-a' },
  },
  {
    name: 'crash after RebootConfirmed: record the success, no second reboot',
    given: stream(started, ...upTo('patch'), ['StepStarted', { stepKey: 'reboot', attempt: 1 }], ['RebootIssued', { stepKey: 'reboot', attempt: 1, bootIdBefore: 'boot-a' }], ['RebootConfirmed', { stepKey: 'reboot', attempt: 1, bootIdBefore: 'boot-a', bootIdAfter: 'boot-b' }]),
    then: { kind: 'complete-step', key: 'reboot', attempt: 1, bootIdAfter: 'boot-b' },
  },
  {
    name: 'crash before RebootIssued: the reboot was never sent, so the step runs again',
    given: stream(started, ...upTo('patch'), ['StepStarted', { stepKey: 'reboot', attempt: 1 }]),
    then: { kind: 'run-step', key: 'reboot', attempt: 2, resumed: true },
  },
  {
    name: 'a second reboot in one workflow is its own step: an earlier confirmed reboot does not confirm it',
    given: stream(started, ...upTo('reboot')),
    then: { kind: 'run-step', key: 'start-app', attempt: 1, resumed: false },
  },
  {
    name: 'a failure with retries left: the next attempt after the backoff',
    given: stream(started, ...upTo('stop-app'), ...fail('drain', 1, 'HOOK_FAILED', true, 1000)),
    then: { kind: 'run-step', key: 'drain', attempt: 2, resumed: false, notBefore: 6000 + 1000 },
  },
  {
    name: 'stop-endpoint: the run fails with the step code, nothing compensated',
    given: stream(started, ...fail('disk', 1, 'DISK_LOW', false)),
    then: { kind: 'finish', outcome: 'failed', stepId: 'disk', code: 'DISK_LOW', compensated: false },
  },
  {
    name: 'continue: a failed cleanup does not fail the run',
    given: stream(started, ...upTo('validate'), ...fail('cleanup', 1, 'COMMAND_FAILED', false)),
    then: { kind: 'finish', outcome: 'succeeded' },
  },
  {
    name: 'compensate: the failed step\'s compensations run in order (first rejoin)',
    given: stream(started, ...upTo('drain'), ...fail('patch', 1, 'PATCH_FAILED', false)),
    then: { kind: 'run-step', key: 'compensate.rejoin', attempt: 1, resumed: false },
  },
  {
    name: 'compensate: then start-app (a workflow step reused as compensation)',
    given: stream(started, ...upTo('drain'), ...fail('patch', 1, 'PATCH_FAILED', false), ...ok('compensate.rejoin')),
    then: { kind: 'run-step', key: 'compensate.start-app', attempt: 1, resumed: false },
  },
  {
    name: 'compensate: all compensations done, the run fails compensated',
    given: stream(started, ...upTo('drain'), ...fail('patch', 1, 'PATCH_FAILED', false), ...ok('compensate.rejoin'), ...ok('compensate.start-app')),
    then: { kind: 'finish', outcome: 'failed', stepId: 'patch', code: 'PATCH_FAILED', compensated: true },
  },
  {
    name: 'a failed compensation is recorded and the others still run; the run is not compensated',
    given: stream(started, ...upTo('drain'), ...fail('patch', 1, 'PATCH_FAILED', false), ...fail('compensate.rejoin', 1, 'HOOK_FAILED', false), ...ok('compensate.start-app')),
    then: { kind: 'finish', outcome: 'failed', stepId: 'patch', code: 'PATCH_FAILED', compensated: false },
  },
  {
    name: 'validation fails after the patch with rollback on: packages are restored first',
    given: stream(started, ['PackagesRecorded', { stepKey: 'patch', attempt: 1, when: 'before', manager: 'apt', packages: { a: '1' } }], ...upTo('start-app'), ...fail('validate', 1, 'CHECK_FAILED', false)),
    then: { kind: 'run-step', key: 'rollback.packages', attempt: 1, resumed: false },
  },
  {
    name: 'rollback: then validation runs again',
    given: stream(started, ['PackagesRecorded', { stepKey: 'patch', attempt: 1, when: 'before', manager: 'apt', packages: { a: '1' } }], ...upTo('start-app'), ...fail('validate', 1, 'CHECK_FAILED', false), ...ok('rollback.packages')),
    then: { kind: 'run-step', key: 'rollback.validate', attempt: 1, resumed: false },
  },
  {
    name: 'rollback done and validated: then the validate step\'s compensations, and the run fails as rolled back',
    given: stream(started, ['PackagesRecorded', { stepKey: 'patch', attempt: 1, when: 'before', manager: 'apt', packages: { a: '1' } }], ...upTo('start-app'), ...fail('validate', 1, 'CHECK_FAILED', false), ...ok('rollback.packages'), ...ok('rollback.validate'), ...ok('compensate.rejoin')),
    then: { kind: 'finish', outcome: 'failed', stepId: 'validate', code: 'VALIDATION_FAILED_ROLLED_BACK', compensated: true },
  },
  {
    name: 'rollback that does not validate: ROLLBACK_FAILED',
    given: stream(started, ['PackagesRecorded', { stepKey: 'patch', attempt: 1, when: 'before', manager: 'apt', packages: { a: '1' } }], ...upTo('start-app'), ...fail('validate', 1, 'CHECK_FAILED', false), ...ok('rollback.packages'), ...fail('rollback.validate', 1, 'CHECK_FAILED', false), ...ok('compensate.rejoin')),
    then: { kind: 'finish', outcome: 'failed', stepId: 'validate', code: 'ROLLBACK_FAILED', compensated: false },
  },
  { name: 'aborted before any step: cancelled, nothing to undo', given: stream(started), ctx: CANCEL, then: { kind: 'finish', outcome: 'cancelled' } },
  {
    name: 'aborted after stop-app: its compensation (start-app) runs',
    given: stream(started, ...upTo('stop-app')),
    ctx: CANCEL,
    then: { kind: 'run-step', key: 'compensate.start-app', attempt: 1, resumed: false },
  },
  {
    name: 'aborted with drain open: the open step is closed as cancelled first',
    given: stream(started, ...upTo('stop-app'), ['StepStarted', { stepKey: 'drain', attempt: 1 }]),
    ctx: CANCEL,
    then: { kind: 'close-step', key: 'drain', attempt: 1, code: 'CANCELLED' },
  },
  {
    name: 'after the cancelled step: compensations newest first (rejoin for drain, then start-app)',
    given: stream(started, ...upTo('stop-app'), ...fail('drain', 1, 'CANCELLED', false)),
    ctx: CANCEL,
    then: { kind: 'run-step', key: 'compensate.rejoin', attempt: 1, resumed: false },
  },
  {
    name: 'compensations of an abort done: the run is cancelled',
    given: stream(started, ...upTo('stop-app'), ...fail('drain', 1, 'CANCELLED', false), ...ok('compensate.rejoin'), ...ok('compensate.start-app')),
    ctx: CANCEL,
    then: { kind: 'finish', outcome: 'cancelled' },
  },
  {
    name: 'aborted during a reboot: the reboot step is closed, not re-issued',
    given: stream(started, ...upTo('patch'), ['StepStarted', { stepKey: 'reboot', attempt: 1 }], ['RebootIssued', { stepKey: 'reboot', attempt: 1, bootIdBefore: 'boot-a' }]),
    ctx: CANCEL,
    then: { kind: 'close-step', key: 'reboot', attempt: 1, code: 'CANCELLED' },
  },
];

describe('run decider: given a run stream, the next action', () => {
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(summary(decideNext(foldRun(c.given), c.ctx ?? {})), c.then);
    });
  }

  it('a run owned by a resumed executor records the new owner', () => {
    const s = foldRun(stream(started, ['RunResumed', { executorId: 'x2', fromRevision: 0 }]));
    assert.equal(s.executorId, 'x2');
    assert.equal(s.status, 'running');
  });
});

describe('retry policy', () => {
  const s = step({ id: 'x', type: 'custom', params: { argv: ['true'] }, retries: { max: 2, backoffSeconds: 2, multiplier: 3 } });
  it('backs off by the multiplier', () => {
    assert.deepEqual([1, 2, 3].map((n) => retryDelayMs(s, n)), [2000, 6000, 18000]);
  });
  it('retries up to max, never a reboot timeout or a cancellation', () => {
    assert.equal(willRetry(s, 0, 'COMMAND_FAILED'), true);
    assert.equal(willRetry(s, 1, 'COMMAND_FAILED'), true);
    assert.equal(willRetry(s, 2, 'COMMAND_FAILED'), false);
    assert.equal(willRetry(s, 0, 'REBOOT_TIMEOUT'), false);
    assert.equal(willRetry(s, 0, 'CANCELLED'), false);
  });
});
