import type {
  CycleKind,
  CyclePlan,
  CyclePlanHeader,
  EmergencySpec,
  EventOf,
  PlannedEndpoint,
  SkippedEndpoint,
} from '@patchbay/contracts';
import type {
  CycleAborted,
  CycleApprovalRequired,
  CycleApproved,
  CycleCompleted,
  CycleHalted,
  CyclePaused,
  CyclePlanned,
  CyclePlanPartRecorded,
  CycleRequested,
  CycleResumed,
  CycleStarted,
  EndpointReleased,
  EndpointRunFinished,
  WaveCompleted,
  WaveReleased,
} from '@patchbay/contracts';
import { AlreadyApprovedError, ApproverIsRequesterError, CycleExistsError, InvalidCycleTransitionError, NotAnApproverError } from './errors.js';
import { planHeader, plannedCount, splitPlan } from './plan.js';
import { PatchbayError } from '@patchbay/contracts';

/** Every event of a `cycle-<id>` stream. */
export type CycleEvent =
  | EventOf<typeof CycleRequested>
  | EventOf<typeof CyclePlanned>
  | EventOf<typeof CyclePlanPartRecorded>
  | EventOf<typeof CycleApprovalRequired>
  | EventOf<typeof CycleApproved>
  | EventOf<typeof CycleStarted>
  | EventOf<typeof WaveReleased>
  | EventOf<typeof EndpointReleased>
  | EventOf<typeof EndpointRunFinished>
  | EventOf<typeof WaveCompleted>
  | EventOf<typeof CycleHalted>
  | EventOf<typeof CyclePaused>
  | EventOf<typeof CycleResumed>
  | EventOf<typeof CycleAborted>
  | EventOf<typeof CycleCompleted>;

export type CycleStatus = 'new' | 'awaiting-approval' | 'queued' | 'running' | 'paused' | 'halted' | 'aborted' | 'completed';

/** Where one planned endpoint stands in the cycle. */
export interface EndpointProgress {
  wave: number;
  cluster?: string;
  released: boolean;
  outcome?: 'succeeded' | 'failed' | 'cancelled';
}

/** A cycle as its stream says it is. */
export interface CycleState {
  cycleId: string;
  status: CycleStatus;
  kind?: CycleKind;
  policyId?: string;
  requestedBy?: string;
  requestedAt?: string;
  notBefore?: string;
  emergency?: EmergencySpec;
  planHash?: string;
  header?: CyclePlanHeader;
  /** Endpoint lists by wave, filled from the plan parts. */
  waves: PlannedEndpoint[][];
  skipped: SkippedEndpoint[];
  approvers: string[];
  approvalsRequired: number;
  approvedBy: string[];
  currentWave: number;
  /** The current wave has passed but the next was not released (the cycle was paused). */
  waveDone: boolean;
  windowEndsAt?: string;
  pausedForWindow: boolean;
  progress: Map<string, EndpointProgress>;
  /** Finished runs per wave (a wave passes when all its endpoints finished under the threshold). */
  finishedInWave: number[];
  inFlight: number;
  inFlightByCluster: Map<string, number>;
  succeeded: number;
  failed: number;
  haltReason?: string;
  abortReason?: string;
}

/** The state of a stream with no events. */
export function initialState(cycleId: string): CycleState {
  return {
    cycleId,
    status: 'new',
    waves: [],
    skipped: [],
    approvers: [],
    approvalsRequired: 1,
    approvedBy: [],
    currentWave: 0,
    waveDone: false,
    pausedForWindow: false,
    progress: new Map(),
    finishedInWave: [],
    inFlight: 0,
    inFlightByCluster: new Map(),
    succeeded: 0,
    failed: 0,
  };
}

const clusterOf = (s: CycleState, endpointId: string): string | undefined => s.progress.get(endpointId)?.cluster;

/**
 * Applies one event. For speed on large cycles (10,000 endpoints) the state is updated in place
 * and returned: callers fold a stream into a fresh `initialState` and never keep earlier states.
 */
