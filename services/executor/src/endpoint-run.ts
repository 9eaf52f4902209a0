import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  PackagesRecorded,
  PatchbayError,
  RebootConfirmed,
  RebootIssued,
  RunCancelled,
  RunFailed,
  RunResumed,
  RunSucceeded,
  StepFailed,
  StepSkipped,
  StepStarted,
  StepSucceeded,
  type EventDefinition,
  type RecordedEvent,
  type WorkflowStep,
} from '@patchbay/contracts';
import { WrongExpectedVersionError, type EventStore } from '@patchbay/event-store';
import type { RemoteExecutor, RemoteTarget } from '@patchbay/remote';
import { currentTraceparent, extractTraceContext, withSpan } from '@patchbay/telemetry';
import type { z } from 'zod';
import { CYCLE_ABORT_REASON, resumeReboot, runStep, type StepContext, type StepOutcome } from './activities/steps.js';
import { decideNext, evolve, foldRun, retryDelayMs, willRetry, type NextAction, type PlannedStep, type RunState } from './domain/run-state.js';

const TRACER = '@patchbay/executor';

/** Structured log callback (pino-shaped: fields, then message). */
export type ExecutorLog = (level: 'debug' | 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string) => void;

/** Another writer appended to a run this executor was driving: it stops driving it. */
export class RunOwnershipLostError extends PatchbayError {
  constructor(stream: string) {
    super('RUN_OWNERSHIP_LOST', `another executor wrote to ${stream}; this executor stops driving it`, { stream });
  }
}

/**
 * Event ids of a run stream: `<stream>:<step key>:<attempt>:<what>`, so a retried append is a
 * no-op. Ids longer than the store's limit are replaced by a digest of the same text.
 */
export function runEventId(stream: string, ...parts: Array<string | number>): string {
  const id = [stream, ...parts].join(':');
  return id.length <= 200 ? id : `run-sha256:${createHash('sha256').update(id).digest('hex')}`;
}

/** Why a run's controller was aborted: the cycle was aborted (record it), or this executor is shutting down (record nothing). */
export type RunAbortReason = { kind: typeof CYCLE_ABORT_REASON; reason: string } | { kind: 'shutdown' };

/** Fault injection for crash tests: SIGKILL this process right after a matching event is stored. Inert unless configured. */
export interface CrashFault {
  eventType: string;
  stepKey?: string;
  delayMs: number;
}

/** Parses `PATCHBAY_EXECUTOR_FAULT_KILL_AFTER=<EventType>[:<stepKey>[:<delayMs>]]`. */
export function parseCrashFault(value: string | undefined): CrashFault | undefined {
  if (!value) return undefined;
  const [eventType, stepKey, delay] = value.split(':');
  if (!eventType) return undefined;
  return { eventType, ...(stepKey ? { stepKey } : {}), delayMs: Number(delay ?? 0) || 0 };
}

/** What an {@link EndpointRun} uses; the executor builds it once. */
export interface EndpointRunDeps {
  store: EventStore;
  remote: RemoteExecutor;
  executorId: string;
  log: ExecutorLog;
  /** Whether the run's cycle has been aborted (read from the cycle stream by the executor). */
  cycleAborted: (cycleId: string) => { reason: string } | undefined;
  rebootPollMs: number;
  /** See {@link StepContext.rebootMarker}. */
  rebootMarker: boolean;
  crashFault?: CrashFault | undefined;
}

/**
 * Drives one endpoint run from its stream to a final event: read the log, decide, do one thing,
 * record it, repeat. Every side effect is bracketed by events stored with an expected revision;
 * if another writer gets in between, this executor stops (the other one owns the run now).
 */
export class EndpointRun {
  private state: RunState;
  /** Aborted when the cycle is aborted or the executor shuts down: stops forward steps. */
  readonly controller = new AbortController();
  /** Aborted only when the executor shuts down: compensations and rollbacks run to their end after a cycle abort. */
  private readonly shutdownController = new AbortController();

