import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GENESIS_HASH, PatchbayError, verifyChain } from '@patchbay/contracts';
import type { NewEvent, RecordedEvent } from '@patchbay/contracts';
import { DuplicateEventIdError, StreamNotFoundError, WrongExpectedVersionError } from './port.js';
import type { AppendResult, EventStore, ExpectedRevision, StreamWrite } from './port.js';

/** What the suite needs from an adapter: connections to one shared, durable store. */
export interface ConformanceTarget {
  /** Opens a new, independent connection to the same underlying store. */
  open(): Promise<EventStore>;
  /** Removes whatever the target created (temp files); called once after the suite. */
  dispose?(): Promise<void>;
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Asserts that `promise` rejects with a `PatchbayError` of `code` (and class, if given). */
export async function rejectsWithCode(promise: Promise<unknown> | (() => unknown), code: string, klass?: abstract new (...args: never[]) => Error): Promise<PatchbayError> {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof PatchbayError, `expected a PatchbayError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (klass) assert.ok(caught instanceof klass, `expected ${klass.name}, got ${caught.name}`);
  return caught;
}

const ev = (eventId: string, data: unknown = { n: eventId }, extra: Partial<NewEvent> = {}): NewEvent => ({ eventId, type: 'Tested', data, ...extra });

/**
 * The behaviour every `EventStore` adapter must show, as a node:test suite. Each run uses fresh
 * category names, so it can share a server with other data and other runs.
 */
export function describeEventStoreConformance(name: string, factory: () => Promise<ConformanceTarget>, options: { skip?: string | boolean } = {}): void {
  describe(`EventStore conformance: ${name}`, { skip: options.skip }, () => {
    let target: ConformanceTarget;
    let store: EventStore;
    const extra: EventStore[] = [];
    const run = randomUUID().replace(/-/g, '').slice(0, 10);
    let n = 0;
    /** A stream name no other test or run uses; `kind` becomes part of its category. */
    const fresh = (kind = 'conf'): string => `${kind}${run}-${++n}`;
    const ids = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}.${i}`);
    const openExtra = async (): Promise<EventStore> => {
      const s = await target.open();
      extra.push(s);
      return s;
    };

    before(async () => {
      target = await factory();
      store = await target.open();
    });
    after(async () => {
      for (const s of extra) await s.close().catch(() => undefined);
      await store?.close();
      await target?.dispose?.();
    });

    it('round-trips type, data and metadata, and links the hash chain from GENESIS_HASH', async () => {
      const stream = fresh();
      const id = `${stream}/e`;
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const result = await store.append(
        stream,
        [
          ev(`${id}0`, { a: 1, nested: { list: [1, 'two', null, true] } }, { correlationId: 'corr-1', causationId: 'cmd-1', actor: 'alice', traceparent, tracestate: 'k=v', schemaVersion: 3 }),
          ev(`${id}1`, { text: 'ünïcödé ✓', big: 9007199254740991 }),
          ev(`${id}2`, null),
        ],
        'no-stream',
      );
      assert.equal(result.nextExpectedRevision, 2);
      assert.equal(result.duplicate, false);
      const read = await store.readStream(stream);
      assert.equal(read.length, 3);
      assert.equal(result.position, read[2]!.position);
      const [a, b, c] = read as [RecordedEvent, RecordedEvent, RecordedEvent];
      assert.deepEqual(a.data, { a: 1, nested: { list: [1, 'two', null, true] } });
      assert.deepEqual(b.data, { text: 'ünïcödé ✓', big: 9007199254740991 });
      assert.equal(c.data, null);
      assert.equal(a.type, 'Tested');
      assert.equal(a.metadata.eventId, `${id}0`);
      assert.equal(a.metadata.stream, stream);
      assert.deepEqual(
        read.map((e) => e.metadata.revision),
        [0, 1, 2],
      );
      assert.equal(a.metadata.correlationId, 'corr-1');
      assert.equal(a.metadata.causationId, 'cmd-1');
      assert.equal(a.metadata.actor, 'alice');
      assert.equal(a.metadata.traceparent, traceparent);
      assert.equal(a.metadata.tracestate, 'k=v');
      assert.equal(a.metadata.schemaVersion, 3);
      // Defaults for an event without a cause: it correlates and causes itself, the system acted, version 1.
      assert.equal(b.metadata.correlationId, `${id}1`);
      assert.equal(b.metadata.causationId, `${id}1`);
      assert.equal(b.metadata.actor, 'system');
      assert.equal(b.metadata.schemaVersion, 1);
      assert.equal(b.metadata.traceparent, undefined);
      assert.ok(Math.abs(Date.parse(a.metadata.recordedAt) - Date.now()) < 60_000, 'recordedAt is now');
      assert.equal(a.metadata.prevHash, GENESIS_HASH);
      assert.equal(b.metadata.prevHash, a.metadata.hash);
      assert.equal(c.metadata.prevHash, b.metadata.hash);
      assert.ok(a.position < b.position && b.position < c.position, 'positions increase');
      assert.deepEqual(verifyChain(stream, read), { ok: true, stream, events: 3, headHash: c.metadata.hash });

      // A later append continues the same chain.
      await store.append(stream, [ev(`${id}3`)], 2);
      const more = await store.readStream(stream);
      assert.equal(more[3]!.metadata.prevHash, c.metadata.hash);
      assert.equal(verifyChain(stream, more).ok, true);
    });

