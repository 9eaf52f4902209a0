import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  ErrorCode,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  connect,
  headers as natsHeaders,
  nanos,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type StreamConfig,
  type StreamInfo,
  type Subscription,
} from 'nats';
import { PatchbayError, ValidationError, categoryOf, commandEnvelopeSchema, errorFromJSON, eventSubject, type CommandEnvelope, type RecordedEvent } from '@patchbay/contracts';
import { DLQ_HEADERS, EVENT_HEADERS, commandReplySchema, decodeEnvelope, decodeEvent, encodeEvent, encodeJson, parseJson, type CommandReply } from './codec.js';
import { BusClosedError, CommandTimeoutError, InvalidReplyError, PublishFailedError, ServiceUnavailableError, toPatchbayError } from './errors.js';
import { contextFromTraceparent, extractTrace, injectTrace, tracer } from './trace.js';
import { PubAckInbox, type PubAck } from './pub-acks.js';
import { observeConsumerLag, type ConsumerLag } from '@patchbay/telemetry';

/** JetStream stream holding every published event. */
export const EVENTS_STREAM = 'PATCHBAY_EVENTS';
/** JetStream stream holding dead-lettered deliveries. */
export const DLQ_STREAM = 'PATCHBAY_DLQ';
export const EVENTS_SUBJECTS = 'patchbay.evt.>';
export const DLQ_SUBJECTS = 'patchbay.dlq.>';
/** Subject a durable consumer dead-letters to. */
export const dlqSubject = (durable: string): string => `patchbay.dlq.${durable}`;

