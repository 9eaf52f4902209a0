import type { RecordedEvent } from '@patchbay/contracts';

export type EndpointState = 'planned' | 'released' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface EndpointAsOf {
  endpointId: string;
  wave: number | null;
  groupId: string | null;
  tier: string | null;
  state: EndpointState;
  /** The step running or last finished on the endpoint. */
  step: string | null;
  code: string | null;
}

export interface WaveAsOf {
  index: number;
  name: string;
  size: number;
  status: 'planned' | 'released' | 'completed';
  succeeded: number;
  failed: number;
}

/** A cycle rebuilt from its events up to one moment. */
export interface CycleState {
  cycleId: string;
  status: string;
  kind: string | null;
  policyId: string | null;
  requestedBy: string | null;
  planHash: string | null;
  approvals: number;
  approvalsRequired: number | null;
  haltCode: string | null;
  waves: WaveAsOf[];
  endpoints: EndpointAsOf[];
  /** Events folded, the last one's id and position. */
  eventCount: number;
  lastEventId: string | null;
  lastPosition: bigint | null;
  lastRecordedAt: string | null;
  /** Event types the fold does not know: counted and skipped, never an error. */
  unknownEventTypes: string[];
}

/** The empty state before the first event. */
export function initialCycleState(cycleId: string): CycleState {
  return { cycleId, status: 'unknown', kind: null, policyId: null, requestedBy: null, planHash: null, approvals: 0, approvalsRequired: null, haltCode: null, waves: [], endpoints: [], eventCount: 0, lastEventId: null, lastPosition: null, lastRecordedAt: null, unknownEventTypes: [] };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

const CYCLE_STATUS: Record<string, string> = {
  CycleRequested: 'requested',
  CyclePlanned: 'planned',
  CycleApprovalRequired: 'awaiting-approval',
  CycleStarted: 'running',
  CycleHalted: 'halted',
  CyclePaused: 'paused',
  CycleResumed: 'running',
  CycleAborted: 'aborted',
  CycleCompleted: 'completed',
};
/** Step events: the endpoint is running and this is its step. */
const STEP_EVENTS = new Set(['StepStarted', 'StepSucceeded', 'StepFailed', 'StepSkipped', 'RebootIssued', 'RebootConfirmed', 'PackagesRecorded', 'CompensationStarted', 'CompensationSucceeded', 'CompensationFailed']);
/** Known types that change nothing in this view. */
const NEUTRAL = new Set(['CyclePlanPartRecorded']);

/**
 * Applies one cycle or run event (pure: returns a new state). Reads fields defensively — a field
 * missing or of another type is ignored — and records unknown event types instead of failing, so
 * the fold keeps working on histories written by newer versions.
 */
export function applyCycleEvent(state: CycleState, event: RecordedEvent): CycleState {
  const s: CycleState = { ...state, waves: state.waves.map((w) => ({ ...w })), endpoints: state.endpoints.map((e) => ({ ...e })), unknownEventTypes: [...state.unknownEventTypes] };
  applyInPlace(s, event, new Map(s.endpoints.map((e) => [e.endpointId, e])));
  return s;
}

/** Applies one event to `s` itself; `index` finds the endpoints of `s` by id (and learns new ones). */
function applyInPlace(s: CycleState, event: RecordedEvent, index: Map<string, EndpointAsOf>): void {
  const d = (event.data ?? {}) as Record<string, unknown>;
  s.eventCount += 1;
  s.lastEventId = event.metadata.eventId;
  s.lastPosition = event.position;
  s.lastRecordedAt = event.metadata.recordedAt;
  const endpoint = (id: unknown): EndpointAsOf | undefined => {
    if (typeof id !== 'string') return undefined;
    let e = index.get(id);
    if (!e) {
      e = { endpointId: id, wave: null, groupId: null, tier: null, state: 'planned', step: null, code: null };
      s.endpoints.push(e);
      index.set(id, e);
    }
    return e;
  };
  const wave = (index: unknown): WaveAsOf | undefined => {
    const i = num(index);
    return i === null ? undefined : s.waves.find((w) => w.index === i);
  };
  if (event.type in CYCLE_STATUS) s.status = CYCLE_STATUS[event.type]!;
  switch (event.type) {
    case 'CycleRequested':
      s.kind = str(d['kind']);
      s.policyId = str(d['policyId']);
      s.requestedBy = str(d['requestedBy']);
      break;
    case 'CyclePlanned': {
      s.planHash = str(d['planHash']);
      const header = (d['header'] ?? {}) as { waves?: unknown };
      if (Array.isArray(header.waves)) {
        s.waves = header.waves.map((w: { index?: unknown; name?: unknown; size?: unknown }, i: number) => ({ index: num(w.index) ?? i, name: str(w.name) ?? `wave-${i}`, size: num(w.size) ?? 0, status: 'planned' as const, succeeded: 0, failed: 0 }));
      }
      break;
    }
    case 'CyclePlanPartRecorded':
      if (Array.isArray(d['endpoints'])) {
        for (const p of d['endpoints'] as Array<Record<string, unknown>>) {
          const e = endpoint(p['endpointId']);
          if (!e) continue;
          e.wave = num(p['wave']);
          e.groupId = str(p['groupId']);
          e.tier = str(p['tier']);
        }
      }
      break;
    case 'CycleApprovalRequired':
      s.approvalsRequired = num(d['minApprovals']);
      break;
    case 'CycleApproved':
      s.approvals = num(d['approvals']) ?? s.approvals + 1;
      s.approvalsRequired = num(d['required']) ?? s.approvalsRequired;
      if (s.approvalsRequired === null || s.approvals >= s.approvalsRequired) s.status = 'approved';
      break;
    case 'CycleHalted':
      s.haltCode = str(d['code']);
      break;
    case 'WaveReleased': {
      const w = wave(d['wave']);
      if (w) w.status = 'released';
      break;
    }
    case 'WaveCompleted': {
      const w = wave(d['wave']);
      if (w) Object.assign(w, { status: 'completed', succeeded: num(d['succeeded']) ?? w.succeeded, failed: num(d['failed']) ?? w.failed });
      break;
    }
    case 'EndpointReleased': {
      const e = endpoint(d['endpointId']);
      if (e && e.state === 'planned') e.state = 'released';
      if (e) e.wave = num(d['wave']) ?? e.wave;
      break;
    }
    case 'RunStarted':
    case 'RunResumed': {
      const e = endpoint(d['endpointId']);
      if (e && !['succeeded', 'failed', 'cancelled'].includes(e.state)) e.state = 'running';
      break;
    }
    case 'RunSucceeded':
    case 'RunFailed':
    case 'RunCancelled': {
      const e = endpoint(d['endpointId']);
      if (e) {
        e.state = event.type === 'RunSucceeded' ? 'succeeded' : event.type === 'RunFailed' ? 'failed' : 'cancelled';
        e.code = str(d['code']);
        if (event.type === 'RunFailed') e.step = str(d['stepId']) ?? e.step;
      }
      break;
    }
    case 'EndpointRunFinished': {
      const e = endpoint(d['endpointId']);
      const outcome = str(d['outcome']);
      if (e && (outcome === 'succeeded' || outcome === 'failed' || outcome === 'cancelled')) {
        e.state = outcome;
        e.code = str(d['code']) ?? e.code;
      }
      break;
    }
    default:
      if (STEP_EVENTS.has(event.type)) {
        const e = endpoint(d['endpointId']);
        if (e) {
          if (!['succeeded', 'failed', 'cancelled'].includes(e.state)) e.state = 'running';
          e.step = str(d['stepId']) ?? e.step;
        }
      } else if (!(event.type in CYCLE_STATUS) && !NEUTRAL.has(event.type) && !s.unknownEventTypes.includes(event.type)) {
        s.unknownEventTypes.push(event.type);
      }
  }
}

/** Folds events (already in global order) into the cycle's state. */
export function foldCycle(cycleId: string, events: readonly RecordedEvent[]): CycleState {
  // One state changed in place (applyCycleEvent copies the state per event: at 1,000 endpoints and
  // 20,000 events that was 20 million endpoint copies and 0.4 s).
  const s = initialCycleState(cycleId);
  const index = new Map<string, EndpointAsOf>();
  for (const e of events) applyInPlace(s, e, index);
  return s;
}

/**
 * The events up to a moment: `at` is an ISO date-time (events recorded at or before it) or an
 * event id (events up to and including it). Returns undefined when the event id is not part of
 * the history.
 */
export function eventsAsOf(events: readonly RecordedEvent[], at: { time?: Date; eventId?: string }): RecordedEvent[] | undefined {
  if (at.eventId !== undefined) {
    const i = events.findIndex((e) => e.metadata.eventId === at.eventId);
    return i < 0 ? undefined : events.slice(0, i + 1);
  }
  const t = at.time!.getTime();
  return events.filter((e) => Date.parse(e.metadata.recordedAt) <= t);
}
