import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkBulk, checkFilter, checkPipeline, checkUpdate, requireKnownId, requireUpsertId } from './dialect.js';
import { InvalidQueryError } from './errors.js';
import { decodeValue, encodeValue } from './json-codec.js';
import { positionKey } from './projection.js';

const rejects = (fn: () => unknown, reason?: string): void => {
  assert.throws(
    fn,
    (e: unknown) =>
      e instanceof InvalidQueryError && e.code === 'INVALID_QUERY' && (reason === undefined || (e.details as { reason?: string }).reason === reason),
  );
};

describe('dialect checks', () => {
  it('accepts the supported filter forms', () => {
    for (const f of [
      {},
      { a: 1, 'b.c': 'x', d: null, e: true, f: new Date(0), g: /x/i },
      { a: { $gt: 1, $lte: 5 }, b: { $in: [1, 'x'] }, c: { $exists: false } },
      { $or: [{ a: 1 }, { $and: [{ b: 2 }, { c: { $not: { $eq: 3 } } }] }] },
      { tags: { $all: ['a'], $size: 1 }, n: { $elemMatch: { $gt: 0 } } },
      { name: { $regex: '^a', $options: 'i' } },
      { doc: { exact: { nested: [1, 2] } } },
    ]) {
      assert.doesNotThrow(() => checkFilter(f), JSON.stringify(f));
    }
  });

  it('names code execution wherever it hides', () => {
    rejects(() => checkFilter({ $where: 'sleep(1000)' }), 'code-execution');
    rejects(() => checkFilter({ a: { $not: { $where: 'x' } } }), 'code-execution');
    rejects(() => checkFilter({ $or: [{ $expr: { $function: { body: 'x', args: [], lang: 'js' } } }] }), 'code-execution');
    rejects(() => checkPipeline([{ $group: { _id: null, x: { $accumulator: {} } } }]), 'code-execution');
    rejects(() => checkPipeline([{ $facet: { a: [{ $match: { $where: 'x' } }] } }]), 'code-execution');
    rejects(() => checkUpdate({ $set: { a: { $function: {} } } }), 'code-execution');
  });

  it('rejects malformed operands with INVALID_QUERY', () => {
    rejects(() => checkFilter({ a: { $in: 'x' } }));
    rejects(() => checkFilter({ a: { $exists: 1 } }));
    rejects(() => checkFilter({ a: { $size: -1 } }));
    rejects(() => checkFilter({ a: { $options: 'i' } }));
    rejects(() => checkFilter({ a: { $regex: 'x', $options: 'g' } }));
    rejects(() => checkFilter({ $or: [] }));
    rejects(() => checkFilter({ '': 1 }));
    rejects(() => checkFilter({ 'a..b': 1 }));
    rejects(() => checkFilter({ a: undefined }));
    rejects(() => checkFilter({ a: new Date(NaN) }));
    rejects(() => checkFilter({ a: { $lt: Infinity } }));
    rejects(() => checkUpdate({ $set: { a: NaN } }));
    rejects(() => checkFilter([] as never));
    rejects(() => checkUpdate({}));
    rejects(() => checkUpdate({ $set: {} }));
    rejects(() => checkUpdate({ $inc: { _id: 1 } }));
    rejects(() => checkUpdate({ $addToSet: { a: { $each: 'x' } } }));
    rejects(() => checkPipeline({} as never));
    rejects(() => checkPipeline([{ $match: {}, $sort: { a: 1 } }]));
    rejects(() => checkPipeline([{ $limit: 1.5 }]));
    rejects(() => checkPipeline([{ $group: { n: { $sum: 1 } } }]));
    rejects(() => checkPipeline([{ $group: { _id: null, n: { $sum: {} } } }]));
    rejects(() => checkPipeline([{ $count: '$n' }]));
    rejects(() => checkBulk([{ upsertOne: { filter: {}, document: { name: 'x' } } }]));
  });

  it('rejects deeply nested input instead of recursing without bound', () => {
    let f: Record<string, unknown> = { a: 1 };
    for (let i = 0; i < 100; i++) f = { $and: [f] };
    rejects(() => checkFilter(f));
  });

  it('requires deterministic ids for upserts', () => {
    assert.equal(requireKnownId({ _id: 'a' }, {}), 'a');
    assert.equal(requireKnownId({ _id: { $eq: 3 } }, {}), 3);
    assert.equal(requireKnownId({}, { _id: 'b' }), 'b');
    rejects(() => requireKnownId({ x: 1 }, {}));
    rejects(() => requireKnownId({ _id: 'a' }, { _id: 'b' }));
    assert.doesNotThrow(() => requireUpsertId({}, { $setOnInsert: { _id: 'x' } }));
    rejects(() => requireUpsertId({ _id: { $in: ['a'] } }, { $set: { a: 1 } }));
  });

  it('never fails with anything but INVALID_QUERY on arbitrary input', () => {
    const key = fc.oneof(
      fc.constantFrom('$where', '$gt', '$in', '$and', '$or', '$not', '$elemMatch', '$regex', '$set', '$push', '$each', '$group', '$sum', 'a', 'b.c', '_id', ''),
      fc.string({ maxLength: 4 }),
    );
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.integer(),
        fc.double(),
        fc.string({ maxLength: 5 }),
        fc.boolean(),
        fc.date(),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(key, tie('v'), { maxKeys: 3 }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (input) => {
        for (const check of [checkFilter, checkUpdate, checkPipeline] as ((v: unknown) => void)[]) {
          try {
            check(input);
          } catch (error) {
            if (!(error instanceof InvalidQueryError)) throw error;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('values and positions', () => {
  it('round-trips dates through the snapshot/cursor encoding', () => {
    const v = { a: new Date('2026-01-01T00:00:00.123Z'), b: [1, 'x', null, { c: new Date(0) }] };
    assert.deepEqual(decodeValue(encodeValue(v)), v);
  });

  it('orders positions as strings in numeric order', () => {
    const ps = [0n, 9n, 10n, 123456789012345678n, 18446744073709551615n];
    const keys = ps.map(positionKey);
    assert.deepEqual([...keys].sort(), keys);
    assert.equal(keys[4]!.length, 20);
    assert.throws(
      () => positionKey(-1n),
      (e: unknown) => (e as { code?: string }).code === 'INVALID_QUERY',
    );
  });
});
