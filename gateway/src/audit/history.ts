import { toCycleStreamName, toRunStreamName, ValidationError, cycleIdSchema, type RecordedEvent } from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import { NotFoundError } from '../errors.js';

/** Every stream a cycle touches: its own stream first, then its run streams in first-seen order. */
export function cycleStreams(cycleId: string, cycleEvents: readonly RecordedEvent[]): string[] {
  const runs = new Set<string>();
  for (const e of cycleEvents) {
    const d = e.data as { endpointId?: unknown; endpoints?: unknown } | null;
    if (d && typeof d.endpointId === 'string' && (e.type === 'EndpointReleased' || e.type === 'EndpointRunFinished')) runs.add(toRunStreamName(cycleId, d.endpointId));
  }
  return [toCycleStreamName(cycleId), ...runs];
}

export interface CycleHistory {
  cycleId: string;
  /** Streams read, each forwards from revision 0. */
  streams: Map<string, RecordedEvent[]>;
  /** All events of all streams, merged by global position. */
  events: RecordedEvent[];
}

/** Validates a cycle id argument (`VALIDATION_FAILED` otherwise). */
export function parseCycleId(cycleId: string): string {
  const r = cycleIdSchema.safeParse(cycleId);
  if (!r.success) throw new ValidationError(`invalid cycle id ${JSON.stringify(cycleId)}`, { cycleId });
  return r.data;
}

/**
 * Reads a cycle's full history: the `cycle-<id>` stream and every `run-<id>.<endpoint>` stream
 * it released (run streams are found from the cycle's own `EndpointReleased` /
 * `EndpointRunFinished` events, so no scan of all runs is needed), merged by global position.
 * `NOT_FOUND` when the cycle has no events.
 */
export async function readCycleHistory(store: EventStore, cycleId: string): Promise<CycleHistory> {
  parseCycleId(cycleId);
  const cycleEvents = await store.readStream(toCycleStreamName(cycleId), { ifMissing: 'empty' });
  if (cycleEvents.length === 0) throw new NotFoundError('cycle', cycleId);
  const streams = new Map<string, RecordedEvent[]>();
  for (const stream of cycleStreams(cycleId, cycleEvents)) {
    streams.set(stream, stream === toCycleStreamName(cycleId) ? cycleEvents : await store.readStream(stream, { ifMissing: 'empty' }));
  }
  const events = [...streams.values()].flat().sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  return { cycleId, streams, events };
}
