import { createHash } from 'node:crypto';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { z } from 'zod';
import {
  approveCycleCommandSchema,
  commandSubject,
  cycleReasonCommandSchema,
  cycleRefCommandSchema,
  emergencyCycleCommandSchema,
  emergencySpecSchema,
  eventSubject,
  PatchbayError,
  previewCycleCommandSchema,
  requestCycleCommandSchema,
  ValidationError,
  type CommandEnvelope,
  type CyclePlan,
  type CyclePreviewReply,
  type CycleSummary,
  type EmergencySpec,
  type RecordedEvent,
} from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import type { EventConsumer, NatsBus } from '@patchbay/messaging';
import { CycleRepository, type LoadedCycle } from './cycle-repository.js';
import { type CycleState } from './domain/cycle.js';
import { CycleNotFoundError, InvalidAdvisoryError, NothingToInstallError, UnknownPolicyError } from './domain/errors.js';
import { planCycle, planHash, plannedCount, printPlan } from './domain/plan.js';
import { cyclesToStart, type QueuedCycle } from './domain/queue.js';
import type { PlanRequest } from './domain/snapshot.js';
import { PlanningInputs } from './inputs.js';
import { openWindow, type WindowOccurrence } from './windows.js';

/** The run events supervision consumes (final events of `run-<cycle>.<endpoint>`). */
export const RUN_RESULT_SUBJECTS = ['RunSucceeded', 'RunFailed', 'RunCancelled'].map((t) => eventSubject('run', t));
/** Durable JetStream consumer of run results. */
export const RUN_RESULTS_DURABLE = 'planner_run_results';

/** A resume outside the maintenance windows of the cycle's policy. */
export class CycleOutsideWindowError extends PatchbayError {
  constructor(cycleId: string) {
    super('CYCLE_OUTSIDE_WINDOW', `cycle "${cycleId}" can only resume inside a maintenance window of its policy`, { cycleId });
  }
}

export interface PlannerOptions {
  /** Cycles running or paused at once; the rest wait in the queue (emergencies first). Default 1. */
  maxActiveCycles?: number;
  /** How often the queue, the windows and the schedule are checked. Default 1000 ms. */
  tickMs?: number;
  /** The clock (tests move it). */
  now?: () => Date;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/** Summarises a cycle state for replies. */
export function summarize(s: CycleState): CycleSummary {
  let released = 0;
  for (const p of s.progress.values()) if (p.released) released++;
  return {
    cycleId: s.cycleId,
    status: s.status,
    ...(s.kind ? { kind: s.kind } : {}),
    ...(s.policyId ? { policyId: s.policyId } : {}),
    ...(s.requestedBy ? { requestedBy: s.requestedBy } : {}),
    ...(s.planHash ? { planHash: s.planHash } : {}),
    ...(s.emergency ? { emergency: s.emergency.advisoryId } : {}),
    currentWave: s.currentWave,
    waves: s.waves.length,
    endpoints: s.progress.size,
    skipped: s.skipped.length,
    released,
    inFlight: s.inFlight,
    succeeded: s.succeeded,
    failed: s.failed,
    approvedBy: [...s.approvedBy],
    ...(s.haltReason ? { haltReason: s.haltReason } : {}),
  };
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return r.data;
}

function parseEmergency(value: unknown): EmergencySpec {
  const r = emergencySpecSchema.safeParse(value);
  if (r.success) return r.data;
  const advisory = r.error.issues.find((i) => i.path[0] === 'advisoryId');
  if (advisory) throw new InvalidAdvisoryError((value as { advisoryId?: unknown } | undefined)?.advisoryId, `invalid advisory id: ${advisory.message}`);
  throw new ValidationError(`invalid emergency: ${z.prettifyError(r.error)}`, { issues: r.error.issues });
}

const tracer = trace.getTracer('@patchbay/planner');
const derivedId = (prefix: string, commandId: string) => `${prefix}-${createHash('sha256').update(commandId).digest('hex').slice(0, 16)}`;
const DAY_MS = 86_400_000;
const OPEN_STATUSES: readonly CycleState['status'][] = ['awaiting-approval', 'queued', 'running', 'paused'];

/**
 * The planner at its edges: commands in, plans from a snapshot of the planning inputs, cycle
 * decisions appended to `cycle-<id>`, run results from JetStream, and a tick that starts queued
 * cycles, resumes cycles paused by a closed window and requests scheduled cycles when a window opens.
 */
export class Planner {
  readonly inputs: PlanningInputs;
  readonly cycles: CycleRepository;
  private consumer: EventConsumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private readonly attemptedSchedules = new Set<string>();
  private readonly now: () => Date;
  private readonly maxActive: number;
  private stopped = false;

