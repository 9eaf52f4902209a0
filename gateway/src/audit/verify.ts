import { verifyChain } from '@patchbay/contracts';
import type { CycleHistory } from './history.js';

export interface BrokenLink {
  stream: string;
  revision: number;
  eventId: string | null;
  reason: string;
}

export interface CycleVerification {
  cycleId: string;
  ok: boolean;
  streams: Array<{ stream: string; events: number; ok: boolean; headHash: string | null }>;
  /** The first broken link, streams taken in history order (the cycle stream first). */
  firstBroken: BrokenLink | null;
}

/** Checks every hash chain a cycle touches with `verifyChain` and reports the first broken link. */
export function verifyCycleHistory(history: CycleHistory): CycleVerification {
  const streams: CycleVerification['streams'] = [];
  let firstBroken: BrokenLink | null = null;
  for (const [stream, events] of history.streams) {
    const v = verifyChain(stream, events);
    if (v.ok) streams.push({ stream, events: v.events, ok: true, headHash: v.headHash });
    else {
      streams.push({ stream, events: v.events, ok: false, headHash: null });
      firstBroken ??= { stream, revision: v.brokenAt, eventId: v.eventId ?? null, reason: v.reason };
    }
  }
  return { cycleId: history.cycleId, ok: firstBroken === null, streams, firstBroken };
}
