import { createHash } from 'node:crypto';
import {
  ANY,
  BACKWARDS,
  END,
  ErrorType,
  FORWARDS,
  jsonEvent,
  KurrentDBClient,
  NO_STREAM,
  START,
  streamNameFilter,
} from '@kurrent/kurrentdb-client';
import type { AllStreamResolvedEvent, AllStreamSubscription, AppendStreamState, Filter, Position, ResolvedEvent } from '@kurrent/kurrentdb-client';
import { canonicalJson, GENESIS_HASH, ValidationError } from '@patchbay/contracts';
import type { EventMetadata, NewEvent, RecordedEvent } from '@patchbay/contracts';
import {
  CorruptEventError,
  DuplicateEventIdError,
  EventStoreUnavailableError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from './port.js';
import type { AppendResult, CheckpointStore, EventStore, EventStoreCapabilities, ExpectedRevision, ReadAllOptions, ReadStreamOptions, StreamWrite, SubscribeOptions, Subscription } from './port.js';
import { checkAppend, checkAppendMany, checkCategories, checkMaxCount, checkStoredMetadata, checkStreamName, seal } from './sealing.js';
import type { CheckedEvent } from './sealing.js';

/** Options of {@link KurrentEventStore.connect}. */
export interface KurrentEventStoreOptions {
  /** Where subscriptions keep checkpoints; default: one `$patchbay-checkpoint-<name>` stream per name. */
  checkpoints?: CheckpointStore;
  /**
   * How many of a stream's latest events an append searches for its own event ids to recognise a
   * retry whose expected revision is stale. Default 1,000.
   */
  retryWindow?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Namespace of the name-based UUIDs made from event ids that are not UUIDs themselves. */
const EVENT_ID_NAMESPACE = Buffer.from('6f3c1c2e8a4b5d7e9f10a1b2c3d4e5f6', 'hex');

/**
 * The KurrentDB event id of one of our event ids: the id itself when it is a UUID, else a
 * deterministic name-based UUID (RFC 9562 version 5: SHA-1 of namespace + id), so a retried append
 * carries the same server-side id and the server's own idempotency check applies too.
 */
export function toKurrentEventId(eventId: string): string {
  const lower = eventId.toLowerCase();
  if (UUID.test(lower)) return lower;
  const h = createHash('sha1').update(EVENT_ID_NAMESPACE).update(eventId, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const LOW_64 = (1n << 64n) - 1n;

/**
 * Our opaque global position for a KurrentDB `$all` position: commit × 2^64 + prepare. Events of
 * one multi-event append share a commit position and differ in prepare position, so neither alone
 * identifies an event; this keeps both, exactly, and orders like `$all` (commit, then prepare).
 */
export function fromKurrentPosition(p: Position): bigint {
  return (p.commit << 64n) | (p.prepare & LOW_64);
}

/** The `$all` position behind one of our positions (inverse of {@link fromKurrentPosition}). */
export function toKurrentPosition(position: bigint): Position {
  return { commit: position >> 64n, prepare: position & LOW_64 };
}

const errorType = (error: unknown): string | undefined => (error as { type?: unknown })?.type as string | undefined;

const UNAVAILABLE = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.TIMEOUT,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.NOT_LEADER,
  ErrorType.ACCESS_DENIED,
  ErrorType.CANCELLED,
  ErrorType.UNKNOWN,
  ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED,
]);

/** Maps a client error to the port's vocabulary; anything unknown is rethrown as is. */
function translate(error: unknown, doing: string, stream?: string, expected?: ExpectedRevision): unknown {
  const type = errorType(error);
  if (type === ErrorType.WRONG_EXPECTED_VERSION && stream !== undefined && expected !== undefined) {
    const actual = (error as { actualState?: unknown }).actualState;
    return new WrongExpectedVersionError(stream, expected, typeof actual === 'bigint' ? Number(actual) : 'no-stream');
  }
  if ((type === ErrorType.STREAM_NOT_FOUND || type === ErrorType.STREAM_DELETED || type === ErrorType.STREAM_TOMBSTONED) && stream !== undefined) {
    return new StreamNotFoundError(stream);
  }
  if (type !== undefined && UNAVAILABLE.has(type)) return new EventStoreUnavailableError(`event store cannot ${doing}: ${type}: ${(error as Error).message}`, error);
  return error;
}

/** Turns a KurrentDB event carrying our metadata into a recorded event, or `CORRUPT_EVENT`. */
function decode(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent {
  const e = resolved.event;
  if (!e) throw new CorruptEventError('event without a record (deleted link?)');
  const where = { stream: e.streamId, revision: String(e.revision), id: e.id };
  if (!e.isJson) throw new CorruptEventError('stored event is not JSON', where);
  const raw = e.metadata as Record<string, unknown> | undefined;
  if (!raw || typeof raw !== 'object') throw new CorruptEventError('stored event has no Patchbay metadata', where);
  const m: Record<string, unknown> = {
    eventId: raw.eventId,
    stream: raw.stream,
    revision: raw.revision,
    correlationId: raw.correlationId,
    causationId: raw.causationId,
    actor: raw.actor,
    recordedAt: raw.recordedAt,
    schemaVersion: raw.schemaVersion,
    prevHash: raw.prevHash,
    hash: raw.hash,
  };
  if (raw.traceparent !== undefined) m.traceparent = raw.traceparent;
  if (raw.tracestate !== undefined) m.tracestate = raw.tracestate;
  const metadata = checkStoredMetadata(m, () => where);
  if (metadata.stream !== e.streamId || BigInt(metadata.revision) !== e.revision) {
    throw new CorruptEventError('stored metadata names another stream position', where);
  }
  // Servers before 22.6 give stream reads no event position; the commit position alone is the best left.
  const commit = resolved.commitPosition;
  const position = e.position ? fromKurrentPosition(e.position) : commit !== undefined ? fromKurrentPosition({ commit, prepare: commit }) : undefined;
  if (position === undefined) throw new CorruptEventError('stored event has no position', where);
  return { type: e.type, data: e.data, metadata: metadata as EventMetadata, position };
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Server-side filter: our categories, or every non-system stream. */
function filterFor(categories: readonly string[] | undefined): Filter {
  if (!categories) return streamNameFilter({ regex: '^[^$]' });
  return streamNameFilter({ regex: `^(?:${categories.map(escapeRegex).join('|')})(?:-|$)` });
}

/** Checkpoints as the last event of a `$patchbay-checkpoint-<name>` stream (kept short with `$maxCount`). */
export class KurrentCheckpointStore implements CheckpointStore {
  private readonly trimmed = new Set<string>();

  constructor(private readonly client: KurrentDBClient) {}

  private streamOf(name: string): string {
    if (typeof name !== 'string' || name.length === 0) throw new ValidationError('checkpoint name must be a non-empty string', { field: 'name' });
    return `$patchbay-checkpoint-${name}`;
  }

  /** The saved position, or undefined when none was saved. */
  async load(name: string): Promise<bigint | undefined> {
    const stream = this.streamOf(name);
    try {
      for await (const r of this.client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
        const position = (r.event?.data as { position?: unknown } | undefined)?.position;
        if (typeof position !== 'string' || !/^\d+$/.test(position)) throw new CorruptEventError(`checkpoint ${name} is unreadable`, { stream });
        return BigInt(position);
      }
      return undefined;
    } catch (error) {
      if (errorType(error) === ErrorType.STREAM_NOT_FOUND) return undefined;
      throw translate(error, `load checkpoint ${name}`);
    }
  }

  /** Saves a position (bigint >= 0). */
  async save(name: string, position: bigint): Promise<void> {
    const stream = this.streamOf(name);
    if (typeof position !== 'bigint' || position < 0n) throw new ValidationError('checkpoint position must be a bigint >= 0', { field: 'position' });
    try {
      await this.client.appendToStream(stream, jsonEvent({ type: 'CheckpointSaved', data: { position: position.toString() } }), { streamState: ANY });
      if (!this.trimmed.has(stream)) {
        // Only the latest checkpoint matters; let the server scavenge the rest.
        await this.client.setStreamMetadata(stream, { maxCount: 5 });
        this.trimmed.add(stream);
      }
    } catch (error) {
      throw translate(error, `save checkpoint ${name}`);
    }
  }
}

/**
 * Event store on KurrentDB (EventStoreDB's successor) through `@kurrent/kurrentdb-client`.
 *
 * Our metadata, including the per-stream hash chain, travels in each event's JSON metadata (plus
 * `$correlationId`/`$causationId` for the server's own projections). To extend the chain an append
 * reads the stream head and then appends with that exact revision, so a concurrent writer makes it
 * fail (for `'any'`/`'stream-exists'` it re-reads and tries again) rather than fork the chain.
 * Positions are `$all` positions packed into one bigint ({@link fromKurrentPosition}). `readStream` throws `StreamNotFoundError` like the client does.
 */
export class KurrentEventStore implements EventStore {
  readonly checkpoints: CheckpointStore;
  /** KurrentDB appends one stream per transaction: `appendMany` is a sequence, not atomic. */
  readonly capabilities: EventStoreCapabilities = Object.freeze({ atomicMultiStreamAppend: false });
  private readonly subscriptions = new Set<KurrentCatchUpSubscription>();
  private readonly retryWindow: number;

  private constructor(
    /** The underlying client, for operations the port does not cover. */
    readonly client: KurrentDBClient,
    options: KurrentEventStoreOptions,
  ) {
    this.checkpoints = options.checkpoints ?? new KurrentCheckpointStore(client);
    this.retryWindow = options.retryWindow ?? 1_000;
  }

  /**
   * Connects with a connection string such as `kurrentdb://admin:changeit@host:2113?tls=false`
   * (TLS, credentials, node preference and discovery all come from the string). The client
   * connects lazily; the first call reports an unreachable server as `EVENT_STORE_UNAVAILABLE`.
   */
  static connect(connectionString: string, options: KurrentEventStoreOptions = {}): KurrentEventStore {
    if (typeof connectionString !== 'string' || connectionString.length === 0) {
      throw new ValidationError('KurrentDB connection string must be a non-empty string', { field: 'EVENTSTORE_URL' });
    }
    let client: KurrentDBClient;
    try {
      client = KurrentDBClient.connectionString(connectionString);
    } catch (error) {
      throw new ValidationError(`invalid KurrentDB connection string: ${(error as Error).message}`, { field: 'EVENTSTORE_URL' });
    }
    return new KurrentEventStore(client, options);
  }

  /** Appends atomically; see the port for expected revisions and idempotent retries. */
  async append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const input = checkAppend(stream, events, expected);
    for (let attempt = 0; ; attempt++) {
      const head = await this.head(input.stream);
      const actual = head ? head.revision : -1;
      const mismatch =
        (input.expected === 'no-stream' && actual !== -1) ||
        (input.expected === 'stream-exists' && actual === -1) ||
        (typeof input.expected === 'number' && input.expected !== actual);
      // A retry is checked before the revision: it carries the revision of its first attempt.
      // Only a stream that exists can hold it, and only a stale or unpinned expectation can be one.
      if (actual !== -1 && (mismatch || input.expected === 'any' || input.expected === 'stream-exists')) {
        const retry = await this.matchRetry(input.stream, input.events);
        if (retry) return retry;
      }
      if (mismatch) throw new WrongExpectedVersionError(input.stream, input.expected, actual === -1 ? 'no-stream' : actual);
      const recordedAt = new Date().toISOString();
      let prevHash = head ? head.hash : GENESIS_HASH;
      const data = input.events.map((e, i) => {
        const m = seal(e, input.stream, actual + 1 + i, prevHash, recordedAt);
        prevHash = m.hash;
        return jsonEvent({
          id: toKurrentEventId(e.eventId),
          type: e.type,
          data: JSON.parse(e.dataJson) as never,
          metadata: { ...m, $correlationId: m.correlationId, $causationId: m.causationId },
        });
      });
      // Pin the exact head we chained from, whatever the caller expected.
      const streamState: AppendStreamState = actual === -1 ? NO_STREAM : BigInt(actual);
      try {
        const r = await this.client.appendToStream(input.stream, data, { streamState });
        // For one event the returned position is that event's; for a batch read the last one back.
        const position = r.position && data.length === 1 ? fromKurrentPosition(r.position) : ((await this.head(input.stream))?.position ?? 0n);
        return { nextExpectedRevision: Number(r.nextExpectedRevision), position, duplicate: false };
      } catch (error) {
        if (errorType(error) === ErrorType.WRONG_EXPECTED_VERSION) {
          // Someone appended between our head read and our append.
          if ((input.expected === 'any' || input.expected === 'stream-exists') && attempt < 10) continue;
          const retry = await this.matchRetry(input.stream, input.events);
          if (retry) return retry;
        }
        throw translate(error, `append to ${input.stream}`, input.stream, input.expected);
      }
    }
  }

  /**
   * NOT atomic: KurrentDB has no multi-stream transaction, so the writes are appended one after
   * the other, in order, each atomic on its own. Everything is validated before the first append
   * (bad input anywhere stores nothing), but a failure part-way (a wrong expected revision, the
   * server gone) leaves the earlier writes stored. Re-running the same call completes it: with the
   * same event ids the stored writes come back as `duplicate: true` retries and the rest are
   * appended. `capabilities.atomicMultiStreamAppend` is false to say so.
   */
  async appendMany(writes: readonly StreamWrite[]): Promise<AppendResult[]> {
    checkAppendMany(writes);
    const results: AppendResult[] = [];
    for (const w of writes) results.push(await this.append(w.stream, w.events, w.expected));
    return results;
  }

  private async head(stream: string): Promise<{ revision: number; hash: string; position: bigint } | undefined> {
    const [last] = await this.readStream(stream, { direction: 'backwards', maxCount: 1, ifMissing: 'empty' });
    return last ? { revision: last.metadata.revision, hash: last.metadata.hash, position: last.position } : undefined;
  }

  /** Looks for the batch's ids among the stream's latest `retryWindow` events (see SqliteEventStore for the rules). */
  private async matchRetry(stream: string, events: CheckedEvent[]): Promise<AppendResult | undefined> {
    const recent = await this.readStream(stream, { direction: 'backwards', maxCount: this.retryWindow, ifMissing: 'empty' });
    const byId = new Map(recent.map((e) => [e.metadata.eventId, e]));
    let found = 0;
    let first: RecordedEvent | undefined;
    let last: RecordedEvent | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const stored = byId.get(e.eventId);
      if (!stored) {
        if (found > 0) throw new DuplicateEventIdError(events[i - 1]!.eventId, stream);
        continue;
      }
      if (found !== i || stored.type !== e.type || canonicalJson(stored.data) !== e.dataJson) throw new DuplicateEventIdError(e.eventId, stream);
      if (first && stored.metadata.revision !== first.metadata.revision + i) throw new DuplicateEventIdError(e.eventId, stream);
      first ??= stored;
      last = stored;
      found++;
    }
    if (!last) return undefined;
    return { nextExpectedRevision: last.metadata.revision, position: last.position, duplicate: true };
  }

  /** Reads one stream; throws `StreamNotFoundError` when it has no events unless `ifMissing: 'empty'`. */
  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    checkStreamName(stream);
    const maxCount = checkMaxCount(options.maxCount);
    const backwards = options.direction === 'backwards';
    if (options.direction !== undefined && options.direction !== 'forwards' && !backwards) {
      throw new ValidationError("direction must be 'forwards' or 'backwards'", { field: 'direction' });
    }
    const from = options.fromRevision;
    if (from !== undefined && (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0)) {
      throw new ValidationError('fromRevision must be an integer >= 0', { field: 'fromRevision' });
    }
    if (maxCount === 0) return [];
    const out: RecordedEvent[] = [];
    try {
      const reader = this.client.readStream(stream, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: from !== undefined ? BigInt(from) : backwards ? END : START,
        ...(maxCount !== undefined ? { maxCount } : {}),
      });
      for await (const resolved of reader) out.push(decode(resolved));
    } catch (error) {
      const translated = translate(error, `read ${stream}`, stream);
      if (translated instanceof StreamNotFoundError && options.ifMissing === 'empty') return [];
      throw translated;
    }
    return out;
  }

  /** Reads `$all` after `options.after`, our streams only or some categories. */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after;
    if (after !== undefined && typeof after !== 'bigint') throw new ValidationError('after must be a bigint position', { field: 'after' });
    const maxCount = checkMaxCount(options.maxCount);
    const categories = checkCategories(options.categories);
    if (maxCount === 0) return [];
    const out: RecordedEvent[] = [];
    try {
      const reader = this.client.readAll({
        direction: FORWARDS,
        fromPosition: after === undefined ? START : toKurrentPosition(after),
        filter: filterFor(categories),
        // fromPosition is inclusive: one extra in case the event at `after` comes back.
        ...(maxCount !== undefined ? { maxCount: maxCount + 1 } : {}),
      });
      for await (const resolved of reader) {
        if (!resolved.event) continue;
        const e = decode(resolved);
        if (after !== undefined && e.position <= after) continue;
        out.push(e);
        if (maxCount !== undefined && out.length >= maxCount) break;
      }
    } catch (error) {
      throw translate(error, 'read all events');
    }
    return out;
  }

  /**
   * Catch-up subscription on `subscribeToAll` from the saved checkpoint. The checkpoint is saved
   * after every 100 handled events, 200 ms after the last one, and on `stop()`.
   */
  subscribe(options: SubscribeOptions): Subscription {
    if (!options || typeof options.name !== 'string' || options.name.length === 0) throw new ValidationError('subscription name must be a non-empty string', { field: 'name' });
    if (typeof options.handler !== 'function') throw new ValidationError('subscription handler must be a function', { field: 'handler' });
    const categories = checkCategories(options.categories);
    const sub = new KurrentCatchUpSubscription(this, { ...options, categories, checkpoints: options.checkpoints ?? this.checkpoints });
    this.subscriptions.add(sub);
    return {
      caughtUp: sub.caughtUp,
      stop: async () => {
        this.subscriptions.delete(sub);
        await sub.stop();
      },
    };
  }

  /** Stops subscriptions (saving checkpoints) and closes the client. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.subscriptions.clear();
    await this.client.dispose();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class KurrentCatchUpSubscription {
  readonly caughtUp: Promise<void>;
  private resolveCaughtUp!: () => void;
  private stopped = false;
  private live: AllStreamSubscription | undefined;
  private readonly done: Promise<void>;
  private handled: bigint | undefined;
  private saved: bigint | undefined;
  private sinceSave = 0;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: KurrentEventStore,
    private readonly options: SubscribeOptions & { checkpoints: CheckpointStore },
  ) {
    this.caughtUp = new Promise((resolve) => (this.resolveCaughtUp = resolve));
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.live?.unsubscribe().catch(() => undefined);
    await this.done;
  }

  private report(error: unknown, event?: RecordedEvent): void {
    try {
      this.options.onError?.(error, event);
    } catch {
      // A failing error reporter must not stop delivery.
    }
  }

  private async save(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const position = this.handled;
    if (position === undefined || position === this.saved) return;
    try {
      await this.options.checkpoints.save(this.options.name, position);
      this.saved = position;
      this.sinceSave = 0;
    } catch (error) {
      this.report(error);
    }
  }

  private async run(): Promise<void> {
    let backoff = 100;
    try {
      while (!this.stopped) {
        try {
          if (this.handled === undefined) this.saved = this.handled = await this.options.checkpoints.load(this.options.name);
          // Where $all ends now (for our filter): reaching it means caught up, even on servers without the caughtUp message.
          const [headEvent] = await this.lastMatching();
          if (!headEvent || (this.handled !== undefined && headEvent <= this.handled)) this.resolveCaughtUp();
          const live = this.store.client.subscribeToAll({
            fromPosition: this.handled === undefined ? START : toKurrentPosition(this.handled),
            filter: filterFor(this.options.categories),
          });
          this.live = live;
          live.on('caughtUp', () => this.resolveCaughtUp());
          if (this.stopped) await live.unsubscribe();
          for await (const resolved of live) {
            if (this.stopped) break;
            if (!resolved.event) continue;
            const event = decode(resolved);
            if (this.handled !== undefined && event.position <= this.handled) continue;
            await this.deliver(event);
            if (this.stopped) break;
            backoff = 100;
            if (headEvent !== undefined && event.position >= headEvent) this.resolveCaughtUp();
          }
        } catch (error) {
          if (this.stopped) break;
          this.report(translate(error, 'subscribe to $all'));
          await this.save();
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 5_000);
        }
      }
    } finally {
      await this.save();
      this.resolveCaughtUp();
    }
  }

  private async lastMatching(): Promise<bigint[]> {
    const out: bigint[] = [];
    // Filtered backwards reads need a recent server; without it the caughtUp message still resolves caughtUp.
    for await (const r of this.store.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, filter: filterFor(this.options.categories) })) {
      if (r.event?.position) out.push(fromKurrentPosition(r.event.position));
    }
    return out;
  }

  private async deliver(event: RecordedEvent): Promise<void> {
    let backoff = 50;
    for (;;) {
      if (this.stopped) return;
      try {
        await this.options.handler(event);
        break;
      } catch (error) {
        this.report(error, event);
        await this.save();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
    this.handled = event.position;
    if (++this.sinceSave >= 100) await this.save();
    else if (!this.saveTimer) this.saveTimer = setTimeout(() => void this.save(), 200);
  }
}