export function evolve(s: CycleState, event: CycleEvent): CycleState {
  switch (event.type) {
    case 'CycleRequested': {
      const d = event.data;
      s.kind = d.kind;
      s.policyId = d.policyId;
      s.requestedBy = d.requestedBy;
      s.requestedAt = d.requestedAt;
      s.notBefore = d.notBefore;
      if (d.emergency) s.emergency = d.emergency;
      return s;
    }
    case 'CyclePlanned':
      s.planHash = event.data.planHash;
      s.header = event.data.header;
      s.waves = event.data.header.waves.map(() => []);
      return s;
    case 'CyclePlanPartRecorded':
      for (const { wave, ...e } of event.data.endpoints) {
        s.waves[wave]!.push(e);
        s.progress.set(e.endpointId, { wave, released: false, ...(e.cluster !== undefined ? { cluster: e.cluster } : {}) });
      }
      s.skipped.push(...event.data.skipped);
      return s;
    case 'CycleApprovalRequired':
      s.status = 'awaiting-approval';
      s.approvers = event.data.approvers;
      s.approvalsRequired = event.data.minApprovals;
      return s;
    case 'CycleApproved':
      if (!event.data.auto) s.approvedBy.push(event.data.by);
      if (event.data.approvals >= event.data.required) s.status = 'queued';
      return s;
    case 'CycleStarted':
      s.status = 'running';
      s.windowEndsAt = event.data.windowEndsAt;
      return s;
    case 'WaveReleased':
      s.currentWave = event.data.wave;
      s.waveDone = false;
      return s;
    case 'EndpointReleased': {
      const p = s.progress.get(event.data.endpointId);
      if (p) p.released = true;
      s.inFlight++;
      const c = clusterOf(s, event.data.endpointId);
      if (c !== undefined) s.inFlightByCluster.set(c, (s.inFlightByCluster.get(c) ?? 0) + 1);
      return s;
    }
    case 'EndpointRunFinished': {
      const d = event.data;
      const p = s.progress.get(d.endpointId);
      if (p) p.outcome = d.outcome;
      s.inFlight--;
      const c = clusterOf(s, d.endpointId);
      if (c !== undefined) s.inFlightByCluster.set(c, (s.inFlightByCluster.get(c) ?? 1) - 1);
      if (d.outcome === 'succeeded') s.succeeded++;
      else s.failed++;
      s.finishedInWave[d.wave] = (s.finishedInWave[d.wave] ?? 0) + 1;
      return s;
    }
    case 'WaveCompleted':
      s.waveDone = true;
      return s;
    case 'CycleHalted':
      s.status = 'halted';
      s.haltReason = event.data.reason;
      return s;
    case 'CyclePaused':
      s.status = 'paused';
      s.pausedForWindow = event.data.windowClosed;
      return s;
    case 'CycleResumed':
      s.status = 'running';
      s.pausedForWindow = false;
      if (event.data.windowEndsAt !== undefined) s.windowEndsAt = event.data.windowEndsAt;
      return s;
    case 'CycleAborted':
      s.status = 'aborted';
      s.abortReason = event.data.reason;
      return s;
    case 'CycleCompleted':
      s.status = 'completed';
      return s;
    default: {
      const never: never = event;
      throw new TypeError(`unknown cycle event ${(never as { type: string }).type}`);
    }
  }
}

/** Commands the cycle decides on. Times are ISO strings handed in by the edge (the decider reads no clock). */
export type CycleCommand =
  | {
      type: 'RequestCycle';
      kind: CycleKind;
      policyId: string;
      requestedBy: string;
      requestedAt: string;
      notBefore: string;
      window?: { index: number; start: string; end: string };
      plan: CyclePlan;
      planHash: string;
      partBudgetBytes?: number;
    }
  | { type: 'Approve'; by: string; comment?: string }
  | { type: 'Start'; now: string; windowEndsAt?: string }
  | { type: 'RecordRunResult'; endpointId: string; outcome: 'succeeded' | 'failed' | 'cancelled'; code?: string; runEventId: string; now: string }
  | { type: 'Pause'; by: string; reason: string }
  | { type: 'Resume'; by: string; now: string; windowEndsAt?: string }
  | { type: 'Abort'; by: string; reason: string };

