import type { NewEvent, RecordedEvent } from '@patchbay/contracts';
import { PatchbayError } from '@patchbay/contracts';

/**
 * What the writer believes about the stream before appending:
 * - `'no-stream'`: the stream must not exist yet;
 * - `'stream-exists'`: it must have at least one event;
 * - `'any'`: no check (use sparingly; deciders always state a revision);
 * - a number: the revision of the stream's last event (0-based).
 */
export type ExpectedRevision = 'no-stream' | 'any' | 'stream-exists' | number;

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  nextExpectedRevision: number;
  /** Global position of the last appended event. */
  position: bigint;
  /** True when every event id was already stored (an idempotent retry): nothing was written. */
  duplicate: boolean;
}

/** One stream's part of an {@link EventStore.appendMany} call: what `append` takes, as data. */
export interface StreamWrite {
  stream: string;
  events: readonly NewEvent[];
  expected: ExpectedRevision;
}

/** What an adapter can promise beyond the port's common rules. */
export interface EventStoreCapabilities {
  /**
   * True when `appendMany` checks every stream and writes every event in one transaction (all
   * or nothing across streams). False when it is a sequence of single-stream appends: a failure
   * part-way leaves the earlier streams written, and re-running the same call completes it
   * (the written streams are idempotent retries).
   */
  readonly atomicMultiStreamAppend: boolean;
}

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards';
  /** Inclusive start revision (forwards default 0; backwards default the end). */
  fromRevision?: number;
  maxCount?: number;
  /**
   * A stream without events: `'throw'` (default, as the KurrentDB client does) raises
   * `StreamNotFoundError`; `'empty'` returns `[]`, which is what a decider loading state wants.
   */
  ifMissing?: 'throw' | 'empty';
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this global position. Default: from the start. */
  after?: bigint;
  maxCount?: number;
  /** Only streams of this category (`cycle` matches `cycle-*`) or any of these. */
  categories?: readonly string[];
}

export interface SubscribeOptions {
  /** Durable name: the checkpoint is saved under it and survives restarts. */
  name: string;
  categories?: readonly string[];
  /** Where checkpoints are kept; defaults to the store's own checkpoint table/stream. */
  checkpoints?: CheckpointStore;
  /** Called for each event in global order; the checkpoint advances after it resolves. */
  handler: (event: RecordedEvent) => Promise<void>;
  /** How often (ms) an idle subscription polls for new events, for adapters that poll. */
  pollIntervalMs?: number;
  /**
   * Told about a failing handler (the same event is retried with backoff, never skipped) or a
   * failing read/checkpoint save (retried). Delivery stops only with `stop()`.
   */
  onError?: (error: unknown, event?: RecordedEvent) => void;
}

export interface Subscription {
  /** Resolves once the subscription has read up to the head of the store at least once. */
  readonly caughtUp: Promise<void>;
  /** Stops delivering; resolves when the current handler call has finished. */
  stop(): Promise<void>;
}

/** Durable per-name position (exclusive "last handled" global position). */
export interface CheckpointStore {
  load(name: string): Promise<bigint | undefined>;
  save(name: string, position: bigint): Promise<void>;
}

/** The event store port: the truth every service decides from. */
export interface EventStore {
  /**
   * Appends `events` atomically after checking `expected`. An exact repeat of an earlier append
   * (same ids, order, stream, type, data) is a retry: nothing is written and the original result
   * comes back with `duplicate: true`, whatever `expected` says. Throws `WrongExpectedVersionError`,
   * `DuplicateEventIdError`, `ValidationError` (bad input, nothing stored) or `EventStoreUnavailableError`.
   */
  append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /**
   * Appends to several streams, each write with its own expected revision and hash chain; one
   * result per write, in order. Every write is validated before any I/O (bad input anywhere:
   * `ValidationError`, nothing stored); a stream may appear once and an event id once per call.
   * Each write follows `append`'s retry rules on its own: a write whose ids are all stored is a
   * `duplicate: true` no-op, a partial reuse is `DuplicateEventIdError`. A
   * `WrongExpectedVersionError` (naming the stream) or any other failure fails the whole call.
   * All or nothing across streams only when `capabilities.atomicMultiStreamAppend` is true.
   */
  appendMany(writes: readonly StreamWrite[]): Promise<AppendResult[]>;
  /** What this adapter guarantees beyond the common rules. */
  readonly capabilities: EventStoreCapabilities;
  /** One stream's events; throws `StreamNotFoundError` for a stream without events unless `ifMissing: 'empty'`. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** The global order after `after`, optionally only some categories. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Catch-up subscription from the saved checkpoint (or the start), then live. */
  subscribe(options: SubscribeOptions): Subscription;
  /** The store's own durable checkpoint store. */
  readonly checkpoints: CheckpointStore;
  /**
   * Optional: resolves at the next commit to the store by any writer, or after `ms` at the
   * latest, for readers that tail the global order (the relay). Adapters that cannot tell leave
   * it out and their readers poll.
   */
  waitForAppend?(ms: number): Promise<void>;
  close(): Promise<void>;
}

export class WrongExpectedVersionError extends PatchbayError {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no-stream',
  ) {
    super('WRONG_EXPECTED_VERSION', `stream ${stream}: expected revision ${String(expected)}, actual ${String(actual)}`, { stream, expected: String(expected), actual: String(actual) });
  }
}

export class StreamNotFoundError extends PatchbayError {
  constructor(readonly stream: string) {
    super('STREAM_NOT_FOUND', `stream ${stream} does not exist`, { stream });
  }
}

/** Same event id already stored with different content or position: a retry that is not a retry. */
export class DuplicateEventIdError extends PatchbayError {
  constructor(readonly eventId: string, readonly stream: string) {
    super('DUPLICATE_EVENT_ID', `event id ${eventId} is already stored and does not match this append to ${stream}`, { eventId, stream });
  }
}

/** The store cannot take writes (read-only file, full disk, server refusing). */
export class EventStoreUnavailableError extends PatchbayError {
  constructor(message: string, override readonly cause?: unknown) {
    super('EVENT_STORE_UNAVAILABLE', message);
  }
}

/** A stored event failed its schema or hash checks on read. */
export class CorruptEventError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CORRUPT_EVENT', message, details);
  }
}
