import { createHash } from 'node:crypto';
import { canonicalJson, traceparentSchema, ValidationError } from '@patchbay/contracts';
import type { EventMetadata, NewEvent } from '@patchbay/contracts';
import { CorruptEventError } from './port.js';
import type { ExpectedRevision } from './port.js';

/** A validated `NewEvent` with its data already in canonical JSON (what is stored and hashed). */
export interface CheckedEvent {
  eventId: string;
  type: string;
  dataJson: string;
  schemaVersion: number;
  correlationId: string;
  causationId: string;
  actor: string;
  traceparent: string | undefined;
  tracestate: string | undefined;
}

const MAX_STREAM = 500;
const MAX_ID = 200;

const invalid = (message: string, details: Record<string, unknown>): ValidationError => new ValidationError(message, details);

const optionalText = (value: unknown, field: string, max: number, index: number): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalid(`event ${index}: ${field} must be a non-empty string of at most ${max} characters`, { field, index });
  }
  return value;
};

/** Rejects a stream name the store could not keep or that would break categories. */
export function checkStreamName(stream: unknown): string {
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM) {
    throw invalid(`stream name must be a non-empty string of at most ${MAX_STREAM} characters`, { field: 'stream' });
  }
  if (stream.startsWith('$')) throw invalid('stream names starting with $ are reserved for the store', { field: 'stream', stream });
  return stream;
}

/** Rejects an expected revision that is none of the four allowed forms. */
export function checkExpectedRevision(expected: unknown): ExpectedRevision {
  if (expected === 'no-stream' || expected === 'any' || expected === 'stream-exists') return expected;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return expected;
  throw invalid(`expected revision must be 'no-stream', 'any', 'stream-exists' or a revision number >= 0, got ${String(expected)}`, { field: 'expected' });
}

/**
 * Validates an append's input before any I/O, so a bad event anywhere in a batch stores nothing.
 * Data is encoded to canonical JSON here: a value it cannot encode (bigint, NaN, a function)
 * fails the whole batch with `VALIDATION_FAILED`.
 */
export function checkAppend(stream: unknown, events: unknown, expected: unknown): { stream: string; events: CheckedEvent[]; expected: ExpectedRevision } {
  const name = checkStreamName(stream);
  const exp = checkExpectedRevision(expected);
  if (!Array.isArray(events) || events.length === 0) throw invalid('events must be a non-empty array', { field: 'events' });
  const seen = new Set<string>();
  const out: CheckedEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as Partial<NewEvent> | null;
    if (e === null || typeof e !== 'object') throw invalid(`event ${i} must be an object`, { index: i });
    const eventId = optionalText(e.eventId, 'eventId', MAX_ID, i);
    if (eventId === undefined) throw invalid(`event ${i}: eventId is required`, { field: 'eventId', index: i });
    if (seen.has(eventId)) throw invalid(`event ${i}: event id ${eventId} appears twice in one append`, { field: 'eventId', index: i, eventId });
    seen.add(eventId);
    const type = optionalText(e.type, 'type', MAX_ID, i);
    if (type === undefined) throw invalid(`event ${i}: type is required`, { field: 'type', index: i });
    if (e.data === undefined) throw invalid(`event ${i}: data is required (use null or {} for none)`, { field: 'data', index: i });
    let dataJson: string;
    try {
      dataJson = canonicalJson(e.data);
    } catch (error) {
      throw invalid(`event ${i} (${type}): data cannot be stored as JSON: ${(error as Error).message}`, { field: 'data', index: i, eventId });
    }
    const schemaVersion = e.schemaVersion ?? 1;
    if (typeof schemaVersion !== 'number' || !Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
      throw invalid(`event ${i}: schemaVersion must be a positive integer`, { field: 'schemaVersion', index: i });
    }
    const traceparent = optionalText(e.traceparent, 'traceparent', 55, i);
    if (traceparent !== undefined && !traceparentSchema.safeParse(traceparent).success) {
      throw invalid(`event ${i}: traceparent is not a W3C traceparent`, { field: 'traceparent', index: i });
    }
    out.push({
      eventId,
      type,
      dataJson,
      schemaVersion,
      // An event without a cause started its own story: it correlates and causes itself.
      correlationId: optionalText(e.correlationId, 'correlationId', MAX_ID, i) ?? eventId,
      causationId: optionalText(e.causationId, 'causationId', MAX_ID, i) ?? eventId,
      actor: optionalText(e.actor, 'actor', MAX_ID, i) ?? 'system',
      traceparent,
      tracestate: optionalText(e.tracestate, 'tracestate', 512, i),
    });
  }
  return { stream: name, events: out, expected: exp };
}

/** A checked {@link checkAppend} result: one stream's validated write. */
export interface CheckedWrite {
  stream: string;
  events: CheckedEvent[];
  expected: ExpectedRevision;
}

/**
 * Validates every write of an `appendMany` before any I/O: each as `checkAppend` does (the error
 * says which write), each stream at most once and each event id at most once in the whole call.
 */