const TERMINAL: readonly CycleStatus[] = ['aborted', 'completed'];

/**
 * Decides what a command means for the cycle: the events to append (possibly none), or a typed
 * error. The supervision rules live here: releases fill free slots of the current wave within the
 * concurrency limit and the per-cluster budget; once failures reach the error threshold nothing
 * more is released (runs in flight finish); the next wave starts only when the current one passed.
 */
export function decide(command: CycleCommand, state: CycleState): CycleEvent[] {
  const cycleId = state.cycleId;
  const invalid = (what: string) => new InvalidCycleTransitionError(cycleId, what, state.status);
  switch (command.type) {
    case 'RequestCycle': {
      if (state.status !== 'new') throw new CycleExistsError(cycleId);
      const plan = command.plan;
      const parts = splitPlan(plan, command.partBudgetBytes);
      const events: CycleEvent[] = [
        {
          type: 'CycleRequested',
          data: {
            cycleId,
            kind: command.kind,
            policyId: command.policyId,
            requestedBy: command.requestedBy,
            requestedAt: command.requestedAt,
            notBefore: command.notBefore,
            ...(command.window ? { window: command.window } : {}),
            ...(plan.emergency ? { emergency: plan.emergency } : {}),
          },
        },
        { type: 'CyclePlanned', data: { cycleId, planHash: command.planHash, header: planHeader(plan), parts: parts.length, endpoints: plannedCount(plan), skipped: plan.skipped.length } },
        ...parts.map((p): CycleEvent => ({ type: 'CyclePlanPartRecorded', data: { cycleId, ...p } })),
      ];
      if (plan.approval.mode === 'manual') events.push({ type: 'CycleApprovalRequired', data: { cycleId, approvers: plan.approval.approvers, minApprovals: plan.approval.minApprovals } });
      else events.push({ type: 'CycleApproved', data: { cycleId, by: 'policy', auto: true, approvals: 1, required: 1 } });
      return events;
    }
    case 'Approve': {
      if (state.status !== 'awaiting-approval') throw invalid('approve');
      if (command.by === state.requestedBy) throw new ApproverIsRequesterError(cycleId, command.by);
      if (!state.approvers.includes(command.by)) throw new NotAnApproverError(cycleId, command.by);
      if (state.approvedBy.includes(command.by)) throw new AlreadyApprovedError(cycleId, command.by);
      return [
        {
          type: 'CycleApproved',
          data: { cycleId, by: command.by, auto: false, approvals: state.approvedBy.length + 1, required: state.approvalsRequired, ...(command.comment ? { comment: command.comment } : {}) },
        },
      ];
    }
    case 'Start': {
      if (state.status !== 'queued') throw invalid('start');
      return simulate(state, (sim, out) => {
        out.push({ type: 'CycleStarted', data: { cycleId, at: command.now, ...(command.windowEndsAt ? { windowEndsAt: command.windowEndsAt } : {}) } });
        sim.status = 'running';
        sim.windowEndsAt = command.windowEndsAt;
        openWave(sim, 0, out);
        fill(sim, command.now, out);
      });
    }
    case 'RecordRunResult': {
      const p = state.progress.get(command.endpointId);
      // Unknown, never released, or already recorded: a duplicate or a stray event, nothing to do.
      if (!p || !p.released || p.outcome) return [];
      return simulate(state, (sim, out) => {
        const finished: CycleEvent = {
          type: 'EndpointRunFinished',
          data: { cycleId, endpointId: command.endpointId, wave: p.wave, outcome: command.outcome, ...(command.code ? { code: command.code } : {}), runEventId: command.runEventId },
        };
        out.push(finished);
        applyFinished(sim, finished.data);
        if (sim.status !== 'running' && sim.status !== 'paused') return;
        const threshold = sim.header!.errorThreshold.limit;
        if (sim.failed >= threshold) {
          out.push({
            type: 'CycleHalted',
            data: { cycleId, code: 'ERROR_THRESHOLD_REACHED', reason: `${sim.failed} endpoint runs failed; the error threshold is ${threshold}`, failed: sim.failed, threshold, inFlight: sim.inFlight },
          });
          sim.status = 'halted';
          return;
        }
        advance(sim, command.now, out);
      });
    }
    case 'Pause':
      if (state.status !== 'running') throw invalid('pause');
      return [{ type: 'CyclePaused', data: { cycleId, by: command.by, reason: command.reason, windowClosed: false } }];
    case 'Resume': {
      if (state.status !== 'paused') throw invalid('resume');
      return simulate(state, (sim, out) => {
        out.push({ type: 'CycleResumed', data: { cycleId, by: command.by, ...(command.windowEndsAt ? { windowEndsAt: command.windowEndsAt } : {}) } });
        sim.status = 'running';
        if (command.windowEndsAt !== undefined) sim.windowEndsAt = command.windowEndsAt;
        advance(sim, command.now, out);
      });
    }
    case 'Abort':
      if (TERMINAL.includes(state.status)) throw invalid('abort');
      return [{ type: 'CycleAborted', data: { cycleId, by: command.by, reason: command.reason } }];
    default: {
      const never: never = command;
      throw new PatchbayError('INTERNAL', `unknown cycle command ${(never as { type: string }).type}`);
    }
  }
}

