import { randomBytes } from 'node:crypto';
import { DeliverPolicy, type ConsumerMessages } from 'nats';
import { PatchbayError, type RecordedEvent } from '@patchbay/contracts';
import { decodeEvent, type NatsBus } from '@patchbay/messaging';

const EVENTS_STREAM = 'PATCHBAY_EVENTS';

/** Events one subscriber may fall behind by (queued in this replica) before its subscription ends. */
export const DEFAULT_MAX_SUBSCRIBER_BACKLOG = 100_000;

/**
 * A subscriber fell too far behind the events (a client or connection slower than the event
 * rate for long): its subscription ends with this error instead of skipping events silently.
 * The client subscribes again and reads what it missed from `cycleHistory`.
 */
export class SubscriberTooSlowError extends PatchbayError {
  constructor(backlog: number) {
    super('SUBSCRIPTION_TOO_SLOW', `the subscriber fell ${backlog} events behind; the subscription ended so that no event is skipped silently: subscribe again and read what was missed with cycleHistory`, { backlog });
  }
}

/**
 * One subscriber's items (events, or results of a shared subscription), in order: a FIFO of up to
 * `maxBacklog` items, then the iterator fails with {@link SubscriberTooSlowError}. Pushing is O(1)
 * and allocates nothing while the consumer keeps up; `return()` unregisters it; `end()` finishes
 * it after what is queued.
 */
export class SubscriberQueue<T = RecordedEvent> implements AsyncIterableIterator<T> {
  private queue: T[] = [];
  private head = 0;
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private ending = false;
  private failure: SubscriberTooSlowError | undefined;
  private closed = false;

  constructor(private readonly maxBacklog: number, private readonly unregister: () => void) {}

  push(event: T): void {
    if (this.closed || this.failure || this.ending) return;
    // A read is waiting only when nothing is queued: hand the event over directly.
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value: event, done: false });
      return;
    }
    if (this.queue.length - this.head >= this.maxBacklog) {
      this.failure = new SubscriberTooSlowError(this.maxBacklog);
      this.queue = [];
      this.head = 0;
      this.unregister();
      return;
    }
    this.queue.push(event);
  }

  /** No more items: the iterator is done once what is queued has been taken. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.waiting) this.close();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++]!;
      // Drop the consumed front now and then, so a long-lived queue does not keep every event.
      if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.failure) {
      // Reported once; the iterator is done after that.
      const err = this.failure;
      this.failure = undefined;
      this.close();
      return Promise.reject(err);
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    if (this.ending) {
      this.close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.close();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** Events queued and not yet taken. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.unregister();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }
}

/**
 * The replica's subscribers by topic: every event (`patch-event`) or one cycle's (`cycle`, id).
 * Replaces an EventTarget + Repeater pub/sub whose listener threw (RepeaterOverflowError, an
 * uncaught exception in an event listener) and lost the event once a subscriber was 1,024
 * events behind, which a WebSocket client reaches within a second of a large cycle.
 */
export class FanoutPubSub {
  private readonly topics = new Map<string, Set<SubscriberQueue>>();

  constructor(readonly maxBacklog: number = DEFAULT_MAX_SUBSCRIBER_BACKLOG) {}

  publish(topic: 'patch-event', event: RecordedEvent): void;
  publish(topic: 'cycle', cycleId: string, event: RecordedEvent): void;
  publish(topic: string, a: string | RecordedEvent, b?: RecordedEvent): void {
    const key = b === undefined ? topic : `${topic}:${a as string}`;
    const subs = this.topics.get(key);
    if (!subs) return;
    const event = b ?? (a as RecordedEvent);
    for (const s of subs) s.push(event);
  }

  subscribe(topic: 'patch-event'): AsyncIterableIterator<RecordedEvent>;
  subscribe(topic: 'cycle', cycleId: string): AsyncIterableIterator<RecordedEvent>;
  subscribe(topic: string, id?: string): AsyncIterableIterator<RecordedEvent> {
    const key = id === undefined ? topic : `${topic}:${id}`;
    let subs = this.topics.get(key);
    if (!subs) this.topics.set(key, (subs = new Set()));
    const set = subs;
    const q: SubscriberQueue = new SubscriberQueue(this.maxBacklog, () => {
      set.delete(q);
      if (set.size === 0 && this.topics.get(key) === set) this.topics.delete(key);
    });
    set.add(q);
    return q;
  }

  /** Subscribers registered now (all topics). */
  get subscribers(): number {
    let n = 0;
    for (const s of this.topics.values()) n += s.size;
    return n;
  }
}

/**
 * Every event as it happens, for this gateway replica: an ordered (ephemeral, durable-less)
 * JetStream consumer on `patchbay.evt.>` starting at new messages, feeding an in-process pub/sub.
 * Each replica has its own consumer, so a subscriber on any replica sees every event; nothing
 * is acknowledged and the server removes the consumer when the replica goes away.
 */
export class EventFanout {
  readonly pubsub: FanoutPubSub;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<(e: RecordedEvent) => void>();

  constructor(
    private readonly bus: NatsBus,
    private readonly onError: (err: unknown) => void = () => undefined,
    options: { maxSubscriberBacklog?: number } = {},
  ) {
    this.pubsub = new FanoutPubSub(options.maxSubscriberBacklog);
  }

  /** Starts the consumer; resolves once it is created (events from then on are delivered). */
  async start(): Promise<void> {
    // A name of its own per replica (a shared name would split the events between replicas);
    // one filter subject (not `filter_subjects`) so nats-server before 2.10 accepts it too.
    const consumer = await this.bus.jetstream.consumers.get(EVENTS_STREAM, { filterSubjects: 'patchbay.evt.>', deliver_policy: DeliverPolicy.New, name_prefix: `gateway_fanout_${randomBytes(8).toString('hex')}` });
    this.messages = await consumer.consume({ max_messages: 256 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) {
        try {
          this.publish(decodeEvent(m.data));
        } catch (err) {
          this.onError(err);
        }
      }
    })();
  }

  /** Hands one event to every local subscriber (token events stay internal: they carry secret hashes). */
  publish(event: RecordedEvent): void {
    if (event.metadata.stream.startsWith('api-token-')) return;
    this.pubsub.publish('patch-event', event);
    const cycleId = cycleIdOfEvent(event);
    if (cycleId) this.pubsub.publish('cycle', cycleId, event);
    for (const l of this.listeners) l(event);
  }

  /** A plain callback for every event (used by caches that follow the stream). */
  onEvent(listener: (e: RecordedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
  }
}

/** The cycle an event belongs to: `cycle-<id>` and `run-<id>.<endpoint>` streams. */
export function cycleIdOfEvent(event: RecordedEvent): string | undefined {
  const s = event.metadata.stream;
  if (s.startsWith('cycle-')) return s.slice('cycle-'.length);
  if (s.startsWith('run-')) {
    const rest = s.slice('run-'.length);
    const dot = rest.indexOf('.');
    return dot < 0 ? undefined : rest.slice(0, dot);
  }
  return undefined;
}