export type BusLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type BusLog = (level: BusLogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface NatsBusOptions {
  /** One server URL or several (a cluster). */
  servers: string | string[];
  /** Connection name as the server shows it: the service name. */
  name: string;
  /** Wait between reconnect attempts; reconnects never give up. Default 250 ms. */
  reconnectTimeWaitMs?: number;
  /**
   * JetStream replicas of the streams (3 on a cluster). Default 1 when this process creates them;
   * an existing stream is changed only when this option is given.
   */
  replicas?: number;
  /** JetStream de-duplication window for event message ids. Default 2 minutes; as for `replicas`. */
  duplicateWindowMs?: number;
  /** Default deadline of `request`. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** Timeout of one JetStream publish (waiting for its PubAck). Default 5000 ms. */
  publishTimeoutMs?: number;
  /** Longest wait for `close` to drain before it closes outright. Default 5000 ms. */
  drainTimeoutMs?: number;
  /** Skip stream creation (a client that only sends commands). Default false. */
  skipStreamSetup?: boolean;
  log?: BusLog;
}

/** What the handler of a durable consumer learns about the delivery besides the event. */
export interface EventDelivery {
  durable: string;
  subject: string;
  /** Sequence of the message in the JetStream stream. */
  streamSequence: number;
  /** 1 on first delivery, then 2, 3... */
  deliveryCount: number;
  headers: MsgHdrs | undefined;
}

export type EventHandler = (event: RecordedEvent, delivery: EventDelivery) => Promise<void> | void;

export interface ConsumeOptions {
  /** Attempts before a failing event is dead-lettered. Default 5. */
  maxDeliver?: number;
  /** How long the server waits for an ack before redelivering. Default 30 s. */
  ackWaitMs?: number;
  /** Delay in ms before each retry (`nak` delay), indexed by attempt; the last value repeats. Default [250, 1000, 5000]. */
  backoff?: readonly number[];
  /**
   * Unacknowledged messages the server lets one durable have in flight. Default 1, which keeps
   * delivery in stream order even across retries; raise it only for handlers that do not need order.
   */
  maxAckPending?: number;
  /**
   * Called with each message's subject before anything else is done with it; `false` acknowledges
   * the message at once, without decoding it or calling the handler (the consumer has nothing to do
   * with it now, e.g. no webhook is registered). Decoding and tracing an event costs far more than
   * this check.
   */
  wants?: (subject: string) => boolean;
  /**
   * Messages handled at once (default 1: one after the other, in stream order). Above 1 each
   * message is acknowledged when its own handler ends, in whatever order they end: for handlers
   * that do not need order and spend most of their time waiting (the executor's claims wait for
   * their commit). At most `maxAckPending` are ever in flight.
   */
  concurrency?: number;
}

/** A running durable consumer. */
export interface EventConsumer {
  readonly durable: string;
  /** Stops pulling; resolves after the handler calls in progress have finished. */
  stop(): Promise<void>;
}

export interface RequestOptions {
  timeoutMs?: number;
  headers?: MsgHdrs;
}

export interface ServeOptions {
  /** Queue group: replicas in the same group share the commands. */
  queue?: string;
}

export interface CommandContext {
  subject: string;
  headers: MsgHdrs | undefined;
}

export type CommandHandler = (envelope: CommandEnvelope, ctx: CommandContext) => Promise<unknown> | unknown;

/** Result of one JetStream publish. */
export interface PublishResult {
  subject: string;
  streamSequence: number;
  /** True when JetStream had already stored this event id inside its duplicate window. */
  duplicate: boolean;
}

const TOKEN = /^[^\s.*>]+$/;

/** Subject an event is published on: `patchbay.evt.<category>.<type>`. */
export function subjectOfEvent(event: RecordedEvent): string {
  const category = categoryOf(event.metadata.stream);
  if (!TOKEN.test(category)) throw new ValidationError(`stream category ${JSON.stringify(category)} is not a valid subject token`, { stream: event.metadata.stream });
  if (!TOKEN.test(event.type)) throw new ValidationError(`event type ${JSON.stringify(event.type)} is not a valid subject token`, { type: event.type });
  return eventSubject(category, event.type);
}

/** NATS subject matching with `*` (one token) and `>` (the rest). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number; code?: number } };
  return e?.code === '404' || e?.api_error?.code === 404;
}

/**
 * The product's bus on NATS: JetStream for events (publish with de-duplication, durable pull
 * consumers with bounded retries and a dead-letter stream) and core request/reply for commands.
 */
export class NatsBus {
  private readonly consumers = new Set<EventConsumer>();
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;
  /** Acknowledgements of JetStream publishes (events, dead letters), on one inbox (made at the first publish). */
  private pubAcks: PubAckInbox | undefined;
  /** Unregisters the `patchbay.consumer.lag` gauge of this bus's consumers. */
  private stopLagGauge: (() => void) | undefined;

  private constructor(
    readonly connection: NatsConnection,
    readonly jetstream: JetStreamClient,
    readonly manager: JetStreamManager,
    private readonly opts: NatsBusOptions,
  ) {}

  /** Connects (unlimited reconnects) and makes sure the event and dead-letter streams exist. */
  static async connect(opts: NatsBusOptions): Promise<NatsBus> {
    const nc = await connect({
      servers: opts.servers,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 250,
      waitOnFirstConnect: false,
      // Without this every request (each JetStream publish among them) builds two Error objects
      // up front only to enrich a timeout's stack: a tenth of the relay's CPU.
      noAsyncTraces: true,
    });
    try {
      const bus = new NatsBus(nc, nc.jetstream({ timeout: opts.publishTimeoutMs ?? 5000 }), await nc.jetstreamManager(), opts);
      if (!opts.skipStreamSetup) await bus.ensureStreams();
      return bus;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  private log(level: BusLogLevel, message: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, message, fields);
  }

  /** Creates or updates `PATCHBAY_EVENTS` and `PATCHBAY_DLQ`; safe to call from every process. */
  async ensureStreams(): Promise<void> {
    const common: Partial<StreamConfig> = {
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: this.opts.replicas ?? 1,
      duplicate_window: nanos(this.opts.duplicateWindowMs ?? 120_000),
    };
    await this.ensureStream({ ...common, name: EVENTS_STREAM, subjects: [EVENTS_SUBJECTS] });
    await this.ensureStream({ ...common, name: DLQ_STREAM, subjects: [DLQ_SUBJECTS] });
  }

  private async ensureStream(cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
    try {
      const info = await this.manager.streams.info(cfg.name);
      const c = info.config;
      // Only settings this process was explicitly given are enforced on an existing stream, so a
      // process started with defaults never shrinks a cluster's R3 stream or its window.
      const want: Partial<StreamConfig> = { subjects: cfg.subjects };
      if (this.opts.replicas !== undefined) want.num_replicas = cfg.num_replicas;
      if (this.opts.duplicateWindowMs !== undefined) want.duplicate_window = cfg.duplicate_window;
      const differs = (c.subjects ?? []).join() !== (cfg.subjects ?? []).join() || (want.num_replicas !== undefined && c.num_replicas !== want.num_replicas) || (want.duplicate_window !== undefined && c.duplicate_window !== want.duplicate_window);
      if (differs) await this.manager.streams.update(cfg.name, { ...c, ...want });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.manager.streams.add(cfg);
      } catch (addErr) {
        // Another process created it between our info and add.
        await this.manager.streams.info(cfg.name).catch(() => {
          throw addErr;
        });
      }
    }
  }

  /** Current state of a stream (message count etc.). */
  streamInfo(name: string = EVENTS_STREAM): Promise<StreamInfo> {
    return this.manager.streams.info(name);
  }

  // ---------------------------------------------------------------- events

  /**
   * Publishes a stored event to JetStream and waits for the PubAck. The message id is the event id,
   * so a republish inside the duplicate window is stored once (`duplicate: true`).
   */
  async publishEvent(event: RecordedEvent): Promise<PublishResult> {
    this.assertOpen('publishEvent');
    const subject = subjectOfEvent(event);
    const m = event.metadata;
    const parent = contextFromTraceparent(m.traceparent, m.tracestate);
    return tracer.startActiveSpan(
      `publish ${subject}`,
      { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'messaging.message.id': m.eventId, 'patchbay.stream': m.stream, 'patchbay.revision': m.revision } },
      parent,
      async (span) => {
        try {
          const h = natsHeaders();
          // The stored trace context first: with no propagator registered, inject below is a no-op
          // and consumers still join the trace of the command that caused the event.
          if (m.traceparent) h.set('traceparent', m.traceparent);
          if (m.tracestate) h.set('tracestate', m.tracestate);
          injectTrace(h);
          h.set(EVENT_HEADERS.eventId, m.eventId);
          h.set(EVENT_HEADERS.stream, m.stream);
          h.set(EVENT_HEADERS.revision, String(m.revision));
          h.set(EVENT_HEADERS.position, event.position.toString());
          h.set(EVENT_HEADERS.type, event.type);
          let ack;
          try {
            ack = await this.publishToStream(EVENTS_STREAM, subject, encodeEvent(event), h, m.eventId);
          } catch (err) {
            throw new PublishFailedError(subject, m.eventId, err);
          }
          span.setAttribute('messaging.nats.stream_sequence', ack.seq);
          span.setAttribute('patchbay.duplicate', ack.duplicate);
          return { subject, streamSequence: ack.seq, duplicate: ack.duplicate };
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  /**
   * A JetStream publish into `stream` and its PubAck: de-duplicated on `msgId` within the stream's
   * window, refused for a subject outside the stream. Acknowledgements of all of this connection's
   * publishes come back on one inbox (`PubAckInbox`, made at the first publish).
   */
  private publishToStream(stream: string, subject: string, data: Uint8Array, headers: MsgHdrs, msgId: string): Promise<PubAck> {
    headers.set('Nats-Msg-Id', msgId);
    headers.set('Nats-Expected-Stream', stream);
    this.pubAcks ??= new PubAckInbox(this.connection, this.opts.publishTimeoutMs ?? 5000);
    return this.pubAcks.publish(subject, data, headers);
  }

  /**
   * Starts a durable pull consumer on the events stream. Delivery is at least once: the message is
   * acked after the handler resolves; a throwing handler gets a `nak` with the backoff delay; after
   * `maxDeliver` attempts (or for a message that is not a valid event) the message goes to
   * `patchbay.dlq.<durable>` with the error and is terminated. Make handlers idempotent with
   * `AppliedEventLedger` (see `idempotent`).
   */
  async consume(durable: string, filterSubjects: string | readonly string[], handler: EventHandler, options: ConsumeOptions = {}): Promise<EventConsumer> {
    this.assertOpen('consume');
    if (!TOKEN.test(durable)) throw new ValidationError(`durable name ${JSON.stringify(durable)} must not contain '.', '*', '>' or spaces`, { durable });
    const filters = typeof filterSubjects === 'string' ? [filterSubjects] : [...filterSubjects];
    if (filters.length === 0) throw new ValidationError('a consumer needs at least one filter subject', { durable });
    const maxDeliver = options.maxDeliver ?? 5;
    if (!Number.isInteger(maxDeliver) || maxDeliver < 1) throw new ValidationError('maxDeliver must be a positive integer', { maxDeliver });
    const backoff = options.backoff && options.backoff.length > 0 ? options.backoff : [250, 1000, 5000];
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new ValidationError('concurrency must be a positive integer', { concurrency });

    const cfg: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanos(options.ackWaitMs ?? 30_000),
      // Counted here rather than by the server, so the last failing delivery can be dead-lettered
      // even when it ended by a crash or an ack timeout instead of a nak.
      max_deliver: -1,
      max_ack_pending: options.maxAckPending ?? 1,
    };
    // Several filters need nats-server 2.10 (`filter_subjects`); older servers get the whole
    // events stream and this side acks what does not match.
    let clientFilter: string[] | undefined;
    if (filters.length === 1) cfg.filter_subject = filters[0];
    else if (this.connection.info && this.serverAtLeast(2, 10)) cfg.filter_subjects = filters;
    else {
      cfg.filter_subject = EVENTS_SUBJECTS;
      clientFilter = filters;
    }
    await this.ensureConsumer(cfg);
    const jsConsumer = await this.jetstream.consumers.get(EVENTS_STREAM, durable);
    // Short pull expiry: a pull request lost with a failed node is noticed by missed heartbeats
    // within seconds instead of the client default of 30 s.
    const messages: ConsumerMessages = await jsConsumer.consume({ max_messages: 64, expires: 5000 });

    const wants = options.wants;
    // Messages this consumer has nothing to do with are acknowledged together after the current
    // turn of the event loop: the client writes what a turn queued in one socket write, where an
    // ack sent at once would be a write of its own for each message (with a window of unacked
    // messages above 1; at 1 the server sends the next message only after the ack anyway).
    let skipped: JsMsg[] = [];
    const ackSkipped = (): void => {
      const acks = skipped;
      skipped = [];
      for (const m of acks) m.ack();
    };
    const skip = (m: JsMsg): void => {
      if (skipped.push(m) === 1) setImmediate(ackSkipped);
    };
    const settle = async (m: JsMsg): Promise<void> => {
      if (wants && !wants(m.subject)) {
        skip(m);
        return;
      }
      const deliveryCount = m.info.deliveryCount;
      const delivery: EventDelivery = { durable, subject: m.subject, streamSequence: m.seq, deliveryCount, headers: m.headers };
      if (clientFilter && !clientFilter.some((f) => subjectMatches(f, m.subject))) {
        skip(m);
        return;
      }
      let event: RecordedEvent;
      try {
        event = decodeEvent(m.data);
      } catch (err) {
        // A message that can never be decoded would fail every retry: dead-letter it now.
        await this.deadLetter(m, delivery, err);
        return;
      }
      if (deliveryCount > maxDeliver) {
        await this.deadLetter(m, delivery, new PatchbayError('MAX_DELIVERIES_EXCEEDED', `delivered ${deliveryCount} times without an ack`, { maxDeliver }));
        return;
      }
      const parent = extractTrace(m.headers);
      await tracer.startActiveSpan(
        `handle ${m.subject}`,
        { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': m.subject, 'messaging.consumer.group.name': durable, 'messaging.message.id': event.metadata.eventId, 'patchbay.delivery_count': deliveryCount } },
        parent,
        async (span) => {
          try {
            await handler(event, delivery);
            m.ack();
          } catch (err) {
            span.recordException(err as Error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
            if (deliveryCount >= maxDeliver) await this.deadLetter(m, delivery, err);
            else {
              const delay = backoff[Math.min(deliveryCount - 1, backoff.length - 1)]!;
              this.log('warn', 'event handler failed; will retry', { durable, eventId: event.metadata.eventId, deliveryCount, delayMs: delay, error: (err as Error)?.message });
              m.nak(delay);
            }
          } finally {
            span.end();
          }
        },
      );
    };

    let stopping = false;
    const settleOrLog = async (m: JsMsg): Promise<void> => {
      try {
        await settle(m);
      } catch (err) {
        // Only reachable when acking or dead-lettering itself failed (connection lost): the
        // server redelivers after ack_wait, so nothing is lost.
        this.log('error', 'event delivery could not be settled', { durable, error: (err as Error)?.message });
      }
    };
    const loop = (async () => {
      const inFlight = new Set<Promise<void>>();
      for await (const m of messages) {
        if (concurrency === 1) {
          await settleOrLog(m);
          continue;
        }
        const p: Promise<void> = settleOrLog(m).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= concurrency) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      if (!stopping) this.log('error', 'consumer ended without stop (consumer or stream deleted?)', { durable });
    })();

    const consumer: EventConsumer = {
      durable,
      stop: async () => {
        stopping = true;
        this.consumers.delete(consumer);
        messages.stop();
        await loop.catch(() => undefined);
        ackSkipped();
      },
    };
    this.consumers.add(consumer);
    this.stopLagGauge ??= observeConsumerLag(() => this.consumerLag());
    return consumer;
  }

  /**
   * Backlog of this bus's durables as JetStream counts it (`num_pending`: not yet delivered,
   * `num_ack_pending`: delivered, not yet acked); a durable the server cannot answer for is left out.
   */
  async consumerLag(): Promise<ConsumerLag[]> {
    const durables = [...new Set([...this.consumers].map((c) => c.durable))];
    const infos = await Promise.allSettled(durables.map((d) => this.manager.consumers.info(EVENTS_STREAM, d)));
    return infos.flatMap((r, i) => (r.status === 'fulfilled' ? [{ durable: durables[i]!, numPending: r.value.num_pending, numAckPending: r.value.num_ack_pending }] : []));
  }

  private serverAtLeast(major: number, minor: number): boolean {
    const [a = 0, b = 0] = (this.connection.info?.version ?? '0.0').split('.').map(Number);
    return a > major || (a === major && b >= minor);
  }

  private async ensureConsumer(cfg: Partial<ConsumerConfig>): Promise<void> {
    try {
      await this.manager.consumers.add(EVENTS_STREAM, cfg);
    } catch (err) {
      // Exists with other settings (a new deploy changed them): update what may be updated.
      const { durable_name, deliver_policy, replay_policy, ...updatable } = cfg;
      void deliver_policy;
      void replay_policy;
      try {
        await this.manager.consumers.update(EVENTS_STREAM, durable_name!, updatable);
      } catch {
        throw err;
      }
    }
  }

  private async deadLetter(m: JsMsg, delivery: EventDelivery, err: unknown): Promise<void> {
    const error = toPatchbayError(err);
    const h = natsHeaders();
    for (const [k, v] of m.headers ?? []) for (const x of v) h.append(k, x);
    h.set(DLQ_HEADERS.durable, delivery.durable);
    h.set(DLQ_HEADERS.originalSubject, m.subject);
    h.set(DLQ_HEADERS.streamSequence, String(m.seq));
    h.set(DLQ_HEADERS.deliveries, String(delivery.deliveryCount));
    h.set(DLQ_HEADERS.errorCode, error.code);
    let original: unknown;
    try {
      original = parseJson(m.data, 'event');
    } catch {
      original = { base64: Buffer.from(m.data).toString('base64') };
    }
    const body = encodeJson({ durable: delivery.durable, subject: m.subject, streamSequence: m.seq, deliveries: delivery.deliveryCount, error: error.toJSON(), message: original });
    try {
      // One dead letter per (durable, message) even if this runs twice after a crash.
      await this.publishToStream(DLQ_STREAM, dlqSubject(delivery.durable), body, h, `${delivery.durable}:${m.seq}`);
    } catch (pubErr) {
      this.log('error', 'dead-lettering failed; message stays pending', { durable: delivery.durable, error: (pubErr as Error).message });
      m.nak(1000);
      return;
    }
    this.log('warn', 'event dead-lettered', { durable: delivery.durable, subject: m.subject, streamSequence: m.seq, code: error.code });
    // No reason text: servers before 2.11 do not parse "+TERM <reason>" and would leave it pending.
    m.term();
  }

  // ---------------------------------------------------------------- commands

  /**
   * Sends a command and waits for its reply. Resolves with the result; rejects with the
   * `PatchbayError` the service replied with (same code), `CommandTimeoutError`
   * (`COMMAND_TIMEOUT`) or `ServiceUnavailableError` (`SERVICE_UNAVAILABLE`).
   */
  async request<R = unknown>(subject: string, envelope: CommandEnvelope, options: RequestOptions = {}): Promise<R> {
    this.assertOpen('request');
    const checked = commandEnvelopeSchema.safeParse(envelope);
    if (!checked.success) throw new ValidationError(`invalid command envelope for ${subject}: ${checked.error.message}`, { subject, issues: checked.error.issues });
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs ?? 5000;
    return tracer.startActiveSpan(`send ${subject}`, { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'patchbay.command_id': envelope.commandId } }, async (span) => {
      try {
        const h = options.headers ?? natsHeaders();
        injectTrace(h);
        let reply: Msg;
        try {
          reply = await this.connection.request(subject, encodeJson(envelope), { timeout: timeoutMs, headers: h });
        } catch (err) {
          throw this.mapRequestError(err, subject, timeoutMs);
        }
        let parsed;
        try {
          parsed = commandReplySchema.safeParse(parseJson(reply.data, 'reply'));
        } catch {
          throw new InvalidReplyError(subject, 'not JSON');
        }
        if (!parsed.success) throw new InvalidReplyError(subject, parsed.error.message);
        if (parsed.data.ok) return parsed.data.result as R;
        throw errorFromJSON(parsed.data.error);
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        if (err instanceof PatchbayError) span.setAttribute('patchbay.error_code', err.code);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private mapRequestError(err: unknown, subject: string, timeoutMs: number): Error {
    const code = (err as { code?: string })?.code;
    if (code === ErrorCode.NoResponders) return new ServiceUnavailableError(subject);
    if (code === ErrorCode.Timeout) return new CommandTimeoutError(subject, timeoutMs);
    if (code === ErrorCode.ConnectionClosed || code === ErrorCode.ConnectionDraining) return new BusClosedError('request');
    return toPatchbayError(err);
  }

  /**
   * Answers commands on `subject` (wildcards allowed). With a queue group, replicas of a service
   * share the load. Bad JSON or envelopes get a `VALIDATION_FAILED` reply; nothing a caller sends
   * can crash the process.
   */
  serve(subject: string, handler: CommandHandler, options: ServeOptions = {}): Subscription {
    this.assertOpen('serve');
    const sub = this.connection.subscribe(subject, {
      queue: options.queue,
      callback: (err, msg) => {
        if (err) {
          this.log('error', 'command subscription error', { subject, error: err.message });
          return;
        }
        void answerCommand(msg, handler, this.opts.log);
      },
    });
    this.subscriptions.add(sub);
    return sub;
  }

  private assertOpen(operation: string): void {
    if (this.closed || this.connection.isClosed()) throw new BusClosedError(operation);
  }

  /** True once `close` ran or the connection ended. */
  get isClosed(): boolean {
    return this.closed || this.connection.isClosed();
  }

  /** Stops consumers, then drains the connection so in-flight replies and acks are delivered. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopLagGauge?.();
    this.stopLagGauge = undefined;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    if (this.connection.isClosed()) return;
    // Drain delivers in-flight replies and acks; with the server unreachable it could wait for
    // ever, so it gets a deadline before the connection is simply closed.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.opts.drainTimeoutMs ?? 5000)));
    try {
      const outcome = await Promise.race([this.connection.drain().then(() => 'drained' as const), deadline]);
      if (outcome === 'timeout') await this.connection.close();
    } catch {
      await this.connection.close();
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Runs one command message through a handler and replies `{ ok: true, result }` or
 * `{ ok: false, error }`. Never throws: a failed reply (caller gone) is only logged.
 */
export async function answerCommand(msg: Msg, handler: CommandHandler, log?: BusLog): Promise<void> {
  const parent = extractTrace(msg.headers);
  await tracer.startActiveSpan(`handle ${msg.subject}`, { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': msg.subject } }, parent, async (span) => {
    let reply: CommandReply;
    try {
      const envelope = decodeEnvelope(msg.data);
      span.setAttribute('patchbay.command_id', envelope.commandId);
      const result = await handler(envelope, { subject: msg.subject, headers: msg.headers });
      reply = { ok: true, result };
    } catch (err) {
      const e = toPatchbayError(err);
      span.recordException(e);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      span.setAttribute('patchbay.error_code', e.code);
      reply = { ok: false, error: e.toJSON() };
    }
    try {
      if (msg.reply) {
        const h = natsHeaders();
        injectTrace(h, trace.setSpan(context.active(), span));
        let body: Uint8Array;
        try {
          body = encodeJson(reply);
        } catch (err) {
          // A result JSON cannot carry (a cycle, a bigint) is the handler's fault, not the caller's.
          body = encodeJson({ ok: false, error: toPatchbayError(new Error(`result is not JSON-serialisable: ${(err as Error).message}`)).toJSON() });
        }
        msg.respond(body, { headers: h });
      }
    } catch (err) {
      log?.('warn', 'could not reply to command', { subject: msg.subject, error: (err as Error).message });
    } finally {
      span.end();
    }
  });
}