  /** Trace context of the run (from its RunStarted, which carries the release's), so a cycle stays one trace. */
  private readonly traceCarrier: Record<string, string | undefined>;

  constructor(
    private readonly deps: EndpointRunDeps,
    readonly stream: string,
    events: readonly RecordedEvent[],
  ) {
    this.state = foldRun(events);
    this.traceCarrier = { traceparent: events[0]?.metadata.traceparent, tracestate: events[0]?.metadata.tracestate };
  }

  get endpointId(): string | undefined {
    return this.state.endpointId;
  }
  get cycleId(): string | undefined {
    return this.state.cycleId;
  }
  get status(): RunState['status'] {
    return this.state.status;
  }

  /** Aborts the step in flight (cycle aborted: the run records it and compensates; shutdown: nothing is recorded). */
  abort(reason: RunAbortReason): void {
    if (reason.kind === 'shutdown' && !this.shutdownController.signal.aborted) this.shutdownController.abort(reason);
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  private get shuttingDown(): boolean {
    return this.shutdownController.signal.aborted;
  }

  private target(): RemoteTarget {
    const ssh = this.state.plan!.ssh;
    return { endpointId: this.state.endpointId!, host: ssh.host, port: ssh.port, user: ssh.user, ...(ssh.keyRef ? { keyRef: ssh.keyRef } : {}), sudo: ssh.sudo };
  }

  /** Appends one validated event at the current revision and folds it in. */
  private async record<D extends EventDefinition<string, z.ZodType>>(def: D, data: Record<string, unknown>, ...idParts: Array<string | number>): Promise<void> {
    const parsed = def.parse({ cycleId: this.state.cycleId, endpointId: this.state.endpointId, ...data });
    const eventId = runEventId(this.stream, ...idParts);
    const expected = this.state.revision < 0 ? 'no-stream' : this.state.revision;
    let result;
    for (let attempt = 0; ; attempt++) {
      try {
        result = await this.deps.store.append(
          this.stream,
          [{ eventId, type: def.type, data: parsed, schemaVersion: def.schemaVersion, correlationId: this.state.cycleId!, causationId: this.stream, actor: `executor:${this.deps.executorId}`, ...currentTraceparent() }],
          expected,
        );
        break;
      } catch (e) {
        if (e instanceof WrongExpectedVersionError || (e as PatchbayError).code === 'WRONG_EXPECTED_VERSION' || (e as PatchbayError).code === 'DUPLICATE_EVENT_ID') throw new RunOwnershipLostError(this.stream);
        // The store is busy or briefly away: the same event id makes the retry harmless.
        if (attempt >= 20) throw e;
        this.deps.log('warn', { stream: this.stream, eventId, error: (e as Error).message }, 'append failed; retrying');
        await sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
    const recorded = {
      type: def.type,
      data: parsed,
      metadata: { eventId, stream: this.stream, revision: result.nextExpectedRevision, recordedAt: new Date().toISOString() },
      position: result.position,
    } as unknown as RecordedEvent;
    this.state = evolve(this.state, recorded);
    this.maybeCrash(def.type, String(data['stepKey'] ?? ''));
  }

  private maybeCrash(type: string, stepKey: string): void {
    const f = this.deps.crashFault;
    if (!f || f.eventType !== type || (f.stepKey !== undefined && f.stepKey !== stepKey)) return;
    this.deps.log('warn', { type, stepKey, delayMs: f.delayMs }, 'fault injection: killing the executor process');
    const kill = () => process.kill(process.pid, 'SIGKILL');
    if (f.delayMs > 0) setTimeout(kill, f.delayMs);
    else kill();
  }

  /** Records that this executor picks the run up again from its log. */
  async markResumed(): Promise<void> {
    await this.record(RunResumed, { executorId: this.deps.executorId, fromRevision: this.state.revision }, 'resumed', this.state.revision + 1);
  }

  /** Runs the endpoint to a final event (or until shutdown or lost ownership). */
  async drive(): Promise<void> {
    const parent = extractTraceContext(this.traceCarrier);
    await withSpan('executor.run', () => this.loop(), { parent, tracer: TRACER, attributes: { 'patchbay.run.stream': this.stream, 'patchbay.executor.id': this.deps.executorId } });
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        if (this.shuttingDown) return;
        const cancel = this.deps.cycleAborted(this.state.cycleId!);
        const action = decideNext(this.state, cancel ? { cancel } : {});
        if (action.kind === 'done') return;
        await this.act(action);
      }
    } catch (e) {
      if (e instanceof RunOwnershipLostError) {
        this.deps.log('warn', { stream: this.stream }, e.message);
        return;
      }
      throw e;
    }
  }

  private durationMs(): number {
    return Math.max(0, Date.now() - (this.state.startedAt ?? Date.now()));
  }

  private async act(action: Exclude<NextAction, { kind: 'done' }>): Promise<void> {
    switch (action.kind) {
      case 'finish':
        if (action.outcome === 'succeeded') await this.record(RunSucceeded, { durationMs: this.durationMs() }, 'run-succeeded');
        else if (action.outcome === 'failed')
          await this.record(RunFailed, { stepId: action.stepId, code: action.code, message: action.message.slice(0, 2000), compensated: action.compensated, durationMs: this.durationMs() }, 'run-failed');
        else await this.record(RunCancelled, { reason: action.reason.slice(0, 2000), durationMs: this.durationMs() }, 'run-cancelled');
        this.deps.log('info', { stream: this.stream, outcome: action.outcome, ...(action.outcome === 'failed' ? { code: action.code } : {}) }, 'run finished');
        return;
      case 'close-step':
        await this.record(
          StepFailed,
          { stepKey: action.planned.key, attempt: action.attempt, code: action.code, message: action.message, durationMs: 0, commands: [], willRetry: false },
          action.planned.key, action.attempt, 'failed',
        );
        return;
      case 'complete-step':
        await this.record(StepSucceeded, { stepKey: action.planned.key, attempt: action.attempt, durationMs: 0, commands: [], detail: action.detail }, action.planned.key, action.attempt, 'succeeded');
        return;
      case 'run-step':
        if (action.notBefore !== undefined && action.notBefore > Date.now()) {
          try {
            await sleep(action.notBefore - Date.now(), undefined, { signal: this.controller.signal });
          } catch {
            /* aborted: the loop decides again (cancel or shutdown) */
          }
          if (this.controller.signal.aborted) {
            if (this.shuttingDown) return;
            // The cycle was aborted during the backoff: close the failed step's retry as cancelled.
            await this.record(StepSkipped, { stepKey: action.planned.key, attempt: action.attempt, stepId: action.planned.step.id, reason: 'cycle aborted before the retry' }, action.planned.key, action.attempt, 'skipped');
            return;
          }
        }
        await this.record(
          StepStarted,
          { stepKey: action.planned.key, attempt: action.attempt, stepId: action.planned.step.id, type: action.planned.step.type, phase: action.planned.phase, resumed: action.resumed },
          action.planned.key, action.attempt, 'started',
        );
        await this.runAttempt(action.planned, action.attempt, (ctx) => runStep(ctx), action.resumed);
        return;
      case 'confirm-reboot': {
        const step = action.planned.step as Extract<WorkflowStep, { type: 'reboot' }>;
        this.deps.log('info', { stream: this.stream, stepKey: action.planned.key, bootIdBefore: action.bootIdBefore }, 'resuming a reboot already issued: confirming by boot id, not issuing again');
        await this.runAttempt(action.planned, action.attempt, (ctx) => runStep(ctx, (c, track) => resumeReboot(c, track, action.bootIdBefore, action.issuedAt, step)), true);
        return;
      }
      default: {
        const never: never = action;
        throw new TypeError(`unknown action ${JSON.stringify(never)}`);
      }
    }
  }

  private async runAttempt(planned: PlannedStep, attempt: number, work: (ctx: StepContext) => Promise<StepOutcome>, resumed: boolean): Promise<void> {
    const { step, key: stepKey } = planned;
    const started = Date.now();
    const deadline = started + step.timeoutSeconds * 1000;
    const undoing = planned.phase === 'compensate' || planned.phase === 'rollback';
    const runSignal = undoing ? this.shutdownController.signal : this.controller.signal;
    // The step's own deadline, cleared when the step ends: an `AbortSignal.timeout` lives (with
    // everything its listeners hold) until it fires, minutes after the step, for every step of
    // every run (60,000 of them at 10,000 endpoints).
    const stepTimeout = new AbortController();
    const timer = setTimeout(() => stepTimeout.abort(new DOMException(`step ${stepKey} timed out`, 'TimeoutError')), step.timeoutSeconds * 1000);
    const signal = AbortSignal.any([runSignal, stepTimeout.signal]);
    const ctx: StepContext = {
      remote: this.deps.remote,
      target: this.target(),
      plan: this.state.plan!,
      // The run's state is immutable (`evolve` copies what it changes); a step may set its own
      // view's top-level fields and `packages`, so those are copied, the rest is shared (a deep
      // clone per step copied the package lists and the plan: 4 % of the executor's CPU).
      state: { ...this.state, steps: { ...this.state.steps }, packages: { ...this.state.packages } },
      planned,
      attempt,
      resumed,
      signal,
      deadline,
      rebootPollMs: this.deps.rebootPollMs,
      rebootMarker: this.deps.rebootMarker,
      emit: async (type, data, suffix) => {
        const def = type === 'RebootIssued' ? RebootIssued : type === 'RebootConfirmed' ? RebootConfirmed : PackagesRecorded;
        await this.record(def, { stepKey, attempt, ...data }, stepKey, attempt, suffix);
      },
    };
    const outcome = await withSpan(
      `executor.step ${step.type}`,
      async (span) => {
        const o = await work(ctx);
        span.setAttributes({ 'patchbay.step.outcome': o.kind, ...(o.kind === 'failed' ? { 'patchbay.step.code': o.code } : {}) });
        return o;
      },
      { tracer: TRACER, attributes: { 'patchbay.run.stream': this.stream, 'patchbay.step.key': stepKey, 'patchbay.step.attempt': attempt, 'patchbay.endpoint.id': this.state.endpointId ?? '' } },
    ).finally(() => clearTimeout(timer));
    // Shutting down: record nothing; the step is open in the log and the next start resumes it.
    if (this.shuttingDown) return;
    const durationMs = Date.now() - started;
    if (outcome.kind === 'succeeded') {
      await this.record(StepSucceeded, { stepKey, attempt, durationMs, commands: outcome.commands, detail: outcome.detail }, stepKey, attempt, 'succeeded');
    } else if (outcome.kind === 'skipped') {
      await this.record(StepSkipped, { stepKey, attempt, stepId: step.id, reason: outcome.reason }, stepKey, attempt, 'skipped');
    } else {
      const cancelled = runSignal.aborted;
      const code = cancelled ? 'CANCELLED' : outcome.code;
      const failures = (this.state.steps[stepKey]?.failures ?? 0) + 1;
      // After RebootIssued a retry could reboot again: only failures before the issue are retried.
      const issued = this.state.steps[stepKey]?.rebootIssued?.attempt === attempt;
      const retry = !cancelled && !issued && willRetry(step, failures - 1, code);
      const retryInMs = retry ? retryDelayMs(step, failures) : undefined;
      await this.record(
        StepFailed,
        { stepKey, attempt, code, message: outcome.message, durationMs, commands: outcome.commands, willRetry: retry, ...(retryInMs !== undefined ? { retryInMs } : {}) },
        stepKey, attempt, 'failed',
      );
      this.deps.log(retry ? 'warn' : 'error', { stream: this.stream, stepKey, attempt, code, message: outcome.message }, retry ? 'step failed; will retry' : 'step failed');
    }
  }
}
