import { CloudEvent, HTTP } from 'cloudevents';
import type { RecordedEvent } from '@patchbay/contracts';
import type { EventConsumer, NatsBus } from '@patchbay/messaging';
import { matchesFilter, type CycleMembership } from '../events/filter.js';
import { SIGNATURE_HEADER, signWebhook } from './signature.js';
import type { WebhookRegistry } from './registry.js';

/** The CloudEvents `source` of every Patchbay event. */
export const CLOUDEVENT_SOURCE = '/patchbay';

/** A stored event as a CloudEvents 1.0 structured-mode JSON body (`type` = `io.patchbay.<EventType>`). */
export function toCloudEvent(event: RecordedEvent): { headers: Record<string, string>; body: string } {
  const m = event.metadata;
  const ce = new CloudEvent({
    specversion: '1.0',
    id: m.eventId,
    source: `${CLOUDEVENT_SOURCE}/${m.stream}`,
    type: `io.patchbay.${event.type}`,
    subject: m.stream,
    time: m.recordedAt,
    datacontenttype: 'application/json',
    data: event.data as Record<string, unknown>,
    patchbayrevision: m.revision,
    patchbayposition: event.position.toString(),
    patchbaycorrelationid: m.correlationId,
    patchbayactor: m.actor,
    patchbayhash: m.hash,
    ...(m.traceparent ? { traceparent: m.traceparent } : {}),
  });
  const msg = HTTP.structured(ce);
  return { headers: msg.headers as Record<string, string>, body: String(msg.body) };
}

export interface WebhookDispatcherOptions {
  bus: NatsBus;
  registry: WebhookRegistry;
  membership: CycleMembership;
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
  pollIntervalMs?: number;
  log?: (level: 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** Delay before attempt `n + 1` after `n` failed attempts: `base · 2^(n-1)`, capped at one hour. */
export function backoffDelay(baseMs: number, failedAttempts: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, failedAttempts - 1), 3_600_000);
}

/**
 * Turns cycle and run events into webhook deliveries and sends them. Events come from one durable
 * JetStream consumer shared by all gateway replicas (`gateway_webhooks`), so each event is
 * queued once; matching deliveries are written to the delivery log, then sent by a polling loop:
 * POST, signed, retried with exponential backoff, dead-lettered after `maxAttempts`.
 */
export class WebhookDispatcher {
  private consumer: EventConsumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: WebhookDispatcherOptions) {}

  async start(): Promise<void> {
    this.consumer = await this.o.bus.consume('gateway_webhooks', ['patchbay.evt.cycle.>', 'patchbay.evt.run.>'], (event) => this.enqueue(event), {
      maxDeliver: 10,
      maxAckPending: 64,
      // With no webhook registered an event has nowhere to go: acknowledged undecoded (a
      // subscription created later only gets events recorded after it, so none is missed).
      wants: () => this.o.registry.active().length > 0,
    });
    const tick = () => {
      if (this.stopped) return;
      this.sendDue();
      this.timer = setTimeout(tick, this.o.pollIntervalMs ?? 100);
    };
    tick();
  }

  /** Queues the event for every active subscription that wants it and existed when it was recorded. */
  async enqueue(event: RecordedEvent): Promise<void> {
    const recordedAt = Date.parse(event.metadata.recordedAt);
    let ce: { body: string } | undefined;
    for (const sub of this.o.registry.active()) {
      if (Date.parse(sub.createdAt) > recordedAt) continue;
      if (!(await matchesFilter(event, { types: sub.eventTypes, groups: sub.groups, tiers: sub.tiers }, this.o.membership))) continue;
      ce ??= toCloudEvent(event);
      this.o.registry.enqueue(sub.id, event.metadata.eventId, event.type, ce.body);
    }
  }

  private sendDue(): void {
    let due: ReturnType<WebhookRegistry['claimDue']>;
    try {
      due = this.o.registry.claimDue(16, this.o.timeoutMs + 5000);
    } catch (err) {
      this.o.log?.('error', 'webhook queue unreadable', { error: (err as Error).message });
      return;
    }
    for (const d of due) {
      const p = this.send(d).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  private async send(d: { id: string; subscriptionId: string; body: string; attempts: number }): Promise<void> {
    const sub = this.o.registry.getWithSecret(d.subscriptionId);
    if (!sub || sub.deletedAt) return;
    const attempt = d.attempts + 1;
    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const t = Math.floor(Date.now() / 1000);
      const res = await fetch(sub.url, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json; charset=utf-8', [SIGNATURE_HEADER]: signWebhook(sub.secret, d.body, t), 'patchbay-delivery-id': d.id, 'patchbay-delivery-attempt': String(attempt) },
        body: d.body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: 'manual',
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? `timed out after ${this.o.timeoutMs} ms` : ((err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
    }
    const result = { status, error, durationMs: performance.now() - started };
    if (!error) this.o.registry.recordAttempt(d.id, attempt, result, { status: 'delivered' });
    else if (attempt >= this.o.maxAttempts) {
      this.o.registry.recordAttempt(d.id, attempt, result, { status: 'dead' });
      this.o.log?.('warn', 'webhook delivery dead-lettered', { deliveryId: d.id, subscriptionId: d.subscriptionId, attempts: attempt, error });
    } else this.o.registry.recordAttempt(d.id, attempt, result, { status: 'pending', nextAttemptAt: Date.now() + backoffDelay(this.o.backoffMs, attempt) });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.consumer?.stop();
    await Promise.allSettled([...this.inFlight]);
  }
}
