import type { RecordedEvent, RunPlan, StepPhase, WorkflowStep } from '@patchbay/contracts';

/**
 * The endpoint run as a pure decider: `evolve` folds the run stream's events into a state, and
 * `decideNext` says what the executor does next. It is the same function for a fresh run and a
 * run resumed after a crash, so a resumed run makes exactly the decisions the log allows:
 * idempotent steps run again, a reboot already issued is only confirmed (never issued again for
 * the same boot), an interrupted patch is repaired before it runs again.
 */

/** One step as the run sees it: a workflow step, or a compensation / rollback step of the failure paths. */
export interface PlannedStep {
  /** Unique within the run: the step id, `compensate.<id>` or `rollback.<what>`. */
  key: string;
  phase: StepPhase;
  step: WorkflowStep;
}

/** Where a step stands after the events of its last attempt. */
export type StepStatus = 'started' | 'succeeded' | 'failed' | 'skipped';

/** One step's history as the decider needs it. */
export interface StepRecord {
  lastAttempt: number;
  status: StepStatus;
  /** Attempts that ended in StepFailed (interrupted attempts do not count against retries). */
  failures: number;
  failure?: { code: string; message: string; willRetry: boolean; retryAt?: number };
  /** RebootIssued of the last attempt, if any. */
  rebootIssued?: { attempt: number; bootIdBefore: string; at: number };
  rebootConfirmed?: { attempt: number; bootIdAfter: string };
  detail?: Record<string, unknown>;
}

/** The run folded from its stream. */
export interface RunState {
  status: 'unclaimed' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  cycleId?: string;
  endpointId?: string;
  /** The executor that owns the run now (RunStarted, then the last RunResumed). */
  executorId?: string;
  plan?: RunPlan;
  startedAt?: number;
  steps: Record<string, StepRecord>;
  packages: { manager?: string; before?: Record<string, string>; after?: Record<string, string>; afterRollback?: Record<string, string> };
  /** Revision of the last event (-1: no stream). */
  revision: number;
}

/** The state of a stream that does not exist yet. */
export function initialRunState(): RunState {
  return { status: 'unclaimed', steps: {}, packages: {}, revision: -1 };
}

const at = (e: RecordedEvent): number => Date.parse(e.metadata.recordedAt);

/** The fields `evolve` reads, across the run events (validated when they were appended). */
interface RunEventFields {
  cycleId: string;
  endpointId: string;
  executorId: string;
  plan: RunPlan;
  stepKey: string;
  attempt: number;
  detail: Record<string, unknown>;
  code: string;
  message: string;
  willRetry: boolean;
  retryInMs?: number;
  bootIdBefore: string;
  bootIdAfter: string;
  when: 'before' | 'after' | 'after-rollback';
  manager: string;
  packages: Record<string, string>;
}

/** Applies one stored event. Unknown event types are ignored (newer writers may add some). */
export function evolve(state: RunState, event: RecordedEvent): RunState {
  const s: RunState = { ...state, steps: { ...state.steps }, packages: { ...state.packages }, revision: event.metadata.revision };
  const d = event.data as RunEventFields;
  const step = (key: string): StepRecord => (s.steps[key] = { ...(s.steps[key] ?? { lastAttempt: 0, status: 'started', failures: 0 }) });
  switch (event.type) {
    case 'RunStarted':
      s.status = 'running';
      s.cycleId = d.cycleId;
      s.endpointId = d.endpointId;
      s.executorId = d.executorId;
      s.plan = d.plan as RunPlan;
      s.startedAt = at(event);
      break;
    case 'RunResumed':
      s.executorId = d.executorId;
      break;
    case 'StepStarted': {
      const r = step(d.stepKey);
      r.lastAttempt = d.attempt;
      r.status = 'started';
      delete r.failure;
      break;
    }
    case 'StepSucceeded': {
      const r = step(d.stepKey);
      r.status = 'succeeded';
      r.detail = d.detail;
      break;
    }
    case 'StepFailed': {
      const r = step(d.stepKey);
      r.status = 'failed';
      r.failures += 1;
      r.failure = { code: d.code, message: d.message, willRetry: d.willRetry, ...(d.willRetry ? { retryAt: at(event) + (d.retryInMs ?? 0) } : {}) };
      break;
    }
    case 'StepSkipped': {
      const r = step(d.stepKey);
      r.lastAttempt = Math.max(r.lastAttempt, d.attempt);
      r.status = 'skipped';
      break;
    }
    case 'RebootIssued':
      step(d.stepKey).rebootIssued = { attempt: d.attempt, bootIdBefore: d.bootIdBefore, at: at(event) };
      break;
    case 'RebootConfirmed':
      step(d.stepKey).rebootConfirmed = { attempt: d.attempt, bootIdAfter: d.bootIdAfter };
      break;
    case 'PackagesRecorded':
      s.packages.manager = d.manager;
      if (d.when === 'before') s.packages.before = d.packages;
      else if (d.when === 'after') s.packages.after = d.packages;
      else s.packages.afterRollback = d.packages;
      break;
    case 'RunSucceeded':
      s.status = 'succeeded';
      break;
    case 'RunFailed':
      s.status = 'failed';
      break;
    case 'RunCancelled':
      s.status = 'cancelled';
      break;
    default:
      break;
  }
  return s;
}