/** The counters a decision changes while it plans several events; the given state is never touched. */
interface Sim {
  status: CycleStatus;
  windowEndsAt?: string;
  currentWave: number;
  waveDone: boolean;
  inFlight: number;
  inFlightByCluster: Map<string, number>;
  released: Set<string>;
  finishedInCurrent: number;
  finished: Map<string, 'succeeded' | 'failed' | 'cancelled'>;
  succeeded: number;
  failed: number;
  header: CyclePlanHeader | undefined;
  state: CycleState;
}

function simulate(state: CycleState, body: (sim: Sim, out: CycleEvent[]) => void): CycleEvent[] {
  const sim: Sim = {
    status: state.status,
    windowEndsAt: state.windowEndsAt,
    currentWave: state.currentWave,
    waveDone: state.waveDone,
    inFlight: state.inFlight,
    inFlightByCluster: new Map(state.inFlightByCluster),
    released: new Set(),
    finishedInCurrent: state.finishedInWave[state.currentWave] ?? 0,
    finished: new Map(),
    succeeded: state.succeeded,
    failed: state.failed,
    header: state.header,
    state,
  };
  const out: CycleEvent[] = [];
  body(sim, out);
  return out;
}

const isReleased = (sim: Sim, id: string): boolean => sim.released.has(id) || sim.state.progress.get(id)?.released === true;
const outcomeOf = (sim: Sim, id: string) => sim.finished.get(id) ?? sim.state.progress.get(id)?.outcome;

function applyFinished(sim: Sim, d: { endpointId: string; wave: number; outcome: 'succeeded' | 'failed' | 'cancelled' }): void {
  sim.finished.set(d.endpointId, d.outcome);
  sim.inFlight--;
  const c = clusterOf(sim.state, d.endpointId);
  if (d.wave === sim.currentWave) sim.finishedInCurrent++;
  if (c !== undefined) sim.inFlightByCluster.set(c, (sim.inFlightByCluster.get(c) ?? 1) - 1);
  if (d.outcome === 'succeeded') sim.succeeded++;
  else sim.failed++;
}