    it('enforces every expected-revision form and leaves the stream unchanged on a mismatch', async () => {
      const s = fresh();
      const cases: { expected: ExpectedRevision; ok: boolean; actual: number | 'no-stream' }[] = [
        { expected: 'stream-exists', ok: false, actual: 'no-stream' },
        { expected: 0, ok: false, actual: 'no-stream' },
        { expected: 'no-stream', ok: true, actual: 'no-stream' }, // now at 0
        { expected: 'no-stream', ok: false, actual: 0 },
        { expected: 'any', ok: true, actual: 0 }, // now at 1
        { expected: 'stream-exists', ok: true, actual: 1 }, // now at 2
        { expected: 1, ok: false, actual: 2 },
        { expected: 3, ok: false, actual: 2 },
        { expected: 2, ok: true, actual: 2 }, // now at 3
      ];
      let revision = -1;
      for (const [i, c] of cases.entries()) {
        const attempt = store.append(s, [ev(`${s}/${i}`)], c.expected);
        if (c.ok) {
          const r = await attempt;
          revision++;
          assert.equal(r.nextExpectedRevision, revision, `case ${i}`);
        } else {
          const error = (await rejectsWithCode(attempt, 'WRONG_EXPECTED_VERSION', WrongExpectedVersionError)) as WrongExpectedVersionError;
          assert.equal(error.stream, s);
          assert.equal(error.actual, c.actual, `case ${i}: actual revision`);
        }
        const stored = await store.readStream(s, { ifMissing: 'empty' });
        assert.equal(stored.length, revision + 1, `case ${i}: stream length`);
      }
      const any = await store.append(fresh(), [ev(`${s}/any-new`)], 'any');
      assert.equal(any.nextExpectedRevision, 0, "'any' creates a missing stream");
    });

    it('reads a stream forwards, backwards, from a revision, with maxCount, and reports a missing stream', async () => {
      const s = fresh();
      await store.append(s, ids(s, 5).map((id) => ev(id)), 'no-stream');
      const revs = (events: RecordedEvent[]): number[] => events.map((e) => e.metadata.revision);
      assert.deepEqual(revs(await store.readStream(s)), [0, 1, 2, 3, 4]);
      assert.deepEqual(revs(await store.readStream(s, { fromRevision: 2 })), [2, 3, 4]);
      assert.deepEqual(revs(await store.readStream(s, { fromRevision: 1, maxCount: 2 })), [1, 2]);
      assert.deepEqual(revs(await store.readStream(s, { direction: 'backwards' })), [4, 3, 2, 1, 0]);
      assert.deepEqual(revs(await store.readStream(s, { direction: 'backwards', fromRevision: 3, maxCount: 2 })), [3, 2]);
      assert.deepEqual(revs(await store.readStream(s, { fromRevision: 9 })), []);
      const missing = fresh();
      const error = (await rejectsWithCode(store.readStream(missing), 'STREAM_NOT_FOUND', StreamNotFoundError)) as StreamNotFoundError;
      assert.equal(error.stream, missing);
      assert.deepEqual(await store.readStream(missing, { ifMissing: 'empty' }), []);
    });

