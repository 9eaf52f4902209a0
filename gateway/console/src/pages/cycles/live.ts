/**
 * The live view's state: one record per endpoint, kept in a Map and replaced (never mutated) when
 * an event changes it, so a row re-renders only when its own endpoint changed. Every event costs
 * O(1): counts per state and per wave move by one, the per-state index sets move one id.
 * Events arrive over the subscription into a queue that is applied once per animation frame.
 */

export const ENDPOINT_STATES = ['running', 'released', 'planned', 'failed', 'succeeded', 'cancelled'] as const;
export type EndpointState = (typeof ENDPOINT_STATES)[number];
const FINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

export interface LiveEvent {
  eventId: string;
  type: string;
  stream: string;
  recordedAt: string;
  actor?: string;
  data?: unknown;
}

export interface LiveEndpoint {
  endpointId: string;
  wave: number | null;
  tier: string | null;
  groupId: string | null;
  state: EndpointState;
  /** The step running or last run on the endpoint. */
  step: string | null;
  /** running, succeeded, failed, retrying or skipped (of `step`). */
  stepStatus: string | null;
  attempt: number;
  code: string | null;
  message: string | null;
  updatedAt: string | null;
}

export interface LiveWave {
  index: number;
  name: string;
  size: number;
  state: string;
  /** Endpoints of the wave by state (live counts). */
  counts: Record<EndpointState, number>;
}

export interface LiveFailure {
  key: string;
  endpointId: string;
  step: string;
  attempt: number;
  code: string;
  message: string;
  willRetry: boolean;
  at: string;
  stdoutTail: string;
  stderrTail: string;
}

export interface TimelineEntry {
  key: string;
  at: string;
  type: string;
  text: string;
  tone: 'good' | 'bad' | 'warn' | 'busy' | 'idle';
}

export interface CycleHeader {
  status: string;
  haltCode: string | null;
  haltReason: string | null;
  pauseReason: string | null;
  abortReason: string | null;
  approvals: number;
  approvalsRequired: number | null;
}

const zeroCounts = (): Record<EndpointState, number> => ({ running: 0, released: 0, planned: 0, failed: 0, succeeded: 0, cancelled: 0 });

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
const TERMINAL = new Set(['completed', 'aborted']);
const STEP_EVENTS = new Set(['StepStarted', 'StepSucceeded', 'StepFailed', 'StepSkipped', 'RebootIssued', 'RebootConfirmed', 'PackagesRecorded']);

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function tailOf(commands: unknown, which: 'stdoutTail' | 'stderrTail'): string {
  if (!Array.isArray(commands) || commands.length === 0) return '';
  const last = commands[commands.length - 1] as Record<string, unknown>;
  return typeof last[which] === 'string' ? (last[which] as string) : '';
}

/** Keeps the last `n` lines of an output tail. */
export function lastLines(text: string, n = 20): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}

export const TIMELINE_MAX = 500;
export const FAILURES_MAX = 1000;

export class LiveStore {
  readonly endpoints = new Map<string, LiveEndpoint>();
  /** Endpoint ids per state, in the order they reached it. */
  readonly byState: Record<EndpointState, Set<string>> = { running: new Set(), released: new Set(), planned: new Set(), failed: new Set(), succeeded: new Set(), cancelled: new Set() };
  /** Every endpoint id in plan order. */
  readonly order: string[] = [];
  waves: LiveWave[] = [];
  header: CycleHeader = { status: 'unknown', haltCode: null, haltReason: null, pauseReason: null, abortReason: null, approvals: 0, approvalsRequired: null };
  failures: LiveFailure[] = [];
  timeline: TimelineEntry[] = [];
  /** Bumped once per applied batch: what React subscribes to. */
  version = 0;
  eventsApplied = 0;
  /** Entries ever added to the timeline and failures ever seen (the lists keep only the last ones). */
  noted = 0;
  failureCount = 0;
  private seen = new Set<string>();
  private failureKeys = new Set<string>();
  private queue: Array<{ ev: LiveEvent; arrived: number }> = [];
  private frame = 0;
  private listeners = new Set<() => void>();
  /** Arrival times of the events in the batch last applied (for the render-time measure). */
  lastBatch: number[] = [];
  /** Events wait here until the page has its starting state (`ready`). */
  private ready = false;

  readonly cycleId: string;

