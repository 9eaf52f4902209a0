import type { CycleStatus } from './cycle.js';

/** What the queue needs to know about one cycle. */
export interface QueuedCycle {
  cycleId: string;
  status: CycleStatus;
  emergency: boolean;
  requestedAt: string;
  notBefore: string;
  /** Runs released and not finished. */
  inFlight: number;
  /** The cycle may start now as far as maintenance windows go (inside a window, no windows, or an emergency that skips them). */
  windowOpen: boolean;
}

/** Statuses that hold one of the planner's active-cycle slots. */
export const ACTIVE_STATUSES: readonly CycleStatus[] = ['running', 'paused'];

/**
 * Whether a cycle holds a slot: running or paused, or halted or aborted with runs still in flight
 * (the next cycle waits for them, so two cycles never have one cluster's members down together).
 */
export function holdsSlot(status: CycleStatus, inFlight: number): boolean {
  return ACTIVE_STATUSES.includes(status) || ((status === 'halted' || status === 'aborted') && inFlight > 0);
}

/**
 * Which queued cycles to start now: emergencies first, then in request order; a cycle whose
 * deferral has not passed or whose window is closed waits without blocking the ones behind it;
 * never more than `maxActive` cycles running or paused at once.
 */
export function cyclesToStart(cycles: readonly QueuedCycle[], now: string, maxActive: number): string[] {
  let free = maxActive - cycles.filter((c) => holdsSlot(c.status, c.inFlight)).length;
  const ready = cycles
    .filter((c) => c.status === 'queued')
    .sort((a, b) => Number(b.emergency) - Number(a.emergency) || (a.requestedAt < b.requestedAt ? -1 : a.requestedAt > b.requestedAt ? 1 : 0) || (a.cycleId < b.cycleId ? -1 : 1));
  const out: string[] = [];
  for (const c of ready) {
    if (free <= 0) break;
    if (c.notBefore > now || !c.windowOpen) continue;
    out.push(c.cycleId);
    free--;
  }
  return out;
}