/** Folds a whole stream. */
export function foldRun(events: readonly RecordedEvent[]): RunState {
  return events.reduce(evolve, initialRunState());
}

/** What the executor does next. */
export type NextAction =
  | { kind: 'done' }
  /** Run (or retry, or re-run after a crash) one step. `notBefore`: epoch ms of a retry's backoff. */
  | { kind: 'run-step'; planned: PlannedStep; attempt: number; resumed: boolean; notBefore?: number }
  /** A reboot was issued and the run stopped before its confirmation: confirm by boot id, never re-issue. */
  | { kind: 'confirm-reboot'; planned: PlannedStep; attempt: number; bootIdBefore: string; issuedAt: number }
  /** A cancelled run left a step open (the executor died while stopping it): close it as cancelled. */
  | { kind: 'close-step'; planned: PlannedStep; attempt: number; code: 'CANCELLED'; message: string }
  /** A reboot was confirmed but the run stopped before the step's own outcome: record it, do not reboot again. */
  | { kind: 'complete-step'; planned: PlannedStep; attempt: number; detail: Record<string, unknown> }
  | { kind: 'finish'; outcome: 'succeeded' }
  | { kind: 'finish'; outcome: 'failed'; stepKey: string; stepId: string; code: string; message: string; compensated: boolean }
  | { kind: 'finish'; outcome: 'cancelled'; reason: string };

/** Context from outside the run stream: whether its cycle was aborted (read from `cycle-<id>`). */
export interface DecideContext {
  cancel?: { reason: string };
}

/** The workflow steps in run order. */
export function forwardSteps(plan: RunPlan): PlannedStep[] {
  return plan.workflow.steps.map(({ phase, step }) => ({ key: step.id, phase, step }));
}

/** Finds a compensation step by id: the compensation-only steps first, then the workflow's own steps. */
function compensationStep(plan: RunPlan, id: string): WorkflowStep | undefined {
  return plan.workflow.compensations.find((s) => s.id === id) ?? plan.workflow.steps.find((s) => s.step.id === id)?.step;
}

function compensationsFor(plan: RunPlan, ids: readonly string[]): PlannedStep[] {
  const out: PlannedStep[] = [];
  for (const id of ids) {
    const step = compensationStep(plan, id);
    if (step && !out.some((p) => p.key === `compensate.${id}`)) out.push({ key: `compensate.${id}`, phase: 'compensate', step });
  }
  return out;
}

/** The synthetic steps of a rollback after a failed validation: reinstall the recorded versions, validate again. */
export function rollbackSteps(validate: WorkflowStep): PlannedStep[] {
  const restore: WorkflowStep = {
    type: 'custom',
    id: 'rollback-packages',
    timeoutSeconds: Math.max(600, validate.timeoutSeconds),
    retries: { max: 1, backoffSeconds: 5, multiplier: 2 },
    onFailure: 'continue',
    compensate: [],
    // Placeholder argv: the executor builds the real downgrade command from the package records.
    params: { on: 'endpoint', argv: ['true'], expectExitCode: 0 },
  };
  return [
    { key: 'rollback.packages', phase: 'rollback', step: restore },
    { key: `rollback.${validate.id}`, phase: 'rollback', step: { ...validate, onFailure: 'continue' } },
  ];
}

const isFinalFailure = (r: StepRecord | undefined): boolean => r?.status === 'failed' && !r.failure?.willRetry;
const isDone = (r: StepRecord | undefined): boolean => r?.status === 'succeeded' || r?.status === 'skipped';

/**
 * What to do with one step given its record: undefined when the step is finished (succeeded,
 * skipped or failed for good).
 */