  constructor(
    private readonly store: EventStore,
    private readonly bus: NatsBus,
    private readonly options: PlannerOptions = {},
  ) {
    this.inputs = new PlanningInputs(store);
    this.now = options.now ?? (() => new Date());
    this.cycles = new CycleRepository(store, this.now);
    this.maxActive = options.maxActiveCycles ?? 1;
  }

  private log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, message, fields);
  }

  /** Loads inputs and cycles, starts consuming run results and ticking. */
  async start(): Promise<void> {
    await this.inputs.refresh();
    await this.cycles.loadAll();
    // A short ack wait: a result handed to the pull of a planner that just stopped comes back in
    // seconds rather than the default 30 s; a redelivery is harmless (results are applied once).
    // Run results commute (each is counted once per cycle, idempotent by its command id), so the
    // server may keep 256 in flight: no round trip per event, and on nats-server before 2.10 (every
    // event delivered, the others acknowledged here) the skipped ones are acknowledged together.
    // A result whose handling fails is retried after the ones behind it.
    this.consumer = await this.bus.consume(RUN_RESULTS_DURABLE, RUN_RESULT_SUBJECTS, (event) => this.onRunResult(event), { maxDeliver: 10, ackWaitMs: 5000, maxAckPending: 256 });
    this.timer = setInterval(() => void this.kick(), this.options.tickMs ?? 1000);
    await this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.consumer?.stop();
    await this.ticking;
  }

  /** Runs one tick now (queued after any tick in progress). */
  kick(): Promise<void> {
    this.ticking = this.ticking.then(() => (this.stopped ? undefined : this.tick())).catch((err: unknown) => this.log('error', 'planner tick failed', { err: (err as Error).message }));
    return this.ticking;
  }

  private windowFor(s: CycleState, at: Date): { open: boolean; window?: WindowOccurrence } {
    if (s.emergency?.skipWindow) return { open: true };
    const windows = this.inputs.policy(s.policyId ?? '')?.definition.windows ?? [];
    if (windows.length === 0) return { open: true };
    const w = openWindow(windows, at);
    return w ? { open: true, window: w } : { open: false };
  }

  private async tick(): Promise<void> {
    await this.inputs.refresh();
    const now = this.now();
    const iso = now.toISOString();
    await this.requestScheduled(now);
    const all = this.cycles.all().map((c) => c.state);
    const queued: QueuedCycle[] = all.map((s) => ({
      cycleId: s.cycleId,
      status: s.status,
      emergency: s.kind === 'emergency',
      inFlight: s.inFlight,
      requestedAt: s.requestedAt ?? iso,
      notBefore: s.notBefore ?? iso,
      windowOpen: s.status === 'queued' ? this.windowFor(s, now).open : true,
    }));
    for (const cycleId of cyclesToStart(queued, iso, this.maxActive)) {
      const s = all.find((c) => c.cycleId === cycleId)!;
      const w = this.windowFor(s, now).window;
      await this.cycles.execute(cycleId, { commandId: `start:${cycleId}`, actor: 'planner' }, { type: 'Start', now: iso, ...(w ? { windowEndsAt: w.end.toISOString() } : {}) });
      this.log('info', 'cycle started', { cycleId });
    }
    for (const s of all.filter((c) => c.status === 'paused' && c.pausedForWindow)) {
      const w = this.windowFor(s, now);
      if (!w.open) continue;
      const commandId = `window-resume:${s.cycleId}:${w.window?.start.toISOString() ?? iso}`;
      await this.cycles.execute(s.cycleId, { commandId, actor: 'planner' }, { type: 'Resume', by: 'planner', now: iso, ...(w.window ? { windowEndsAt: w.window.end.toISOString() } : {}) });
    }
  }

  /** A scheduled cycle for each policy whose window is open now (one per window occurrence, by id). */
  private async requestScheduled(now: Date): Promise<void> {
    for (const [policyId, p] of this.inputs.policies) {
      if (p.definition.windows.length === 0) continue;
      const w = openWindow(p.definition.windows, now);
      if (!w) continue;
      const cycleId = `sched-${policyId}-${w.start.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
      if (this.attemptedSchedules.has(cycleId)) continue;
      this.attemptedSchedules.add(cycleId);
      // One scheduled cycle of a policy at a time: a window opening while the last one is still
      // waiting or running does not pile up another.
      const open = this.cycles.all().find((c) => c.state.policyId === policyId && c.state.kind === 'scheduled' && OPEN_STATUSES.includes(c.state.status));
      if (open) {
        this.log('info', 'window opened while a scheduled cycle of the policy is still open', { policyId, cycleId: open.state.cycleId });
        continue;
      }
      if ((await this.cycles.load(cycleId)).revision >= 0) continue;
      try {
        await this.createCycle({ commandId: `schedule:${cycleId}`, actor: 'scheduler', payload: {} }, cycleId, policyId, { kind: 'scheduled' }, now, { index: w.index, start: w.start.toISOString(), end: w.end.toISOString() });
        this.log('info', 'scheduled cycle requested', { cycleId, policyId });
      } catch (err) {
        this.log('warn', 'scheduled cycle not requested', { cycleId, policyId, code: (err as PatchbayError).code, err: (err as Error).message });
      }
    }
  }

  private async onRunResult(event: RecordedEvent): Promise<void> {
    const d = event.data as { cycleId?: string; endpointId?: string; code?: string };
    if (!d.cycleId || !d.endpointId) return;
    const c = await this.cycles.load(d.cycleId);
    if (c.revision < 0) return;
    const outcome = event.type === 'RunSucceeded' ? 'succeeded' : event.type === 'RunFailed' ? 'failed' : 'cancelled';
    const r = await this.cycles.execute(
      d.cycleId,
      { commandId: `run:${event.metadata.eventId}`, actor: 'planner' },
      { type: 'RecordRunResult', endpointId: d.endpointId, outcome, ...(d.code ? { code: d.code } : {}), runEventId: event.metadata.eventId, now: this.now().toISOString() },
    );
    if (r.events.some((e) => e.type === 'CycleCompleted' || e.type === 'CycleHalted') || r.state.inFlight === 0) void this.kick();
  }

  private plan(policyId: string, request: PlanRequest): { plan: CyclePlan; hash: string } {
    return tracer.startActiveSpan('plan cycle', { attributes: { 'patchbay.policy_id': policyId, 'patchbay.cycle_kind': request.kind } }, (span) => {
      try {
        const plan = planCycle(request, this.inputs.snapshot(policyId));
        const hash = planHash(plan);
        span.setAttributes({ 'patchbay.plan_hash': hash, 'patchbay.planned_endpoints': plannedCount(plan), 'patchbay.skipped_endpoints': plan.skipped.length, 'patchbay.waves': plan.waves.length });
        return { plan, hash };
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        if (err instanceof PatchbayError) span.setAttribute('patchbay.error_code', err.code);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private async createCycle(envelope: CommandEnvelope, cycleId: string, policyId: string, request: PlanRequest, at: Date, window?: { index: number; start: string; end: string }): Promise<CycleSummary> {
    const existing = await this.cycles.load(cycleId);
    // A retried request answers with the cycle it created, whatever the inputs say now.
    if (await this.cycles.applied(cycleId, envelope.commandId)) return summarize(existing.state);
    await this.inputs.refresh();
    const { plan, hash } = this.plan(policyId, request);
    if (plannedCount(plan) === 0 && existing.revision < 0) throw new NothingToInstallError(plan.skipped.length);
    const policy = this.inputs.policy(policyId)!.definition;
    const deferDays = request.kind !== 'emergency' && policy.approval.mode === 'auto' ? policy.approval.afterDays : 0;
    const r = await this.cycles.execute(
      cycleId,
      { commandId: envelope.commandId, actor: envelope.actor },
      {
        type: 'RequestCycle',
        kind: request.kind,
        policyId,
        requestedBy: envelope.actor,
        requestedAt: at.toISOString(),
        notBefore: new Date(at.getTime() + deferDays * DAY_MS).toISOString(),
        ...(window ? { window } : {}),
        plan,
        planHash: hash,
      },
    );
    void this.kick();
    return summarize(r.state);
  }

  /** `cycle.request`: a manual cycle of a policy. */
  async request(envelope: CommandEnvelope): Promise<CycleSummary> {
    const p = parse(requestCycleCommandSchema, envelope.payload, 'cycle request');
    return this.createCycle(envelope, p.cycleId ?? derivedId('manual', envelope.commandId), p.policyId, { kind: 'manual' }, this.now());
  }

  /** `cycle.emergency`: a zero-day cycle for an advisory. */
  async emergency(envelope: CommandEnvelope): Promise<CycleSummary> {
    const p = parse(emergencyCycleCommandSchema, envelope.payload, 'emergency request');
    const emergency = parseEmergency(p.emergency);
    return this.createCycle(envelope, p.cycleId ?? derivedId('emergency', envelope.commandId), p.policyId, { kind: 'emergency', emergency }, this.now());
  }

  /** `cycle.preview`: the plan a request would make now, its hash and printed form; nothing stored. */
  async preview(envelope: CommandEnvelope): Promise<CyclePreviewReply> {
    const p = parse(previewCycleCommandSchema, envelope.payload, 'preview request');
    await this.inputs.refresh();
    if (!this.inputs.policy(p.policyId)) throw new UnknownPolicyError(p.policyId);
    const request: PlanRequest = p.emergency !== undefined ? { kind: 'emergency', emergency: parseEmergency(p.emergency) } : { kind: 'manual' };
    const { plan, hash } = this.plan(p.policyId, request);
    return { plan, planHash: hash, text: printPlan(plan, hash) };
  }

  private async existing(cycleId: string): Promise<LoadedCycle> {
    const c = await this.cycles.load(cycleId);
    if (c.revision < 0) throw new CycleNotFoundError(cycleId);
    return c;
  }

  /** `cycle.approve`: one approval by the sender. */
  async approve(envelope: CommandEnvelope): Promise<CycleSummary> {
    const p = parse(approveCycleCommandSchema, envelope.payload, 'approval');
    await this.existing(p.cycleId);
    const r = await this.cycles.execute(p.cycleId, envelope, { type: 'Approve', by: envelope.actor, ...(p.comment ? { comment: p.comment } : {}) });
    void this.kick();
    return summarize(r.state);
  }

  /** `cycle.pause`. */
  async pause(envelope: CommandEnvelope): Promise<CycleSummary> {
    const p = parse(cycleReasonCommandSchema, envelope.payload, 'pause');
    await this.existing(p.cycleId);
    return summarize((await this.cycles.execute(p.cycleId, envelope, { type: 'Pause', by: envelope.actor, reason: p.reason })).state);
  }

  /** `cycle.resume`: inside a window of the policy (or when it has none, or an emergency skips them). */
  async resume(envelope: CommandEnvelope): Promise<CycleSummary> {
    const p = parse(cycleRefCommandSchema, envelope.payload, 'resume');
    await this.existing(p.cycleId);
    await this.inputs.refresh();
    const now = this.now();
    const r = await this.cycles.execute(p.cycleId, envelope, (s) => {
      if (s.status !== 'paused') return { type: 'Resume', by: envelope.actor, now: now.toISOString() };
      const w = this.windowFor(s, now);
      if (!w.open) throw new CycleOutsideWindowError(p.cycleId);
      return { type: 'Resume', by: envelope.actor, now: now.toISOString(), ...(w.window ? { windowEndsAt: w.window.end.toISOString() } : {}) };
    });
    return summarize(r.state);
  }

  /** `cycle.abort`: appends `CycleAborted`; executors cancel what is in flight. */
  async abort(envelope: CommandEnvelope): Promise<CycleSummary> {
    const p = parse(cycleReasonCommandSchema, envelope.payload, 'abort');
    await this.existing(p.cycleId);
    const r = await this.cycles.execute(p.cycleId, envelope, { type: 'Abort', by: envelope.actor, reason: p.reason });
    void this.kick();
    return summarize(r.state);
  }

  /** `cycle.get`. */
  async get(envelope: CommandEnvelope): Promise<CycleSummary> {
    const p = parse(cycleRefCommandSchema, envelope.payload, 'cycle reference');
    return summarize((await this.existing(p.cycleId)).state);
  }

  /** `cycle.list`: every cycle this planner knows, newest request first. */
  list(): CycleSummary[] {
    return this.cycles
      .all()
      .map((c) => c.state)
      .sort((a, b) => ((a.requestedAt ?? '') < (b.requestedAt ?? '') ? 1 : -1))
      .map(summarize);
  }
}

/** Subjects of the planner's commands. */
export const plannerSubject = (name: string): string => commandSubject('planner', name);
