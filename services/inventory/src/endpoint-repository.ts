import { createHash } from 'node:crypto';
import { toEndpointStreamName, type NewEvent, type RecordedEvent } from '@patchbay/contracts';
import type { AppendResult, EventStore, StreamWrite } from '@patchbay/event-store';
import { currentTraceparent } from '@patchbay/telemetry';
import { ENDPOINT_EVENT_DEFINITIONS, evolve, initialState, type EndpointEvent, type EndpointState } from './domain/endpoint.js';

/** Who asked: carried into every event's metadata. */
export interface CommandMeta {
  commandId: string;
  actor: string;
  correlationId?: string;
}

/** An endpoint's state and the revision it was read at (-1: no stream). */
export interface LoadedEndpoint {
  state: EndpointState;
  revision: number;
}

/**
 * Deterministic event id: the same command appending at the same stream position gets the same
 * id, so a retried append is recognised by the store instead of duplicated.
 */
export function endpointEventId(commandId: string, endpointId: string, revision: number): string {
  return `inv-${createHash('sha256').update(`${commandId}\u0000${endpointId}\u0000${revision}`).digest('hex').slice(0, 40)}`;
}

const decodeEvent = (e: RecordedEvent): EndpointEvent | undefined => {
  const def = ENDPOINT_EVENT_DEFINITIONS[e.type as keyof typeof ENDPOINT_EVENT_DEFINITIONS];
  // Types from newer versions are skipped, not fatal: the state of known facts stays correct.
  return def ? ({ type: def.type, data: def.parse(e.data) } as EndpointEvent) : undefined;
};

/** Reads and writes `endpoint-<id>` streams for the deciders. */
export class EndpointRepository {
  constructor(private readonly store: EventStore) {}

  /** One endpoint's state. */
  async load(endpointId: string): Promise<LoadedEndpoint> {
    const events = await this.store.readStream(toEndpointStreamName(endpointId), { ifMissing: 'empty' });
    let state = initialState();
    for (const e of events) {
      const d = decodeEvent(e);
      if (d) state = evolve(state, d);
    }
    return { state, revision: events.length ? events[events.length - 1]!.metadata.revision : -1 };
  }

  private readonly all = new Map<string, LoadedEndpoint>();
  private allAfter: bigint | undefined;
  private catchingUp: Promise<void> = Promise.resolve();

  /**
   * Every endpoint's state (imports and the fact schedule). Kept in memory and brought up to date
   * from the store's global order on each call, so a long history is read once, not per import;
   * calls are serialised so no event is applied twice.
   */
  async loadAll(): Promise<Map<string, LoadedEndpoint>> {
    const run = this.catchingUp.then(() => this.catchUp());
    this.catchingUp = run.catch(() => undefined);
    await run;
    return new Map(this.all);
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const batch = await this.store.readAll({ categories: ['endpoint'], maxCount: 5000, ...(this.allAfter !== undefined ? { after: this.allAfter } : {}) });
      for (const e of batch) {
        const id = e.metadata.stream.slice('endpoint-'.length);
        const cur = this.all.get(id) ?? { state: initialState(), revision: -1 };
        const d = decodeEvent(e);
        this.all.set(id, { state: d ? evolve(cur.state, d) : cur.state, revision: e.metadata.revision });
        this.allAfter = e.position;
      }
      if (batch.length < 5000) return;
    }
  }

  /** True when the store writes several streams in one transaction (see `appendMany`). */
  get atomicMultiStreamAppend(): boolean {
    return this.store.capabilities?.atomicMultiStreamAppend === true;
  }

  /** Appends a decider's events at the revision they were decided on. */
  async append(endpointId: string, events: readonly EndpointEvent[], expectedRevision: number, meta: CommandMeta): Promise<AppendResult | undefined> {
    if (events.length === 0) return undefined;
    const w = this.write(endpointId, events, expectedRevision, meta);
    return this.store.append(w.stream, w.events, w.expected);
  }

  /**
   * Appends several endpoints' decided events with one `appendMany` (one transaction on a store
   * whose `atomicMultiStreamAppend` is true); changes without events are skipped. One result per
   * change, `undefined` for the skipped ones.
   */
  async appendMany(
    changes: readonly { endpointId: string; events: readonly EndpointEvent[]; expectedRevision: number }[],
    meta: CommandMeta,
  ): Promise<(AppendResult | undefined)[]> {
    const writes: StreamWrite[] = [];
    const index: number[] = [];
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!;
      if (c.events.length === 0) continue;
      writes.push(this.write(c.endpointId, c.events, c.expectedRevision, meta));
      index.push(i);
    }
    const out = new Array<AppendResult | undefined>(changes.length).fill(undefined);
    if (writes.length === 0) return out;
    const results = await this.store.appendMany(writes);
    for (let k = 0; k < index.length; k++) out[index[k]!] = results[k];
    return out;
  }

  /** The store write for a decider's events: deterministic ids, the command's metadata and trace. */
  private write(endpointId: string, events: readonly EndpointEvent[], expectedRevision: number, meta: CommandMeta): StreamWrite {
    // The command's trace travels with its events, so a cycle reads as one trace.
    const trace = currentTraceparent();
    const newEvents: NewEvent[] = events.map((e, i) => {
      const def = ENDPOINT_EVENT_DEFINITIONS[e.type];
      return {
        eventId: endpointEventId(meta.commandId, endpointId, expectedRevision + 1 + i),
        type: e.type,
        data: def.parse(e.data),
        schemaVersion: def.schemaVersion,
        correlationId: meta.correlationId ?? meta.commandId,
        causationId: meta.commandId,
        actor: meta.actor,
        ...trace,
      };
    });
    return { stream: toEndpointStreamName(endpointId), events: newEvents, expected: expectedRevision < 0 ? 'no-stream' : expectedRevision };
  }
}
