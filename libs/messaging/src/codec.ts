import { z } from 'zod';
import { eventMetadataSchema, ValidationError, commandEnvelopeSchema, type CommandEnvelope, type RecordedEvent } from '@patchbay/contracts';

/** Header names the bus sets on every event message (besides `Nats-Msg-Id` and W3C trace context). */
export const EVENT_HEADERS = {
  eventId: 'Patchbay-Event-Id',
  stream: 'Patchbay-Stream',
  revision: 'Patchbay-Revision',
  position: 'Patchbay-Position',
  type: 'Patchbay-Event-Type',
} as const;

/** Header names on dead-lettered messages. */
export const DLQ_HEADERS = {
  durable: 'Patchbay-Dlq-Durable',
  originalSubject: 'Patchbay-Dlq-Subject',
  streamSequence: 'Patchbay-Dlq-Stream-Sequence',
  deliveries: 'Patchbay-Dlq-Deliveries',
  errorCode: 'Patchbay-Dlq-Error-Code',
} as const;

const wireEventSchema = z.object({
  type: z.string().min(1),
  data: z.unknown(),
  metadata: eventMetadataSchema,
  position: z.string().regex(/^\d+$/),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** JSON wire form of a recorded event; the bigint position travels as a decimal string. */
export function encodeEvent(event: RecordedEvent): Uint8Array {
  return encoder.encode(JSON.stringify({ type: event.type, data: event.data, metadata: event.metadata, position: event.position.toString() }));
}

/** Parses and validates an event message body; throws `ValidationError` on anything else. */
export function decodeEvent(body: Uint8Array): RecordedEvent {
  const json = parseJson(body, 'event');
  const r = wireEventSchema.safeParse(json);
  if (!r.success) throw new ValidationError(`invalid event message: ${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return { type: r.data.type, data: r.data.data, metadata: r.data.metadata, position: BigInt(r.data.position) };
}

/** Parses and validates a command envelope; throws `ValidationError` on bad JSON or shape. */
export function decodeEnvelope(body: Uint8Array): CommandEnvelope {
  const json = parseJson(body, 'command');
  const r = commandEnvelopeSchema.safeParse(json);
  if (!r.success) throw new ValidationError(`invalid command envelope: ${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return r.data as CommandEnvelope;
}

/** Reply document of every command: a result, or an error in the product's vocabulary. */
export type CommandReply<R = unknown> = { ok: true; result: R } | { ok: false; error: { code: string; message: string; details: Record<string, unknown> } };

/** Validates a reply document before its result or error is handed to the caller. */
export const commandReplySchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string().min(1), message: z.string(), details: z.record(z.string(), z.unknown()).default({}) }) }),
]);

/** UTF-8 JSON body; `undefined` becomes `null` so a reply always has a body. */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value === undefined ? null : value));
}

/** Parses a UTF-8 JSON body; throws `ValidationError` when it is not one. */
export function parseJson(body: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(body));
  } catch (err) {
    throw new ValidationError(`${what} message is not valid UTF-8 JSON: ${(err as Error).message}`, { reason: 'malformed-json' });
  }
}
