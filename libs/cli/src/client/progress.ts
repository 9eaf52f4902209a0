import type { RecordedEvent } from '@patchbay/contracts';
import { applyCycleEvent, initialCycleState, type CycleState } from '@patchbay/gateway';

/** One event as the gateway's `cycleProgress` subscription sends it. */
export interface ProgressEvent {
  eventId: string;
  type: string;
  stream: string;
  recordedAt: string;
  data: unknown;
}

/** A failed step of one endpoint, with the tail of its last command's output. */
export interface ProgressFailure {
  endpointId: string;
  stepId: string;
  code: string;
  message: string;
  willRetry: boolean;
  outputTail: string;
}

/** What the live view shows: the folded cycle and the failures seen so far. */
export interface ProgressView {
  cycle: CycleState;
  failures: ProgressFailure[];
}

/** Cycle states after which nothing more happens. */
export const TERMINAL_STATUSES = new Set(['completed', 'halted', 'aborted']);

/** The empty view before the first event. */
export function initialProgress(cycleId: string): ProgressView {
  return { cycle: initialCycleState(cycleId), failures: [] };
}

const TAIL_LINES = 5;

function tailOf(commands: unknown): string {
  if (!Array.isArray(commands) || commands.length === 0) return '';
  const last = commands[commands.length - 1] as Record<string, unknown>;
  const out = [last['stderrTail'], last['stdoutTail'], last['stderr'], last['stdout']].filter((v): v is string => typeof v === 'string' && v.trim() !== '');
  return (out[0] ?? '').trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
}

/** Applies one subscription event (pure). */
export function applyProgressEvent(view: ProgressView, event: ProgressEvent): ProgressView {
  const recorded = { type: event.type, data: event.data, position: 0n, metadata: { eventId: event.eventId, stream: event.stream, recordedAt: event.recordedAt } } as unknown as RecordedEvent;
  const cycle = applyCycleEvent(view.cycle, recorded);
  let failures = view.failures;
  if (event.type === 'StepFailed') {
    const d = (event.data ?? {}) as Record<string, unknown>;
    failures = [
      ...failures,
      {
        endpointId: String(d['endpointId'] ?? event.stream.split('.').slice(1).join('.')),
        stepId: String(d['stepId'] ?? d['stepKey'] ?? '?'),
        code: String(d['code'] ?? 'STEP_FAILED'),
        message: String(d['message'] ?? ''),
        willRetry: d['willRetry'] === true,
        outputTail: tailOf(d['commands']),
      },
    ];
  }
  return { cycle, failures };
}

/** Renders the view as plain text lines: status, waves, endpoints by state with their step, failures. */
export function renderProgress(view: ProgressView): string {
  const c = view.cycle;
  const lines: string[] = [];
  lines.push(`cycle ${c.cycleId}  status: ${c.status}${c.policyId ? `  policy: ${c.policyId}` : ''}${c.haltCode ? `  halt: ${c.haltCode}` : ''}`);
  if (c.approvalsRequired !== null && c.status === 'awaiting-approval') lines.push(`  approvals ${c.approvals}/${c.approvalsRequired}`);
  for (const w of c.waves) {
    // Live counts come from the endpoints; the wave's own counts only arrive with WaveCompleted.
    const of = (state: string): number => c.endpoints.filter((e) => e.wave === w.index && e.state === state).length;
    const ok = Math.max(w.succeeded, of('succeeded'));
    const failed = Math.max(w.failed, of('failed'));
    lines.push(`  wave ${w.index} ${w.name}: ${w.status}  ${ok}/${w.size} ok, ${of('running')} running, ${failed} failed`);
  }
  const order = ['running', 'released', 'planned', 'succeeded', 'failed', 'cancelled'] as const;
  for (const state of order) {
    const eps = c.endpoints.filter((e) => e.state === state);
    if (eps.length === 0) continue;
    lines.push(`  ${state} (${eps.length})`);
    for (const e of eps) lines.push(`    ${e.endpointId}${e.wave !== null ? ` [wave ${e.wave}]` : ''}${e.step ? `  step: ${e.step}` : ''}${e.code ? `  ${e.code}` : ''}`);
  }
  if (view.failures.length > 0) {
    lines.push('  failures');
    for (const f of view.failures) {
      lines.push(`    ${f.endpointId} ${f.stepId}: ${f.code} ${f.message}${f.willRetry ? ' (will retry)' : ''}`);
      for (const l of f.outputTail ? f.outputTail.split('\n') : []) lines.push(`      | ${l}`);
    }
  }
  return lines.join('\n');
}
