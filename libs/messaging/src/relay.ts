import type { RecordedEvent } from '@patchbay/contracts';
import type { CheckpointStore, EventStore } from '@patchbay/event-store';
import { observeRelayLag, type RelayLag } from '@patchbay/telemetry';
import type { BusLog, PublishResult } from './bus.js';

/** What the relay needs from the bus (a `NatsBus`). */
export interface EventPublisher {
  publishEvent(event: RecordedEvent): Promise<PublishResult>;
}

export interface EventRelayOptions {
  store: EventStore;
  bus: EventPublisher;
  /** Checkpoint name; one relay per name. Default `relay-jetstream`. */
  checkpointName?: string;
  /** Where the checkpoint lives. Default: the store's own checkpoint store. */
  checkpoints?: CheckpointStore;
  /** Events read per page. Default 256. */
  batchSize?: number;
  /** Publishes in flight at once (their acks are awaited in order). Default 64; 1 publishes one at a time. */
  pipeline?: number;
  /**
   * Longest idle wait before looking for new events again. Default 20 ms. A store that can tell
   * when a commit happens (`waitForAppend`: the embedded SQLite store, by any process) wakes the
   * relay at once.
   */
  pollIntervalMs?: number;
  /**
   * The checkpoint is saved at most this often (ms), and within it once the relay has caught up;
   * always when it stops. Default 200. A crash republishes at most what was acknowledged since
   * (JetStream drops the copies by message id).
   */
  checkpointIntervalMs?: number;
  /** Retry delays for a failing publish / read / checkpoint save: doubles from min up to max. Default 100..5000 ms. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * Fault-injection hook for crash tests, inert unless set: called after an event's PubAck and
   * before its checkpoint is saved.
   */
  afterPublishAck?: (event: RecordedEvent, result: PublishResult) => void;
  /**
   * Most events the lag gauge reads after the checkpoint at one collection; a larger backlog is
   * reported as this many. Default 10,000.
   */
  lagProbeLimit?: number;
  log?: BusLog;
}

/** Counters of a running relay. */
export interface RelayStats {
  /** Events acknowledged by JetStream since start (duplicates included). */
  published: number;
  /** Of those, how many JetStream recognised as duplicates of an earlier publish. */
  duplicates: number;
  /** Failed publish, read or save attempts (each was retried). */
  retries: number;
  /** Last saved checkpoint (exclusive global position). */
  checkpoint: bigint | undefined;
}

/**
 * Tails the event store in global order and publishes every event to JetStream, saving its
 * checkpoint only after the events up to it were acknowledged. A crash between ack and save
 * republishes those events with the same message id, which JetStream drops inside its duplicate
 * window and idempotent consumers skip outside it: at least once on the wire, once in effect.
 * Failures (NATS down, store busy) are retried with backoff, in order, never skipped.
 */
export class EventRelay {
  private running: Promise<void> | undefined;
  private abort = new AbortController();
  private readonly waiters: { position: bigint; resolve: () => void }[] = [];
  private stopLagGauge: (() => void) | undefined;
  /** The last read found nothing after the checkpoint: the lag is zero without asking the store. */
  private caughtUp = false;
  /** Acknowledged by JetStream, saved in the checkpoint or not yet (it is saved at most every `checkpointIntervalMs`). */
  private published: bigint | undefined;
  readonly stats: RelayStats = { published: 0, duplicates: 0, retries: 0, checkpoint: undefined };

  constructor(private readonly opts: EventRelayOptions) {}

  get checkpointName(): string {
    return this.opts.checkpointName ?? 'relay-jetstream';
  }

  private get checkpoints(): CheckpointStore {
    return this.opts.checkpoints ?? this.opts.store.checkpoints;
  }