function stepAction(planned: PlannedStep, r: StepRecord | undefined, cancelling: boolean): NextAction | undefined {
  if (!r) return { kind: 'run-step', planned, attempt: 1, resumed: false };
  if (r.status === 'started') {
    // The run stopped while this step was open (a crash): the log decides how to go on.
    if (r.rebootConfirmed && r.rebootConfirmed.attempt === r.lastAttempt) {
      return { kind: 'complete-step', planned, attempt: r.lastAttempt, detail: { bootIdBefore: r.rebootIssued?.bootIdBefore, bootIdAfter: r.rebootConfirmed.bootIdAfter, resumed: true } };
    }
    if (r.rebootIssued && r.rebootIssued.attempt === r.lastAttempt && !(r.rebootConfirmed && r.rebootConfirmed.attempt === r.lastAttempt)) {
      if (cancelling) return { kind: 'close-step', planned, attempt: r.lastAttempt, code: 'CANCELLED', message: 'cycle aborted while the endpoint was rebooting' };
      return { kind: 'confirm-reboot', planned, attempt: r.lastAttempt, bootIdBefore: r.rebootIssued.bootIdBefore, issuedAt: r.rebootIssued.at };
    }
    if (cancelling) return { kind: 'close-step', planned, attempt: r.lastAttempt, code: 'CANCELLED', message: 'cycle aborted while the step was running' };
    return { kind: 'run-step', planned, attempt: r.lastAttempt + 1, resumed: true };
  }
  if (r.status === 'failed' && r.failure?.willRetry) {
    return { kind: 'run-step', planned, attempt: r.lastAttempt + 1, resumed: false, ...(r.failure.retryAt !== undefined ? { notBefore: r.failure.retryAt } : {}) };
  }
  return undefined;
}

/**
 * Decides the next action from the run's state. Forward steps run in order; a step that fails for
 * good applies its `onFailure` (continue, stop, or compensate); a failed validation after a
 * successful patch rolls packages back first when the plan asks for it; an aborted cycle closes
 * the open step and runs the compensations of the steps already started, newest first.
 */
export function decideNext(state: RunState, ctx: DecideContext = {}): NextAction {
  if (state.status !== 'running' || !state.plan) return { kind: 'done' };
  const plan = state.plan;
  const forward = forwardSteps(plan);
  let failure: { planned: PlannedStep; code: string; message: string } | undefined;
  let cancelling = false;
  let cancelReason = ctx.cancel?.reason;

  for (const planned of forward) {
    const r = state.steps[planned.key];
    if (isDone(r)) continue;
    if (isFinalFailure(r)) {
      if (r!.failure!.code === 'CANCELLED') {
        cancelling = true;
        cancelReason ??= r!.failure!.message;
        break;
      }
      if (planned.step.onFailure === 'continue') continue;
      failure = { planned, code: r!.failure!.code, message: r!.failure!.message };
      break;
    }
    // A cycle aborted before this step began: no more forward work (an open step is closed first).
    if (ctx.cancel && r?.status !== 'started') {
      cancelling = true;
      break;
    }
    return stepAction(planned, r, !!ctx.cancel)!;
  }

  let tail: PlannedStep[] = [];
  if (failure) {
    const failed = failure.planned.step;
    const patched = forward.some((p) => p.step.type === 'patch' && isDone(state.steps[p.key]));
    if (failed.type === 'validate' && plan.rollbackOnValidationFailure && patched && state.packages.before) tail.push(...rollbackSteps(failed));
    if (failed.onFailure === 'compensate') tail.push(...compensationsFor(plan, failed.compensate));
  } else if (cancelling) {
    const started = forward.filter((p) => state.steps[p.key] !== undefined).reverse();
    tail = compensationsFor(
      plan,
      started.flatMap((p) => p.step.compensate),
    );
  } else {
    return { kind: 'finish', outcome: 'succeeded' };
  }

  let allOk = true;
  for (const planned of tail) {
    const r = state.steps[planned.key];
    // Compensations run to their end even when the cycle is aborted meanwhile.
    const action = stepAction(planned, r, false);
    if (action) return action;
    if (!isDone(r)) allOk = false;
  }

  if (failure) {
    let code = failure.code;
    const rolledBack = tail.filter((p) => p.phase === 'rollback');
    if (rolledBack.length > 0) code = rolledBack.every((p) => isDone(state.steps[p.key])) ? 'VALIDATION_FAILED_ROLLED_BACK' : 'ROLLBACK_FAILED';
    return {
      kind: 'finish',
      outcome: 'failed',
      stepKey: failure.planned.key,
      stepId: failure.planned.step.id,
      code,
      message: failure.message,
      compensated: tail.length > 0 && allOk,
    };
  }
  return { kind: 'finish', outcome: 'cancelled', reason: cancelReason ?? 'cancelled' };
}

/** Backoff before attempt `attempt + 1` after `failures` failed attempts (ms). */
export function retryDelayMs(step: WorkflowStep, failures: number): number {
  const { backoffSeconds, multiplier } = step.retries;
  return Math.round(backoffSeconds * 1000 * Math.pow(multiplier, Math.max(0, failures - 1)));
}

/** Whether a failure that has just happened gets another attempt. */
export function willRetry(step: WorkflowStep, failuresSoFar: number, code: string): boolean {
  // A reboot that was issued and did not come back is never retried: retrying would reboot again.
  if (code === 'REBOOT_TIMEOUT' || code === 'CANCELLED') return false;
  return failuresSoFar < step.retries.max;
}