export function checkAppendMany(writes: unknown): CheckedWrite[] {
  if (!Array.isArray(writes) || writes.length === 0) throw invalid('writes must be a non-empty array of { stream, events, expected }', { field: 'writes' });
  const streams = new Set<string>();
  const ids = new Set<string>();
  const out = new Array<CheckedWrite>(writes.length);
  for (let w = 0; w < writes.length; w++) {
    const write = writes[w] as Partial<CheckedWrite> | null;
    if (write === null || typeof write !== 'object') throw invalid(`write ${w} must be an object { stream, events, expected }`, { field: 'writes', write: w });
    let checked: CheckedWrite;
    try {
      checked = checkAppend(write.stream, write.events, write.expected);
    } catch (error) {
      if (error instanceof ValidationError) {
        const stream = typeof write.stream === 'string' ? write.stream : undefined;
        throw invalid(`write ${w}${stream ? ` (${stream})` : ''}: ${error.message}`, { ...error.details, write: w, ...(stream ? { stream } : {}) });
      }
      throw error;
    }
    if (streams.has(checked.stream))
      throw invalid(`write ${w}: stream ${checked.stream} appears twice in one appendMany; put its events in one write`, {
        field: 'stream',
        write: w,
        stream: checked.stream,
      });
    streams.add(checked.stream);
    for (const e of checked.events) {
      if (ids.has(e.eventId))
        throw invalid(`write ${w}: event id ${e.eventId} appears twice in one appendMany`, { field: 'eventId', write: w, eventId: e.eventId });
      ids.add(e.eventId);
    }
    out[w] = checked;
  }
  return out;
}

const q = JSON.stringify;

/**
 * The event hash exactly as `computeEventHash` defines it, built from the already canonical data
 * text instead of re-encoding the data: keys are written in code-point order, undefined members
 * left out. A unit test holds it equal to `computeEventHash` for arbitrary input.
 */
export function hashCanonical(m: Omit<EventMetadata, 'hash'>, type: string, dataJson: string): string {
  let body = `{"actor":${q(m.actor)},"causationId":${q(m.causationId)},"correlationId":${q(m.correlationId)},"data":${dataJson},"eventId":${q(m.eventId)},"prevHash":${q(m.prevHash)},"recordedAt":${q(m.recordedAt)},"revision":${m.revision},"schemaVersion":${m.schemaVersion},"stream":${q(m.stream)}`;
  if (m.traceparent !== undefined) body += `,"traceparent":${q(m.traceparent)}`;
  if (m.tracestate !== undefined) body += `,"tracestate":${q(m.tracestate)}`;
  body += `,"type":${q(type)}}`;
  return createHash('sha256').update(body).digest('hex');
}

/** Fills the store-owned metadata (revision, time, hash chain) of one event. */
export function seal(e: CheckedEvent, stream: string, revision: number, prevHash: string, recordedAt: string): EventMetadata {
  const m: Omit<EventMetadata, 'hash'> = {
    eventId: e.eventId,
    stream,
    revision,
    correlationId: e.correlationId,
    causationId: e.causationId,
    actor: e.actor,
    recordedAt,
    schemaVersion: e.schemaVersion,
    prevHash,
  };
  if (e.traceparent !== undefined) m.traceparent = e.traceparent;
  if (e.tracestate !== undefined) m.tracestate = e.tracestate;
  return { ...m, hash: hashCanonical(m, e.type, e.dataJson) };
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Shape check for metadata read back from storage. Deliberately cheap (typeof checks, no zod)
 * because replay runs it for every event; `verifyChain` is the deep check of content.
 */
export function checkStoredMetadata(m: Record<string, unknown>, where: () => Record<string, unknown>): EventMetadata {
  const bad = (field: string): never => {
    throw new CorruptEventError(`stored event has an invalid ${field}`, { ...where(), field });
  };
  if (!isText(m.eventId)) bad('eventId');
  if (!isText(m.stream)) bad('stream');
  if (!isCount(m.revision)) bad('revision');
  if (!isText(m.correlationId)) bad('correlationId');
  if (!isText(m.causationId)) bad('causationId');
  if (!isText(m.actor)) bad('actor');
  if (!isText(m.recordedAt)) bad('recordedAt');
  if (!isCount(m.schemaVersion) || (m.schemaVersion as number) < 1) bad('schemaVersion');
  if (!isText(m.prevHash) || (m.prevHash as string).length !== 64) bad('prevHash');
  if (!isText(m.hash) || (m.hash as string).length !== 64) bad('hash');
  if (m.traceparent !== undefined && typeof m.traceparent !== 'string') bad('traceparent');
  if (m.tracestate !== undefined && typeof m.tracestate !== 'string') bad('tracestate');
  return m as unknown as EventMetadata;
}

/** Parses stored event data, naming the event when the text is not JSON. */
export function parseStoredData(text: unknown, where: () => Record<string, unknown>): unknown {
  if (typeof text !== 'string') throw new CorruptEventError('stored event data is not text', where());
  try {
    return JSON.parse(text);
  } catch {
    throw new CorruptEventError('stored event data is not valid JSON', where());
  }
}

/** Checks `categories` of a read/subscribe option. */
export function checkCategories(categories: unknown): readonly string[] | undefined {
  if (categories === undefined) return undefined;
  if (!Array.isArray(categories) || categories.length === 0 || !categories.every((c) => typeof c === 'string' && c.length > 0 && !c.includes('-'))) {
    throw invalid('categories must be a non-empty array of non-empty names without "-"', { field: 'categories' });
  }
  return categories as string[];
}

/** Checks an optional maxCount. */
export function checkMaxCount(maxCount: unknown): number | undefined {
  if (maxCount === undefined) return undefined;
  if (typeof maxCount !== 'number' || !Number.isSafeInteger(maxCount) || maxCount < 0) throw invalid('maxCount must be an integer >= 0', { field: 'maxCount' });
  return maxCount;
}