  /** Starts tailing in the background; idempotent. */
  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.caughtUp = false;
    this.stopLagGauge = observeRelayLag(this.checkpointName, () => this.lag());
    this.running = this.run(this.abort.signal).catch((err) => {
      if (!this.abort.signal.aborted) this.opts.log?.('error', 'relay stopped on an unexpected error', { error: (err as Error).message });
    });
  }

  /** Stops after the event in flight; the checkpoint of everything acked so far is saved. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.stopLagGauge?.();
    this.stopLagGauge = undefined;
    await this.running;
    this.running = undefined;
  }

  /**
   * Events in the store after the last one JetStream acknowledged (at most `lagProbeLimit`) and the age of the oldest
   * of them: what `patchbay.relay.lag` and `patchbay.relay.oldest_unrelayed.age` report.
   */
  async lag(now: Date = new Date()): Promise<RelayLag> {
    if (this.caughtUp) return { events: 0, oldestAgeSeconds: 0 };
    const after = this.published ?? this.stats.checkpoint;
    const pending = await this.opts.store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: this.opts.lagProbeLimit ?? 10_000 });
    const oldest = pending[0] ? Date.parse(pending[0].metadata.recordedAt) : NaN;
    return { events: pending.length, oldestAgeSeconds: Number.isFinite(oldest) ? Math.max(0, (now.getTime() - oldest) / 1000) : 0 };
  }

  /** Resolves once the checkpoint has reached `position` (every event up to it is on JetStream). */
  waitFor(position: bigint): Promise<void> {
    if (this.stats.checkpoint !== undefined && this.stats.checkpoint >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  private async run(signal: AbortSignal): Promise<void> {
    const loaded = await this.retrying('load checkpoint', signal, () => this.checkpoints.load(this.checkpointName));
    this.advanced(loaded);
    this.published = loaded;
    const batchSize = this.opts.batchSize ?? 256;
    const saveEveryMs = this.opts.checkpointIntervalMs ?? 200;
    let savedAt = performance.now();
    /** Acknowledged events the saved checkpoint does not cover yet. */
    const unsaved = (): boolean => this.published !== undefined && this.published !== this.stats.checkpoint;
    const save = async (giveUp?: AbortSignal): Promise<void> => {
      if (!unsaved()) return;
      const position = this.published!;
      await this.retrying('save checkpoint', giveUp ? undefined : signal, () => this.checkpoints.save(this.checkpointName, position), giveUp);
      savedAt = performance.now();
      this.advanced(position);
    };
    // Up to `pipeline` publishes in flight on the one connection, and the next page is read while
    // they are: an event committed during a round of acks is on its way without waiting for the
    // round to end. JetStream stores them in the order sent and their acks are taken in that order,
    // so the checkpoint never passes an event that was not acknowledged. A failed publish is retried
    // on its own (the ones behind it may be stored before it then; consumers take events in any order).
    const window = Math.max(1, this.opts.pipeline ?? 64);
    const inFlight: Array<{ event: RecordedEvent; sent: Promise<{ r: PublishResult } | { err: unknown }> }> = [];
    // Settled at once so that a failure behind the one being awaited is not an unhandled rejection.
    const send = (event: RecordedEvent): void => void inFlight.push({ event, sent: this.opts.bus.publishEvent(event).then((r) => ({ r }), (err: unknown) => ({ err })) });
    const settleOldest = async (): Promise<void> => {
      const { event, sent } = inFlight.shift()!;
      // The first attempt is the publish already in flight; `retrying` counts, logs and backs off as for any failure.
      let first: typeof sent | undefined = sent;
      const result = await this.retrying(`publish ${event.metadata.eventId}`, signal, async () => {
        const settled = first;
        first = undefined;
        if (!settled) return this.opts.bus.publishEvent(event);
        const outcome = await settled;
        if ('err' in outcome) throw outcome.err;
        return outcome.r;
      });
      this.stats.published++;
      if (result.duplicate) this.stats.duplicates++;
      this.published = event.position;
      this.opts.afterPublishAck?.(event, result);
    };
    let sentUpTo = this.published;
    try {
      while (!signal.aborted) {
        const page = await this.retrying('read events', signal, () => this.opts.store.readAll({ after: sentUpTo, maxCount: batchSize }));
        if (page.length === 0) {
          if (inFlight.length > 0) {
            // Nothing new: take the acks of what is in flight, then look again.
            while (inFlight.length > 0 && !signal.aborted) await settleOldest();
            continue;
          }
          this.caughtUp = true;
          // Caught up: the checkpoint is saved once its interval has passed since the last save,
          // not at every catch-up — a save is a write transaction with an fsync on the store, which
          // holds this loop (events committed meanwhile wait) and the services' appends. Until it
          // is due the relay waits for the next commit at most until then.
          const dueInMs = saveEveryMs - (performance.now() - savedAt);
          if (dueInMs <= 0) await save();
          await this.idle(signal, unsaved() ? Math.max(1, Math.ceil(dueInMs)) : undefined);
          continue;
        }
        this.caughtUp = false;
        for (const event of page) {
          while (inFlight.length >= window && !signal.aborted) await settleOldest();
          if (signal.aborted) break;
          send(event);
          sentUpTo = event.position;
        }
        // Under a steady stream the checkpoint is saved at most every `checkpointIntervalMs`, of
        // what was acknowledged so far; a crash before a save only republishes events JetStream
        // drops as duplicates.
        if (performance.now() - savedAt >= saveEveryMs) await save();
      }
    } finally {
      // Saved on the way out too, so a stop never republishes more than it must.
      await save(signal);
    }
  }

  /** Waits for the next commit to the store (where the store can tell) or the poll interval (or `atMostMs`, when shorter). */
  private idle(signal: AbortSignal, atMostMs?: number): Promise<void> {
    const ms = Math.min(this.opts.pollIntervalMs ?? 20, atMostMs ?? Infinity);
    const store = this.opts.store;
    if (!store.waitForAppend || signal.aborted) return sleep(ms, signal);
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      store.waitForAppend!(ms).then(done, done);
    });
  }

  private advanced(position: bigint | undefined): void {
    this.stats.checkpoint = position;
    if (position === undefined) return;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.position <= position) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /**
   * Retries `work` with exponential backoff until it succeeds or `signal` aborts. `giveUp`, when
   * given instead of `signal`, lets a final checkpoint save run a few times after a stop.
   */
  private async retrying<T>(what: string, signal: AbortSignal | undefined, work: () => Promise<T>, giveUp?: AbortSignal): Promise<T> {
    let delay = this.opts.retryMinMs ?? 100;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new RelayStoppedError();
      try {
        return await work();
      } catch (err) {
        this.stats.retries++;
        this.opts.log?.('warn', `relay: ${what} failed; retrying`, { attempt, delayMs: delay, error: (err as Error).message });
        if (giveUp?.aborted && attempt >= 5) throw err;
        await sleep(delay, signal);
        delay = Math.min(delay * 2, this.opts.retryMaxMs ?? 5000);
      }
    }
  }
}

class RelayStoppedError extends Error {
  constructor() {
    super('relay stopped');
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
