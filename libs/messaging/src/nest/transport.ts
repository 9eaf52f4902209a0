import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import type { Subscription } from 'nats';
import { ValidationError } from '@patchbay/contracts';
import { NatsBus, type BusLog, type ConsumeOptions, type EventConsumer } from '../bus.js';
import { idempotent, type AppliedEventLedger } from '../applied-ledger.js';
import { JetStreamEventContext, NatsCommandContext } from './contexts.js';

export interface NatsJetStreamTransportOptions {
  /** NATS URL(s); ignored when `bus` is given. */
  servers?: string | string[];
  /** Queue group of commands and prefix of durable consumer names. */
  serviceName: string;
  /** Share an already connected bus (it is then not closed by the transport). */
  bus?: NatsBus;
  /** Defaults for every `@EventPattern` consumer; a pattern's extras override them. */
  consume?: ConsumeOptions;
  /** When given, every `@EventPattern` handler follows the ledger's idempotency rule. */
  ledger?: AppliedEventLedger;
  replicas?: number;
  log?: BusLog;
}

/** Extras a handler may pass: `@EventPattern(subject, { durable: 'x', maxDeliver: 3 })`, `@MessagePattern(subject, { queue: 'q' })`. */
export interface PatchbayPatternExtras extends ConsumeOptions {
  durable?: string;
  queue?: string;
}

/** Durable name for a service's consumer of one pattern: `inventory_patchbay_evt_endpoint_ALL`. */
export function durableNameFor(serviceName: string, pattern: string): string {
  return `${serviceName}_${pattern.replace(/\./g, '_').replace(/\*/g, 'ANY').replace(/>/g, 'ALL')}`.replace(/[^A-Za-z0-9_-]/g, '-');
}

/**
 * NestJS transport over the product's bus: `@MessagePattern(subject)` handlers answer commands
 * (request/reply, queue group = service name); `@EventPattern(subject)` handlers consume events
 * from JetStream through a durable consumer per service and pattern (ack on success, retry with
 * backoff on error, dead letter after `maxDeliver`).
 */
export class NatsJetStreamTransport extends Server implements CustomTransportStrategy {
  override readonly transportId = Symbol.for('patchbay.nats-jetstream');
  private bus: NatsBus | undefined;
  private readonly consumers: EventConsumer[] = [];
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly options: NatsJetStreamTransportOptions) {
    super();
    if (!options.bus && !options.servers) throw new ValidationError('NatsJetStreamTransport needs servers or a bus', {});
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      this.bus = this.options.bus ?? (await NatsBus.connect({ servers: this.options.servers!, name: this.options.serviceName, replicas: this.options.replicas, log: this.options.log }));
      this._status$.next('connected');
      for (const [pattern, handler] of this.messageHandlers) {
        if (handler.isEventHandler) await this.bindEvent(pattern, handler);
        else this.bindCommand(pattern, handler);
      }
      // Subscriptions reach the server asynchronously: flush so a command sent right after
      // listen() resolves finds its responder instead of SERVICE_UNAVAILABLE.
      await this.bus.connection.flush();
      callback();
    } catch (err) {
      callback(err);
    }
  }

  private bindCommand(pattern: string, handler: MessageHandler): void {
    const extras = (handler.extras ?? {}) as PatchbayPatternExtras;
    const sub = this.bus!.serve(
      pattern,
      async (envelope, ctx) => {
        const nestCtx = new NatsCommandContext([ctx.subject, ctx.headers, envelope]);
        const out$ = this.transformToObservable(await handler(envelope, nestCtx));
        return lastValueFrom(out$, { defaultValue: undefined });
      },
      { queue: extras.queue ?? this.options.serviceName },
    );
    this.subscriptions.push(sub);
  }

  private async bindEvent(pattern: string, head: MessageHandler): Promise<void> {
    const extras = (head.extras ?? {}) as PatchbayPatternExtras;
    const durable = extras.durable ? `${this.options.serviceName}_${extras.durable}` : durableNameFor(this.options.serviceName, pattern);
    const run = async (event: Parameters<MessageHandler>[0], delivery: import('../bus.js').EventDelivery): Promise<void> => {
      const ctx = new JetStreamEventContext([delivery.subject, delivery]);
      // Several handlers of one pattern form a chain (`next`); each must succeed for the ack.
      for (let h: MessageHandler | undefined = head; h; h = h.next) {
        await lastValueFrom(this.transformToObservable(await h(event, ctx)), { defaultValue: undefined });
      }
    };
    const handler = this.options.ledger ? idempotent(this.options.ledger, durable, run) : run;
    const { durable: _d, queue: _q, ...consume } = extras;
    void _d;
    void _q;
    this.consumers.push(await this.bus!.consume(durable, pattern, handler, { ...this.options.consume, ...consume }));
  }

  async close(): Promise<void> {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    await Promise.all(this.consumers.splice(0).map((c) => c.stop()));
    if (!this.options.bus) await this.bus?.close();
    this.bus = undefined;
    this._status$.next('disconnected');
  }

  on(): void {
    // Connection status is reported through `status` (connected / disconnected).
  }

  unwrap<T>(): T {
    if (!this.bus) throw new Error('NatsJetStreamTransport is not listening yet');
    return this.bus as T;
  }
}