    it('treats a repeated append of the same event ids as an idempotent retry', async () => {
      const s = fresh();
      const batch = ids(s, 3).map((id) => ev(id));
      const first = await store.append(s, batch, 'no-stream');
      // The retry carries the same (now stale) expected revision and still succeeds.
      const retry = await store.append(s, batch, 'no-stream');
      assert.deepEqual(retry, { ...first, duplicate: true });
      await store.append(s, [ev(`${s}/later`)], 2);
      const late = await store.append(s, batch, 'no-stream');
      assert.deepEqual(late, { ...first, duplicate: true }, 'a retry after later appends returns the original result');
      const single = await store.append(s, [batch[2]!], 1);
      assert.equal(single.duplicate, true);
      assert.equal(single.nextExpectedRevision, 2);
      const stored = await store.readStream(s);
      assert.equal(stored.length, 4, 'nothing was stored twice');
      assert.equal(new Set(stored.map((e) => e.metadata.eventId)).size, 4);
    });

    it('refuses an event id reused with other content or in another order', async () => {
      const s = fresh();
      const [a, b] = ids(s, 2);
      await store.append(s, [ev(a!), ev(b!)], 'no-stream');
      await rejectsWithCode(store.append(s, [ev(a!, { other: true })], 'any'), 'DUPLICATE_EVENT_ID', DuplicateEventIdError);
      await rejectsWithCode(store.append(s, [{ ...ev(a!), type: 'Other' }], 'any'), 'DUPLICATE_EVENT_ID', DuplicateEventIdError);
      await rejectsWithCode(store.append(s, [ev(b!), ev(a!)], 'any'), 'DUPLICATE_EVENT_ID', DuplicateEventIdError);
      await rejectsWithCode(store.append(s, [ev(a!), ev(`${s}/new`)], 'any'), 'DUPLICATE_EVENT_ID', DuplicateEventIdError);
      assert.equal((await store.readStream(s)).length, 2, 'nothing was stored');
    });

    it('stores a batch all or nothing: one unencodable event fails the whole batch', async () => {
      const s = fresh();
      const batch = ids(s, 5).map((id) => ev(id));
      batch[2] = ev(`${s}.2`, { count: 10n });
      await rejectsWithCode(store.append(s, batch, 'no-stream'), 'VALIDATION_FAILED');
      assert.deepEqual(await store.readStream(s, { ifMissing: 'empty' }), []);
      batch[2] = ev(`${s}.2`, { nested: [1, Number.NaN] });
      await rejectsWithCode(store.append(s, batch, 'no-stream'), 'VALIDATION_FAILED');
      assert.deepEqual(await store.readStream(s, { ifMissing: 'empty' }), []);
      // The same ids are free afterwards: nothing of the failed batch was kept.
      batch[2] = ev(`${s}.2`);
      assert.equal((await store.append(s, batch, 'no-stream')).nextExpectedRevision, 4);
    });