  constructor(cycleId: string) {
    this.cycleId = cycleId;
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  getVersion = (): number => this.version;

  /** The starting state from the read models (cycle and its endpoint runs). */
  seed(header: Partial<CycleHeader>, waves: Array<{ index: number; name: string; size: number; state: string }>, runs: Array<{ endpointId: string; wave: number; tier?: string | null; groupId?: string | null; status: string; currentStep?: string | null; code?: string | null; message?: string | null }>): void {
    this.header = { ...this.header, ...header };
    this.waves = waves.map((w) => ({ index: w.index, name: w.name, size: w.size, state: w.state, counts: zeroCounts() }));
    for (const r of runs) {
      const state = (ENDPOINT_STATES as readonly string[]).includes(r.status) ? (r.status as EndpointState) : 'planned';
      this.put({ endpointId: r.endpointId, wave: r.wave, tier: r.tier ?? null, groupId: r.groupId ?? null, state, step: r.currentStep ?? null, stepStatus: r.currentStep ? 'running' : null, attempt: 1, code: r.code ?? null, message: r.message ?? null, updatedAt: null });
    }
  }

  /**
   * Catches up after events may have been missed (the live connection dropped): a run the read
   * model shows further along than the page is taken from it, and so is a final cycle status.
   * Returns how many endpoints changed.
   */
  reconcile(status: string | undefined, runs: Array<{ endpointId: string; wave: number; tier?: string | null; groupId?: string | null; status: string; currentStep?: string | null; code?: string | null; message?: string | null }>): number {
    const rank = (st: string) => (FINAL.has(st) ? 3 : st === 'running' ? 2 : st === 'released' ? 1 : 0);
    let changed = 0;
    for (const r of runs) {
      const cur = this.endpoints.get(r.endpointId);
      if (!(ENDPOINT_STATES as readonly string[]).includes(r.status)) continue;
      if (cur && rank(r.status) <= rank(cur.state)) continue;
      const base = cur ?? { endpointId: r.endpointId, wave: r.wave, tier: r.tier ?? null, groupId: r.groupId ?? null, state: 'planned' as EndpointState, step: null, stepStatus: null, attempt: 1, code: null, message: null, updatedAt: null };
      this.put({ ...base, state: r.status as EndpointState, step: r.currentStep ?? base.step, code: r.code ?? base.code, message: r.message ?? base.message });
      changed += 1;
    }
    if (status && (TERMINAL.has(status) || status === 'halted') && status !== this.header.status && !TERMINAL.has(this.header.status)) this.header = { ...this.header, status };
    this.version += 1;
    for (const fn of this.listeners) fn();
    return changed;
  }

  /** Failures from the read model's failed runs (before the page opened, or missed since); each once. */
  seedFailures(list: LiveFailure[]): void {
    const fresh = list.filter((f) => !this.failureKeys.has(f.key));
    for (const f of fresh) this.failureKeys.add(f.key);
    this.failureCount += fresh.length;
    this.failures = [...fresh, ...this.failures].sort((a, b) => a.at.localeCompare(b.at)).slice(-FAILURES_MAX);
  }

  seedTimeline(list: TimelineEntry[]): void {
    this.timeline = [...list, ...this.timeline].slice(-TIMELINE_MAX);
    this.noted += list.length;
  }

  /** The starting state is in: apply what arrived meanwhile, then follow live. */
  start(): void {
    this.ready = true;
    this.schedule();
  }

  /** An event from the subscription: queued, applied at the next animation frame. */
  push(ev: LiveEvent, arrived = performance.now()): void {
    this.queue.push({ ev, arrived });
    if (this.ready) this.schedule();
  }

  private schedule(): void {
    if (this.frame || this.queue.length === 0) return;
    this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Applies every queued event, then tells React once. */
  flush(): void {
    this.frame = 0;
    const batch = this.queue;
    this.queue = [];
    for (const { ev } of batch) this.apply(ev);
    this.lastBatch = batch.map((b) => b.arrived);
    this.version += 1;
    for (const fn of this.listeners) fn();
  }

  dispose(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.listeners.clear();
  }

  get(id: string): LiveEndpoint | undefined {
    return this.endpoints.get(id);
  }

  /** Counts of all endpoints by state. */
  counts(): Record<EndpointState, number> {
    const c = zeroCounts();
    for (const s of ENDPOINT_STATES) c[s] = this.byState[s].size;
    return c;
  }

  /** One page of endpoint ids in `state` (all states: plan order). */
  page(state: EndpointState | 'all', offset: number, size: number): { ids: string[]; total: number } {
    if (state === 'all') return { ids: this.order.slice(offset, offset + size), total: this.order.length };
    const set = this.byState[state];
    const ids: string[] = [];
    let i = 0;
    for (const id of set) {
      if (i >= offset + size) break;
      if (i >= offset) ids.push(id);
      i++;
    }
    return { ids, total: set.size };
  }

  private put(next: LiveEndpoint): void {
    const prev = this.endpoints.get(next.endpointId);
    if (!prev) this.order.push(next.endpointId);
    if (prev && prev.state !== next.state) this.byState[prev.state].delete(next.endpointId);
    if (!prev || prev.state !== next.state) this.byState[next.state].add(next.endpointId);
    // Wave counts move with the endpoint (its wave may become known later).
    if (prev && prev.wave !== null) {
      const w = this.waves.find((x) => x.index === prev.wave);
      if (w) w.counts = { ...w.counts, [prev.state]: w.counts[prev.state] - 1 };
    }
    if (next.wave !== null) {
      const w = this.waves.find((x) => x.index === next.wave);
      if (w) w.counts = { ...w.counts, [next.state]: w.counts[next.state] + 1 };
    }
    this.endpoints.set(next.endpointId, next);
  }

  private endpoint(id: unknown): LiveEndpoint | undefined {
    if (typeof id !== 'string') return undefined;
    return this.endpoints.get(id) ?? { endpointId: id, wave: null, tier: null, groupId: null, state: 'planned', step: null, stepStatus: null, attempt: 1, code: null, message: null, updatedAt: null };
  }

  private note(ev: LiveEvent, text: string, tone: TimelineEntry['tone']): void {
    this.timeline.push({ key: ev.eventId, at: ev.recordedAt, type: ev.type, text, tone });
    this.noted += 1;
    if (this.timeline.length > TIMELINE_MAX * 1.2) this.timeline = this.timeline.slice(-TIMELINE_MAX);
  }

  /** Applies one event (each event once, in any state of the seed). */
  apply(ev: LiveEvent): void {
    if (this.seen.has(ev.eventId)) return;
    this.seen.add(ev.eventId);
    this.eventsApplied += 1;
    const d = (ev.data ?? {}) as Record<string, unknown>;
    const h = this.header;
    if (ev.type in CYCLE_STATUS && !TERMINAL.has(h.status)) this.header = { ...h, status: CYCLE_STATUS[ev.type]! };
    switch (ev.type) {
      case 'CycleRequested':
        this.note(ev, `Requested by ${str(d['requestedBy']) ?? ev.actor ?? '?'} (${str(d['kind']) ?? 'manual'})`, 'idle');
        return;
      case 'CyclePlanned': {
        const header = (d['header'] ?? {}) as { waves?: Array<{ index?: number; name?: string; size?: number }> };
        if (Array.isArray(header.waves) && this.waves.length === 0) this.waves = header.waves.map((w, i) => ({ index: num(w.index) ?? i, name: str(w.name) ?? `wave-${i}`, size: num(w.size) ?? 0, state: 'planned', counts: zeroCounts() }));
        this.note(ev, `Planned: ${num(d['endpoints']) ?? '?'} endpoints in ${header.waves?.length ?? '?'} waves, ${num(d['skipped']) ?? 0} skipped`, 'idle');
        return;
      }
      case 'CyclePlanPartRecorded':
        for (const p of (Array.isArray(d['endpoints']) ? d['endpoints'] : []) as Array<Record<string, unknown>>) {
          const e = this.endpoint(p['endpointId']);
          if (e) this.put({ ...e, wave: num(p['wave']) ?? e.wave, groupId: str(p['groupId']) ?? e.groupId, tier: str(p['tier']) ?? e.tier });
        }
        return;
      case 'CycleApprovalRequired':
        this.header = { ...this.header, approvalsRequired: num(d['minApprovals']) };
        this.note(ev, `Waiting for ${num(d['minApprovals']) ?? 1} approval(s)`, 'warn');
        return;
      case 'CycleApproved': {
        const approvals = num(d['approvals']) ?? h.approvals + 1;
        const required = num(d['required']) ?? h.approvalsRequired;
        this.header = { ...this.header, approvals, approvalsRequired: required, ...(required === null || approvals >= required ? { status: TERMINAL.has(this.header.status) ? this.header.status : 'approved' } : {}) };
        this.note(ev, `Approved by ${str(d['by']) ?? '?'}${d['auto'] === true ? ' (automatic)' : ''} ${approvals}/${required ?? approvals}`, 'good');
        return;
      }
      case 'CycleStarted':
        this.note(ev, 'Started', 'busy');
        return;
      case 'WaveReleased':
      case 'WaveCompleted': {
        const i = num(d['wave']);
        const w = this.waves.find((x) => x.index === i);
        if (w) w.state = ev.type === 'WaveReleased' ? 'released' : 'completed';
        this.waves = [...this.waves];
        this.note(ev, ev.type === 'WaveReleased' ? `Wave ${i} (${str(d['name']) ?? w?.name ?? ''}) released: ${num(d['endpoints']) ?? w?.size ?? '?'} endpoints` : `Wave ${i} completed: ${num(d['succeeded']) ?? 0} succeeded, ${num(d['failed']) ?? 0} failed`, ev.type === 'WaveReleased' ? 'busy' : 'good');
        return;
      }
      case 'CycleHalted':
        this.header = { ...this.header, haltCode: str(d['code']), haltReason: str(d['reason']) };
        this.note(ev, `Halted: ${str(d['code']) ?? ''} ${str(d['reason']) ?? ''}`, 'bad');
        return;
      case 'CyclePaused':
        this.header = { ...this.header, pauseReason: str(d['reason']) };
        this.note(ev, `Paused by ${str(d['by']) ?? '?'}: ${str(d['reason']) ?? ''}`, 'warn');
        return;
      case 'CycleResumed':
        this.header = { ...this.header, pauseReason: null };
        this.note(ev, `Resumed by ${str(d['by']) ?? '?'}`, 'busy');
        return;
      case 'CycleAborted':
        this.header = { ...this.header, abortReason: str(d['reason']) };
        this.note(ev, `Aborted by ${str(d['by']) ?? '?'}: ${str(d['reason']) ?? ''}`, 'bad');
        return;
      case 'CycleCompleted':
        this.note(ev, `Completed: ${num(d['succeeded']) ?? 0} succeeded, ${num(d['failed']) ?? 0} failed, ${num(d['skipped']) ?? 0} skipped`, 'good');
        return;
      case 'EndpointReleased': {
        const e = this.endpoint(d['endpointId']);
        if (e) this.put({ ...e, wave: num(d['wave']) ?? e.wave, state: e.state === 'planned' ? 'released' : e.state, updatedAt: ev.recordedAt });
        return;
      }
      case 'RunStarted':
      case 'RunResumed': {
        const e = this.endpoint(d['endpointId']);
        if (e && !FINAL.has(e.state)) this.put({ ...e, state: 'running', updatedAt: ev.recordedAt });
        return;
      }
      case 'RunSucceeded':
      case 'RunFailed':
      case 'RunCancelled':
      case 'EndpointRunFinished': {
        const e = this.endpoint(d['endpointId']);
        if (!e) return;
        const state: EndpointState = ev.type === 'EndpointRunFinished' ? ((str(d['outcome']) as EndpointState | null) ?? 'failed') : ev.type === 'RunSucceeded' ? 'succeeded' : ev.type === 'RunFailed' ? 'failed' : 'cancelled';
        if (!FINAL.has(state)) return;
        this.put({ ...e, state, code: str(d['code']) ?? e.code, message: str(d['message']) ?? str(d['reason']) ?? e.message, step: ev.type === 'RunFailed' ? (str(d['stepId']) ?? e.step) : e.step, stepStatus: state === 'succeeded' ? 'succeeded' : e.stepStatus, updatedAt: ev.recordedAt });
        if (ev.type === 'RunFailed') this.note(ev, `${e.endpointId} failed at ${str(d['stepId']) ?? '?'}: ${str(d['code']) ?? ''} ${str(d['message']) ?? ''}`, 'bad');
        return;
      }
      default:
        if (STEP_EVENTS.has(ev.type)) {
          const e = this.endpoint(d['endpointId']);
          if (!e) return;
          const step = str(d['stepId']) ?? str(d['stepKey']) ?? e.step;
          const stepStatus =
            ev.type === 'StepStarted' ? 'running' : ev.type === 'StepSucceeded' ? 'succeeded' : ev.type === 'StepFailed' ? (d['willRetry'] === true ? 'retrying' : 'failed') : ev.type === 'StepSkipped' ? 'skipped' : ev.type === 'RebootIssued' ? 'rebooting' : e.stepStatus;
          this.put({ ...e, state: FINAL.has(e.state) ? e.state : 'running', step, stepStatus, attempt: num(d['attempt']) ?? e.attempt, updatedAt: ev.recordedAt });
          if (ev.type === 'StepFailed') {
            const key = `${e.endpointId}:${str(d['stepKey']) ?? step}:${num(d['attempt']) ?? 1}`;
            if (this.failureKeys.has(key)) return;
            this.failureKeys.add(key);
            this.failures.push({
              key,
              endpointId: e.endpointId,
              step: step ?? '?',
              attempt: num(d['attempt']) ?? 1,
              code: str(d['code']) ?? 'STEP_FAILED',
              message: str(d['message']) ?? '',
              willRetry: d['willRetry'] === true,
              at: ev.recordedAt,
              stdoutTail: lastLines(tailOf(d['commands'], 'stdoutTail')),
              stderrTail: lastLines(tailOf(d['commands'], 'stderrTail')),
            });
            this.failureCount += 1;
            if (this.failures.length > FAILURES_MAX * 1.2) this.failures = this.failures.slice(-FAILURES_MAX);
          }
        }
    }
  }
}