function openWave(sim: Sim, wave: number, out: CycleEvent[]): void {
  const list = sim.state.waves[wave]!;
  out.push({ type: 'WaveReleased', data: { cycleId: sim.state.cycleId, wave, name: sim.header!.waves[wave]!.name, endpoints: list.length } });
  sim.currentWave = wave;
  sim.waveDone = false;
  sim.finishedInCurrent = sim.state.finishedInWave[wave] ?? 0;
}

/** After a run finished or a resume: close the wave if it passed, open the next or complete, else fill slots. */
function advance(sim: Sim, now: string, out: CycleEvent[]): void {
  const s = sim.state;
  const wave = s.waves[sim.currentWave] ?? [];
  if (!sim.waveDone && sim.finishedInCurrent >= wave.length) {
    const succeeded = wave.filter((e) => outcomeOf(sim, e.endpointId) === 'succeeded').length;
    out.push({ type: 'WaveCompleted', data: { cycleId: s.cycleId, wave: sim.currentWave, succeeded, failed: wave.length - succeeded } });
    sim.waveDone = true;
  }
  if (sim.waveDone && sim.currentWave + 1 >= s.waves.length) {
    out.push({ type: 'CycleCompleted', data: { cycleId: s.cycleId, succeeded: sim.succeeded, failed: sim.failed, skipped: s.skipped.length } });
    sim.status = 'completed';
    return;
  }
  if (sim.status !== 'running') return;
  if (sim.waveDone) {
    // The next wave is not opened after the window ended: it opens when the cycle resumes.
    if (windowClosed(sim, now)) return pauseForWindow(sim, out);
    openWave(sim, sim.currentWave + 1, out);
  }
  fill(sim, now, out);
}

const windowClosed = (sim: Sim, now: string): boolean => sim.windowEndsAt !== undefined && now >= sim.windowEndsAt;

/** Once nothing is in flight after the window ended, the cycle waits for the next window. */
function pauseForWindow(sim: Sim, out: CycleEvent[]): void {
  if (sim.inFlight > 0) return;
  out.push({ type: 'CyclePaused', data: { cycleId: sim.state.cycleId, by: 'planner', reason: `maintenance window ended at ${sim.windowEndsAt}`, windowClosed: true } });
  sim.status = 'paused';
}

/** Releases endpoints of the current wave, in plan order, while slots and cluster budgets allow. */
function fill(sim: Sim, now: string, out: CycleEvent[]): void {
  const s = sim.state;
  const h = sim.header!;
  if (windowClosed(sim, now)) {
    if ((s.waves[sim.currentWave] ?? []).some((e) => !isReleased(sim, e.endpointId))) pauseForWindow(sim, out);
    return;
  }
  const limits = h.disruptionBudget?.limits ?? {};
  for (const e of s.waves[sim.currentWave] ?? []) {
    if (sim.inFlight >= h.concurrency.limit) break;
    if (isReleased(sim, e.endpointId)) continue;
    if (e.cluster !== undefined && limits[e.cluster] !== undefined && (sim.inFlightByCluster.get(e.cluster) ?? 0) >= limits[e.cluster]!) continue;
    out.push({
      type: 'EndpointReleased',
      data: {
        cycleId: s.cycleId,
        endpointId: e.endpointId,
        wave: sim.currentWave,
        ssh: e.ssh,
        workflow: h.workflow,
        packages: e.packages,
        rebootPolicy: h.rebootPolicy,
        rollbackOnValidationFailure: false,
        emergency: s.kind === 'emergency',
      },
    });
    sim.released.add(e.endpointId);
    sim.inFlight++;
    if (e.cluster !== undefined) sim.inFlightByCluster.set(e.cluster, (sim.inFlightByCluster.get(e.cluster) ?? 0) + 1);
  }
}

/** Folds a stream's events into the cycle state. */
export function foldCycle(cycleId: string, events: readonly CycleEvent[]): CycleState {
  return events.reduce(evolve, initialState(cycleId));
}
