import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical-json.js';
import { ValidationError } from './errors.js';

/** Hash that starts every stream's chain (the "previous hash" of revision 0). */
export const GENESIS_HASH = '0'.repeat(64);

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lowercase SHA-256 hex digest');
/**
 * Event type names: they become a NATS subject token (`patchbay.evt.<category>.<type>`), so no
 * dots, spaces or wildcards — an event JetStream cannot accept would stall the relay.
 */
export const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;
export const eventTypeSchema = z.string().regex(EVENT_TYPE_PATTERN, 'event type: a letter then letters, digits, _ or - (max 128)');

/** W3C trace context `traceparent` header value. */
export const traceparentSchema = z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);

/** Metadata every stored event carries (guarantee 2 of the design). */
export const eventMetadataSchema = z.object({
  eventId: z.string().min(1).max(200),
  stream: z.string().min(1).max(500),
  /** 0-based position of the event in its stream. */
  revision: z.number().int().nonnegative(),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200),
  actor: z.string().min(1).max(200),
  recordedAt: z.string().datetime({ offset: true }),
  traceparent: traceparentSchema.optional(),
  tracestate: z.string().max(512).optional(),
  schemaVersion: z.number().int().positive(),
  prevHash: sha256Hex,
  hash: sha256Hex,
});
export type EventMetadata = z.infer<typeof eventMetadataSchema>;

/** What a caller hands to `append`: the store fills revision, time and the hash chain. */
export interface NewEvent<Type extends string = string, Data = unknown> {
  /** Deterministic where a retry could repeat the append (derive from command id + position). */
  eventId: string;
  type: Type;
  data: Data;
  schemaVersion?: number;
  correlationId?: string;
  causationId?: string;
  actor?: string;
  traceparent?: string;
  tracestate?: string;
}

/** An event as read back from the store. */
export interface RecordedEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
  metadata: EventMetadata;
  /** Position in the store's global order ($all); opaque but monotonic. */
  position: bigint;
}

/** The fields the hash covers: everything but the hash itself. */
export type HashedFields = Omit<EventMetadata, 'hash'> & { type: string; data: unknown };

/** SHA-256 over the canonical JSON of the event's type, data and metadata (without `hash`). */
export function computeEventHash(fields: HashedFields): string {
  const { eventId, stream, revision, correlationId, causationId, actor, recordedAt, traceparent, tracestate, schemaVersion, prevHash, type, data } = fields;
  const body = canonicalJson({ eventId, stream, revision, correlationId, causationId, actor, recordedAt, traceparent, tracestate, schemaVersion, prevHash, type, data });
  return createHash('sha256').update(body).digest('hex');
}

/** Result of checking one stream's chain: `ok`, or the first broken link and why. */
export type ChainVerdict =
  | { ok: true; stream: string; events: number; headHash: string }
  | { ok: false; stream: string; events: number; brokenAt: number; eventId: string | undefined; reason: string };

/**
 * Verifies a stream read forwards from revision 0: revisions are contiguous, each event's
 * `prevHash` is the previous event's `hash`, and each `hash` matches its content. An edited,
 * deleted or reordered event breaks the chain at the first affected revision.
 */
export function verifyChain(stream: string, events: readonly RecordedEvent[]): ChainVerdict {
  let prev = GENESIS_HASH;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const m = e.metadata;
    const fail = (reason: string): ChainVerdict => ({ ok: false, stream, events: events.length, brokenAt: i, eventId: m?.eventId, reason });
    if (!m || m.stream !== stream) return fail('event belongs to another stream');
    if (m.revision !== i) return fail(`expected revision ${i}, found ${m.revision} (event missing or reordered)`);
    if (m.prevHash !== prev) return fail('previous hash does not match the preceding event');
    const { hash, ...rest } = m;
    if (computeEventHash({ ...rest, type: e.type, data: e.data }) !== hash) return fail('content does not match its hash (edited)');
    prev = hash;
  }
  return { ok: true, stream, events: events.length, headHash: prev };
}

/** A versioned event type with its zod schema; `parse` validates stored or incoming data. */
export interface EventDefinition<Type extends string, Schema extends z.ZodType> {
  type: Type;
  schemaVersion: number;
  schema: Schema;
  parse(data: unknown): z.infer<Schema>;
}

/** Declares an event type (name + version + schema). */
export function defineEvent<Type extends string, Schema extends z.ZodType>(type: Type, schemaVersion: number, schema: Schema): EventDefinition<Type, Schema> {
  if (!EVENT_TYPE_PATTERN.test(type)) throw new ValidationError(`invalid event type name ${JSON.stringify(type)}`, { type });
  return {
    type,
    schemaVersion,
    schema,
    parse(data: unknown) {
      const r = schema.safeParse(data);
      if (!r.success) throw new ValidationError(`invalid ${type} v${schemaVersion}: ${z.prettifyError(r.error)}`, { type, schemaVersion, issues: r.error.issues });
      return r.data;
    },
  };
}

/** The TypeScript shape of an event produced from a definition. */
export type EventOf<D> = D extends EventDefinition<infer T, infer S> ? { type: T; data: z.infer<S> } : never;