    it('lets exactly one of two concurrent writers with the same expected revision win', async () => {
      const other = await openExtra();
      const s = fresh();
      const rounds = 20;
      for (let round = 0; round < rounds; round++) {
        const expected: ExpectedRevision = round === 0 ? 'no-stream' : round - 1;
        const results = await Promise.allSettled([store.append(s, [ev(`${s}/a${round}`)], expected), other.append(s, [ev(`${s}/b${round}`)], expected)]);
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1, `round ${round}: exactly one writer wins`);
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.ok(lost.reason instanceof WrongExpectedVersionError, `round ${round}: the loser gets WrongExpectedVersionError`);
      }
      const stored = await store.readStream(s);
      assert.equal(stored.length, rounds);
      assert.equal(verifyChain(s, stored).ok, true);
    });

    it('detects an edited, deleted or reordered event with verifyChain', async () => {
      const s = fresh();
      await store.append(s, ids(s, 4).map((id, i) => ev(id, { step: i })), 'no-stream');
      const read = await store.readStream(s);
      assert.equal(verifyChain(s, read).ok, true);
      const edited = read.map((e, i) => (i === 2 ? { ...e, data: { step: 99 } } : e));
      assert.deepEqual(pick(verifyChain(s, edited)), { ok: false, brokenAt: 2 });
      const deleted = read.filter((_, i) => i !== 1);
      assert.deepEqual(pick(verifyChain(s, deleted)), { ok: false, brokenAt: 1 });
      const reordered = [read[0]!, read[2]!, read[1]!, read[3]!];
      assert.deepEqual(pick(verifyChain(s, reordered)), { ok: false, brokenAt: 1 });
    });

    it('reads the global order with position, maxCount and category filters', async () => {
      const catA = `alpha${run}`;
      const catB = `beta${run}`;
      const catC = `gamma${run}`;
      const plan: [string, string][] = [
        [`${catA}-1`, 'a1'],
        [`${catB}-1`, 'b1'],
        [`${catA}-2`, 'a2'],
        [catA, 'a3'], // a stream named exactly like its category belongs to it
        [`${catC}-1`, 'c1'],
        [`${catB}-1`, 'b2'],
      ];
      for (const [stream, id] of plan) await store.append(stream, [ev(`${run}/${id}`)], 'any');
      const idsOf = (events: RecordedEvent[]): string[] => events.map((e) => e.metadata.eventId.split('/')[1]!);
      const a = await store.readAll({ categories: [catA] });
      assert.deepEqual(idsOf(a), ['a1', 'a2', 'a3']);
      const ab = await store.readAll({ categories: [catA, catB] });
      assert.deepEqual(idsOf(ab), ['a1', 'b1', 'a2', 'a3', 'b2']);
      for (let i = 1; i < ab.length; i++) assert.ok(ab[i - 1]!.position < ab[i]!.position, 'strictly increasing positions');
      assert.deepEqual(idsOf(await store.readAll({ categories: [catA, catB], after: ab[1]!.position })), ['a2', 'a3', 'b2']);
      assert.deepEqual(idsOf(await store.readAll({ categories: [catA, catB], after: ab[1]!.position, maxCount: 2 })), ['a2', 'a3']);
      assert.deepEqual(idsOf(await store.readAll({ categories: [catA, catB], after: ab[4]!.position })), []);
      assert.deepEqual(await store.readAll({ categories: [`nothing${run}`] }), []);
      const everything = await store.readAll({ after: ab[0]!.position, maxCount: 1000 });
      const ours = everything.filter((e) => e.metadata.eventId.startsWith(`${run}/`));
      assert.deepEqual(idsOf(ours), ['b1', 'a2', 'a3', 'c1', 'b2'], 'without a filter every category is read, in order');
    });

    it('delivers old then new events to a catch-up subscription and resumes from its checkpoint without redelivery', async () => {
      const cat = `sub${run}`;
      const name = `conformance-${run}`;
      for (let i = 0; i < 3; i++) await store.append(`${cat}-${i}`, [ev(`${run}/old${i}`)], 'no-stream');
      const seen: string[] = [];
      let s1: EventStore | undefined = await target.open();
      const sub = s1.subscribe({ name, categories: [cat], handler: async (e) => void seen.push(e.metadata.eventId) });
      await sub.caughtUp;
      assert.deepEqual(seen, [0, 1, 2].map((i) => `${run}/old${i}`));
      // Live: appended by this connection and by another one.
      await s1.append(`${cat}-0`, [ev(`${run}/new0`)], 0);
      await store.append(`${cat}-1`, [ev(`${run}/new1`)], 0);
      await until(() => seen.length === 5, 5_000, 'live events');
      assert.deepEqual(seen.slice(3), [`${run}/new0`, `${run}/new1`]);
      await sub.stop();
      await s1.close();
      s1 = undefined;
      assert.ok((await store.checkpoints.load(name)) !== undefined, 'the checkpoint was saved');

      await store.append(`${cat}-2`, [ev(`${run}/afterRestart`)], 0);
      const s2 = await openExtra();
      const resumed: string[] = [];
      const sub2 = s2.subscribe({ name, categories: [cat], handler: async (e) => void resumed.push(e.metadata.eventId) });
      await sub2.caughtUp;
      await until(() => resumed.length >= 1, 5_000, 'resumed delivery');
      await new Promise((r) => setTimeout(r, 100));
      await sub2.stop();
      assert.deepEqual(resumed, [`${run}/afterRestart`], 'only what came after the checkpoint');
    });

    it('retries a failing handler on the same event without skipping it', async () => {
      const cat = `retry${run}`;
      await store.append(`${cat}-1`, [ev(`${run}/r0`), ev(`${run}/r1`)], 'no-stream');
      const seen: string[] = [];
      const errors: unknown[] = [];
      let failures = 2;
      const sub = store.subscribe({
        name: `retry-${run}`,
        categories: [cat],
        onError: (error) => errors.push(error),
        handler: async (e) => {
          if (e.metadata.eventId.endsWith('r1') && failures-- > 0) throw new Error('handler failed');
          seen.push(e.metadata.eventId);
        },
      });
      await until(() => seen.length === 2, 10_000, 'retried delivery');
      await sub.stop();
      assert.deepEqual(seen, [`${run}/r0`, `${run}/r1`]);
      assert.equal(errors.length, 2);
    });

    it('keeps checkpoints durable per name', async () => {
      const name = `cp-${run}`;
      assert.equal(await store.checkpoints.load(name), undefined);
      await store.checkpoints.save(name, 41n);
      await store.checkpoints.save(name, 42n);
      const again = await openExtra();
      assert.equal(await again.checkpoints.load(name), 42n);
    });

    it('appendMany writes many streams in one call, each with its own revisions and hash chain', async () => {
      const cat = `many${run}`;
      // Some streams exist already (expected: their revision), the others are new.
      const existing = [`${cat}-0`, `${cat}-1`, `${cat}-2`];
      for (const s of existing) await store.append(s, [ev(`${s}/pre`)], 'no-stream');
      const writes: StreamWrite[] = Array.from({ length: 60 }, (_, i) => {
        const stream = `${cat}-${i}`;
        const expected: ExpectedRevision = i < 3 ? 0 : i % 3 === 0 ? 'no-stream' : i % 3 === 1 ? 'any' : 'no-stream';
        return { stream, events: ids(`${stream}/m`, 1 + (i % 4)).map((id, k) => ev(id, { i, k })), expected };
      });
      const results = await store.appendMany(writes);
      assert.equal(results.length, writes.length, 'one result per write');
      for (const [i, w] of writes.entries()) {
        const r = results[i]!;
        const stored = await store.readStream(w.stream);
        const offset = i < 3 ? 1 : 0;
        assert.equal(stored.length, offset + w.events.length, `${w.stream}: every event stored`);
        assert.equal(r.duplicate, false);
        assert.equal(r.nextExpectedRevision, stored.length - 1, `${w.stream}: next expected revision`);
        assert.equal(r.position, stored[stored.length - 1]!.position, `${w.stream}: position of its last event`);
        assert.deepEqual(
          stored.slice(offset).map((e) => e.metadata.eventId),
          w.events.map((e) => e.eventId),
          `${w.stream}: in order`,
        );
        assert.equal(verifyChain(w.stream, stored).ok, true, `${w.stream}: the chain verifies`);
        if (i < 3) assert.equal(stored[1]!.metadata.prevHash, stored[0]!.metadata.hash, 'an existing stream continues its chain');
        else assert.equal(stored[0]!.metadata.prevHash, GENESIS_HASH, 'a new stream starts from GENESIS_HASH');
      }
      const all = await store.readAll({ categories: [cat] });
      assert.equal(all.length, 3 + writes.reduce((n, w) => n + w.events.length, 0));
      for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.position < all[i]!.position, 'strictly increasing positions');
      const order = all.slice(3).map((e) => e.metadata.stream);
      assert.deepEqual([...new Set(order)], writes.map((w) => w.stream), 'the global order follows the writes');
    });

    it('appendMany: one stale expected revision fails the call with WrongExpectedVersionError naming the stream', async () => {
      const cat = `stale${run}`;
      const target = `${cat}-7`;
      await store.append(target, [ev(`${target}/pre0`), ev(`${target}/pre1`)], 'no-stream');
      const writes: StreamWrite[] = Array.from({ length: 12 }, (_, i) => ({
        stream: `${cat}-${i}`,
        events: [ev(`${cat}-${i}/x`)],
        expected: i === 7 ? 0 : 'no-stream', // stream 7 is at revision 1: stale
      }));
      const error = (await rejectsWithCode(store.appendMany(writes), 'WRONG_EXPECTED_VERSION', WrongExpectedVersionError)) as WrongExpectedVersionError;
      assert.equal(error.stream, target);
      assert.equal(error.actual, 1);
      const stored = await store.readAll({ categories: [cat] });
      if (store.capabilities.atomicMultiStreamAppend) {
        assert.deepEqual(
          stored.map((e) => e.metadata.eventId),
          [`${target}/pre0`, `${target}/pre1`],
          'nothing of the call is stored anywhere',
        );
      } else {
        // Sequential: the writes before the stale one stand, none after it.
        assert.deepEqual(new Set(stored.map((e) => e.metadata.stream)), new Set([...Array.from({ length: 7 }, (_, i) => `${cat}-${i}`), target]));
      }
      // With the revision corrected, the same call (same ids) completes, on either kind of adapter.
      const fixed = writes.map((w, i) => (i === 7 ? { ...w, expected: 1 } : w));
      const done = await store.appendMany(fixed);
      assert.equal(done[7]!.nextExpectedRevision, 2);
      assert.equal((await store.readAll({ categories: [cat] })).length, 14, 'every stream written exactly once');
    });

    it('appendMany: an invalid event in the 500th stream stores nothing at all', async () => {
      const cat = `invalid${run}`;
      const writes: StreamWrite[] = Array.from({ length: 600 }, (_, i) => ({ stream: `${cat}-${i}`, events: [ev(`${cat}-${i}/e0`), ev(`${cat}-${i}/e1`)], expected: 'no-stream' }));
      writes[499] = { ...writes[499]!, events: [ev(`${cat}-499/e0`), ev(`${cat}-499/e1`, { count: 10n })] };
      const error = await rejectsWithCode(store.appendMany(writes), 'VALIDATION_FAILED');
      assert.equal(error.details.write, 499, 'the error names the write');
      assert.equal(error.details.stream, `${cat}-499`);
      assert.match(error.message, new RegExp(`${cat}-499`));
      assert.deepEqual(await store.readAll({ categories: [cat] }), [], 'nothing stored');
      const bad: [string, () => Promise<unknown>][] = [
        ['no writes', () => store.appendMany([])],
        ['not an array', () => store.appendMany({ stream: `${cat}-x` } as unknown as StreamWrite[])],
        ['a write that is no object', () => store.appendMany([writes[0]!, null as unknown as StreamWrite])],
        ['no events in a write', () => store.appendMany([writes[0]!, { stream: `${cat}-y`, events: [], expected: 'any' }])],
        ['a stream twice', () => store.appendMany([writes[0]!, { ...writes[1]!, stream: writes[0]!.stream }])],
        ['an event id in two streams', () => store.appendMany([writes[0]!, { ...writes[1]!, events: [writes[0]!.events[0]!] }])],
        ['a bad expected revision', () => store.appendMany([writes[0]!, { ...writes[1]!, expected: -3 }])],
      ];
      for (const [what, call] of bad) {
        const e = await rejectsWithCode(call, 'VALIDATION_FAILED');
        assert.ok(e.message.length > 10, `${what}: a clear message`);
      }
      assert.deepEqual(await store.readAll({ categories: [cat] }), [], 'still nothing stored');
    });

    it('appendMany: a retry of the same call is a duplicate per stream and writes nothing; a partial reuse is refused', async () => {
      const cat = `again${run}`;
      const writes: StreamWrite[] = Array.from({ length: 40 }, (_, i) => ({ stream: `${cat}-${i}`, events: ids(`${cat}-${i}/r`, 2).map((id) => ev(id)), expected: 'no-stream' }));
      const first = await store.appendMany(writes);
      const count = (await store.readAll({ categories: [cat] })).length;
      assert.equal(count, 80);
      // The retry carries the same, now stale, expected revisions.
      const retry = await store.appendMany(writes);
      assert.deepEqual(retry, first.map((r): AppendResult => ({ ...r, duplicate: true })));
      assert.equal((await store.readAll({ categories: [cat] })).length, count, 'no new events');
      // Retried streams and new streams mixed in one call: the retried ones are no-ops.
      const mixed = await store.appendMany([...writes.slice(0, 5), { stream: `${cat}-new`, events: [ev(`${cat}-new/0`)], expected: 'no-stream' }]);
      assert.deepEqual(
        mixed.map((r) => r.duplicate),
        [true, true, true, true, true, false],
      );
      // A write reusing one stored id with a new one is no retry: the call fails.
      const reuse = [{ stream: `${cat}-late`, events: [ev(`${cat}-late/0`)], expected: 'no-stream' as const }, { stream: `${cat}-3`, events: [writes[3]!.events[0]!, ev(`${cat}-3/new`)], expected: 1 }];
      await rejectsWithCode(store.appendMany(reuse), 'DUPLICATE_EVENT_ID', DuplicateEventIdError);
      if (store.capabilities.atomicMultiStreamAppend) assert.deepEqual(await store.readStream(`${cat}-late`, { ifMissing: 'empty' }), [], 'the failed call stored nothing');
      const all = await store.readAll({ categories: [cat] });
      assert.equal(new Set(all.map((e) => e.metadata.eventId)).size, all.length, 'no event stored twice');
      for (const w of writes) assert.equal(verifyChain(w.stream, await store.readStream(w.stream)).ok, true, `${w.stream}: the chain verifies`);
    });

    it('rejects bad input with VALIDATION_FAILED and stores nothing', async () => {
      const s = fresh();
      const bad: [string, () => Promise<unknown>][] = [
        ['empty stream name', () => store.append('', [ev(`${s}/x`)], 'any')],
        ['stream name not a string', () => store.append(42 as unknown as string, [ev(`${s}/x`)], 'any')],
        ['events not an array', () => store.append(s, { eventId: 'x' } as unknown as NewEvent[], 'any')],
        ['no events', () => store.append(s, [], 'any')],
        ['missing event id', () => store.append(s, [{ type: 'T', data: {} } as unknown as NewEvent], 'any')],
        ['empty event id', () => store.append(s, [ev('')], 'any')],
        ['type not a string', () => store.append(s, [{ eventId: `${s}/x`, type: 7, data: {} } as unknown as NewEvent], 'any')],
        ['data missing', () => store.append(s, [{ eventId: `${s}/x`, type: 'T' } as unknown as NewEvent], 'any')],
        ['same id twice in a batch', () => store.append(s, [ev(`${s}/x`), ev(`${s}/x`)], 'any')],
        ['negative expected revision', () => store.append(s, [ev(`${s}/x`)], -1)],
        ['unknown expected revision', () => store.append(s, [ev(`${s}/x`)], 'latest' as ExpectedRevision)],
        ['bad traceparent', () => store.append(s, [ev(`${s}/x`, {}, { traceparent: 'not-a-trace' })], 'any')],
        ['bad schemaVersion', () => store.append(s, [ev(`${s}/x`, {}, { schemaVersion: 0 })], 'any')],
        ['empty stream name on read', () => store.readStream('')],
        ['negative maxCount', () => store.readAll({ maxCount: -1 })],
        ['position not a bigint', () => store.readAll({ after: 5 as unknown as bigint })],
        ['empty category list', () => store.readAll({ categories: [] })],
      ];
      for (const [what, call] of bad) {
        const error = await rejectsWithCode(call, 'VALIDATION_FAILED');
        assert.ok(error.message.length > 10, `${what}: a clear message`);
      }
      assert.deepEqual(await store.readStream(s, { ifMissing: 'empty' }), [], 'nothing stored');
      assert.throws(() => store.subscribe({ name: '', handler: async () => undefined }), (e: unknown) => e instanceof PatchbayError && e.code === 'VALIDATION_FAILED');
    });
  });
}

const pick = (v: ReturnType<typeof verifyChain>): { ok: boolean; brokenAt?: number } => (v.ok ? { ok: true } : { ok: false, brokenAt: v.brokenAt });
