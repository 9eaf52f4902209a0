import { randomBytes } from 'node:crypto';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import { DeliverPolicy, type ConsumerMessages } from 'nats';
import type { RecordedEvent } from '@patchbay/contracts';
import { decodeEvent, type NatsBus } from '@patchbay/messaging';

const EVENTS_STREAM = 'PATCHBAY_EVENTS';

type Topics = {
  'patch-event': [RecordedEvent];
  cycle: [string, RecordedEvent];
};

/**
 * Every event as it happens, for this gateway replica: an ordered (ephemeral, durable-less)
 * JetStream consumer on `patchbay.evt.>` starting at new messages, feeding an in-process pub/sub.
 * Each replica has its own consumer, so a subscriber on any replica sees every event; nothing
 * is acknowledged and the server removes the consumer when the replica goes away.
 */
export class EventFanout {
  readonly pubsub: PubSub<Topics> = createPubSub<Topics>();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<(e: RecordedEvent) => void>();

  constructor(private readonly bus: NatsBus, private readonly onError: (err: unknown) => void = () => undefined) {}

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
