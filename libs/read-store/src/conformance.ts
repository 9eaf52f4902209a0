import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecordedEvent } from '@patchbay/contracts';
import { PatchbayError } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import type { EventStore } from '@patchbay/event-store';
import { findPage } from './pagination.js';
import type { ReadCollection, ReadDocument, ReadStore } from './port.js';
import { loadProjectionPosition, PROJECTIONS_COLLECTION, runProjection } from './projection.js';
import type { ProjectionDefinition } from './projection.js';

/** What the suite needs from an adapter: a fresh, empty store per suite. */
export interface ReadStoreTarget {
  open(): Promise<ReadStore>;
  /** Called after the store is closed (e.g. drop the test database, remove files). */
  dispose?(): Promise<void>;
}

/** Resolves when `check` holds, or fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Asserts the promise (or call) fails with a `PatchbayError` of `code`. */
export async function rejectsWithCode(promise: Promise<unknown> | (() => unknown), code: string): Promise<PatchbayError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected an error with code ${code}, got success`);
  assert.ok(error instanceof PatchbayError, `expected a PatchbayError, got ${String(error)}`);
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  return error;
}

interface Host extends ReadDocument {
  _id: string;
  name: string;
  os: string;
  cores: number;
  tags: string[];
  seen?: Date;
  meta?: { rack: string; slot: number };
  score?: number;
}

const HOSTS: Host[] = [
  { _id: 'h1', name: 'alpha', os: 'debian', cores: 2, tags: ['web', 'prod'], seen: new Date('2026-01-01T00:00:00Z'), meta: { rack: 'r1', slot: 1 }, score: 10 },
  { _id: 'h2', name: 'bravo', os: 'debian', cores: 4, tags: ['db', 'prod'], seen: new Date('2026-02-01T00:00:00Z'), meta: { rack: 'r1', slot: 2 }, score: 20 },
  { _id: 'h3', name: 'charlie', os: 'ubuntu', cores: 8, tags: ['web'], seen: new Date('2026-03-01T00:00:00Z'), meta: { rack: 'r2', slot: 1 } },
  { _id: 'h4', name: 'delta', os: 'rocky', cores: 4, tags: [], meta: { rack: 'r2', slot: 2 }, score: 5 },
  { _id: 'h5', name: 'echo', os: 'ubuntu', cores: 16, tags: ['db', 'staging', 'web'], seen: new Date('2026-04-01T00:00:00Z'), score: 40 },
];

const ids = (docs: readonly { _id: unknown }[]): unknown[] => docs.map((d) => d._id).sort();

/**
 * The read-store conformance suite: every adapter must pass it unchanged. Each test uses
 * collections of its own, so the suite can share one database.
 */
export function describeReadStoreConformance(name: string, factory: () => Promise<ReadStoreTarget>, options: { skip?: string | boolean } = {}): void {
  describe(`ReadStore conformance: ${name}`, { skip: options.skip }, () => {
    let target: ReadStoreTarget;
    let store: ReadStore;
    const fresh = <T extends ReadDocument = ReadDocument>(label: string): ReadCollection<T> => store.collection<T>(`t_${label}_${randomUUID().slice(0, 8)}`);
    const seeded = async (label: string): Promise<ReadCollection<Host>> => {
      const c = fresh<Host>(label);
      for (const h of HOSTS) await c.upsertOne({ _id: h._id }, h);
      return c;
    };

    before(async () => {
      target = await factory();
      store = await target.open();
    });
    after(async () => {
      await store?.close();
      await target?.dispose?.();
    });

    it('inserts, reads, replaces, counts and deletes documents', async () => {
      const c = fresh<Host>('crud');
      const r1 = await c.upsertOne({ _id: 'h1' }, HOSTS[0]!);
      assert.equal(r1.upsertedId, 'h1');
      assert.equal(r1.matchedCount, 0);
      assert.deepEqual(await c.findOne({ _id: 'h1' }), HOSTS[0]);
      const r2 = await c.upsertOne({ _id: 'h1' }, { name: 'alpha2', os: 'debian', cores: 3, tags: [] });
      assert.equal(r2.matchedCount, 1);
      assert.equal(r2.upsertedId, undefined);
      assert.deepEqual(
        await c.findOne({ _id: 'h1' }),
        { _id: 'h1', name: 'alpha2', os: 'debian', cores: 3, tags: [] },
        'replacement drops fields it does not name',
      );
      assert.equal(await c.findOne({ _id: 'nope' }), null);
      await c.upsertOne({ _id: 'h2' }, HOSTS[1]!);
      assert.equal(await c.count(), 2);
      assert.equal(await c.count({ os: 'debian' }), 2);
      assert.equal(await c.deleteMany({ _id: 'h1' }), 1);
      assert.equal(await c.deleteMany({ _id: 'h1' }), 0);
      assert.deepEqual(ids(await c.find()), ['h2']);
      assert.equal(await c.deleteMany({}), 1);
      assert.equal(await c.count(), 0);
    });

    it('returns copies: changing a returned document does not change the store', async () => {
      const c = await seeded('copies');
      const doc = (await c.findOne({ _id: 'h1' }))!;
      doc.tags.push('mutated');
      doc.name = 'changed';
      assert.deepEqual(await c.findOne({ _id: 'h1' }), HOSTS[0]);
    });

    it('needs a known _id for upsertOne (deterministic ids keep rebuilds identical)', async () => {
      const c = fresh('upsert_id');
      await rejectsWithCode(c.upsertOne({ name: 'x' }, { name: 'x' }), 'INVALID_QUERY');
      await rejectsWithCode(c.upsertOne({ _id: 'a' }, { _id: 'b', name: 'x' }), 'INVALID_QUERY');
      await rejectsWithCode(c.updateOne({ name: 'x' }, { $set: { n: 1 } }, { upsert: true }), 'INVALID_QUERY');
      assert.equal(await c.count(), 0);
      // The id may come from the filter alone.
      await c.upsertOne({ _id: 'k' }, { name: 'k' });
      assert.deepEqual(await c.findOne({ _id: 'k' }), { _id: 'k', name: 'k' });
    });

    const FILTER_TABLE: [string, Record<string, unknown>, string[]][] = [
      ['equality', { os: 'debian' }, ['h1', 'h2']],
      ['$eq', { cores: { $eq: 4 } }, ['h2', 'h4']],
      ['$ne', { os: { $ne: 'debian' } }, ['h3', 'h4', 'h5']],
      ['$gt', { cores: { $gt: 4 } }, ['h3', 'h5']],
      ['$gte', { cores: { $gte: 4 } }, ['h2', 'h3', 'h4', 'h5']],
      ['$lt', { cores: { $lt: 4 } }, ['h1']],
      ['$lte', { cores: { $lte: 4 } }, ['h1', 'h2', 'h4']],
      ['$in', { os: { $in: ['rocky', 'ubuntu'] } }, ['h3', 'h4', 'h5']],
      ['$nin', { os: { $nin: ['rocky', 'ubuntu'] } }, ['h1', 'h2']],
      ['$exists true', { score: { $exists: true } }, ['h1', 'h2', 'h4', 'h5']],
      ['$exists false', { seen: { $exists: false } }, ['h4']],
      ['$and', { $and: [{ os: 'debian' }, { cores: { $gt: 2 } }] }, ['h2']],
      ['$or', { $or: [{ os: 'rocky' }, { cores: 16 }] }, ['h4', 'h5']],
      ['$nor', { $nor: [{ os: 'debian' }, { os: 'ubuntu' }] }, ['h4']],
      ['$not', { cores: { $not: { $gt: 4 } } }, ['h1', 'h2', 'h4']],
      ['$regex', { name: { $regex: '^[a-c]' } }, ['h1', 'h2', 'h3']],
      ['$regex with $options', { name: { $regex: '^ECHO$', $options: 'i' } }, ['h5']],
      ['RegExp literal', { name: /ta$/ }, ['h4']],
      ['$size', { tags: { $size: 2 } }, ['h1', 'h2']],
      ['$all', { tags: { $all: ['db', 'web'] } }, ['h5']],
      ['$elemMatch on values', { tags: { $elemMatch: { $in: ['staging'] } } }, ['h5']],
      ['array element equality', { tags: 'web' }, ['h1', 'h3', 'h5']],
      ['dotted path', { 'meta.rack': 'r2' }, ['h3', 'h4']],
      ['embedded range', { 'meta.slot': { $gte: 2 } }, ['h2', 'h4']],
      ['dates', { seen: { $gte: new Date('2026-02-01T00:00:00Z'), $lt: new Date('2026-04-01T00:00:00Z') } }, ['h2', 'h3']],
      ['combined range', { cores: { $gt: 2, $lt: 16 } }, ['h2', 'h3', 'h4']],
      ['nothing', { os: 'plan9' }, []],
    ];
    it('supports every query operator of the dialect', async () => {
      const c = await seeded('ops');
      for (const [label, filter, expected] of FILTER_TABLE) {
        assert.deepEqual(ids(await c.find(filter)), expected, label);
        assert.equal(await c.count(filter), expected.length, `count: ${label}`);
      }
    });

    it('$elemMatch takes operators on the element; element fields go through dotted paths', async () => {
      const c = fresh('elem');
      await c.upsertOne(
        { _id: 'a' },
        {
          runs: [
            { step: 'patch', ok: false },
            { step: 'reboot', ok: true },
          ],
          exits: [0, 3],
        },
      );
      await c.upsertOne({ _id: 'b' }, { runs: [{ step: 'patch', ok: true }], exits: [0] });
      assert.deepEqual(ids(await c.find({ exits: { $elemMatch: { $gt: 0, $lt: 5 } } })), ['a']);
      assert.deepEqual(ids(await c.find({ 'runs.step': 'reboot' })), ['a']);
      assert.deepEqual(ids(await c.find({ 'runs.ok': true })), ['a', 'b']);
      await rejectsWithCode(c.find({ runs: { $elemMatch: { step: 'patch', ok: true } } }), 'INVALID_QUERY');
    });

    it('sorts, skips, limits and projects', async () => {
      const c = await seeded('sort');
      assert.deepEqual(
        (await c.find({}, { sort: { cores: -1, _id: 1 } })).map((d) => d._id),
        ['h5', 'h3', 'h2', 'h4', 'h1'],
      );
      assert.deepEqual(
        (await c.find({}, { sort: { os: 1, cores: -1 } })).map((d) => d._id),
        ['h2', 'h1', 'h4', 'h5', 'h3'],
      );
      assert.deepEqual(
        (await c.find({}, { sort: { name: 1 }, skip: 1, limit: 2 })).map((d) => d._id),
        ['h2', 'h3'],
      );
      assert.deepEqual(
        (await c.find({}, { sort: { name: 1 }, skip: 10 })).map((d) => d._id),
        [],
      );
      assert.deepEqual(
        (await c.find({}, { sort: { 'meta.slot': -1, _id: -1 }, limit: 2 })).map((d) => d._id),
        ['h4', 'h2'],
      );
      assert.deepEqual(await c.find({ _id: 'h1' }, { projection: { name: 1 } }), [{ _id: 'h1', name: 'alpha' }]);
      assert.deepEqual(await c.find({ _id: 'h1' }, { projection: { name: 1, _id: 0 } }), [{ name: 'alpha' }]);
      assert.deepEqual(await c.find({ _id: 'h4' }, { projection: { tags: 0, meta: 0, score: 0 } }), [{ _id: 'h4', name: 'delta', os: 'rocky', cores: 4 }]);
      assert.deepEqual(await c.findOne({ os: 'ubuntu' }, { sort: { cores: -1 } }), HOSTS[4]);
    });

    it('applies $set, $unset, $inc, $push, $addToSet, $pull and $setOnInsert', async () => {
      const c = fresh('update');
      await c.upsertOne({ _id: 'e' }, { name: 'e', count: 1, tags: ['a', 'b', 'c'], meta: { rack: 'r1' } });
      const r = await c.updateOne({ _id: 'e' }, { $set: { name: 'E', 'meta.slot': 3 }, $unset: { count: '' }, $push: { tags: 'd' } });
      assert.equal(r.matchedCount, 1);
      assert.equal(r.modifiedCount, 1);
      assert.deepEqual(await c.findOne({ _id: 'e' }), { _id: 'e', name: 'E', tags: ['a', 'b', 'c', 'd'], meta: { rack: 'r1', slot: 3 } });
      await c.updateOne({ _id: 'e' }, { $inc: { runs: 2, 'meta.slot': -1 } });
      await c.updateOne({ _id: 'e' }, { $inc: { runs: 3 } });
      await c.updateOne({ _id: 'e' }, { $addToSet: { tags: 'a', labels: 'x' } });
      await c.updateOne({ _id: 'e' }, { $addToSet: { labels: { $each: ['x', 'y', 'y'] } }, $push: { history: { $each: [1, 2] } } });
      await c.updateOne({ _id: 'e' }, { $pull: { tags: 'b' } });
      await c.updateOne({ _id: 'e' }, { $pull: { history: 2 } });
      await c.updateOne({ _id: 'e' }, { $push: { tags: 'c' } });
      await c.updateOne({ _id: 'e' }, { $pull: { tags: 'c' } });
      assert.deepEqual(
        await c.findOne({ _id: 'e' }),
        { _id: 'e', name: 'E', tags: ['a', 'd'], meta: { rack: 'r1', slot: 2 }, runs: 5, labels: ['x', 'y'], history: [1] },
        '$pull removes every equal element',
      );
      // No match: nothing happens without upsert.
      assert.deepEqual(await c.updateOne({ _id: 'none' }, { $set: { x: 1 } }), { matchedCount: 0, modifiedCount: 0 });
      assert.equal(await c.count({ _id: 'none' }), 0);
      // Upsert builds the new document from the filter's equality fields plus the update.
      const up = await c.updateOne({ _id: 'n', os: 'debian' }, { $set: { name: 'n' }, $inc: { seen: 1 }, $setOnInsert: { created: 'yes' } }, { upsert: true });
      assert.equal(up.upsertedId, 'n');
      assert.deepEqual(await c.findOne({ _id: 'n' }), { _id: 'n', os: 'debian', name: 'n', seen: 1, created: 'yes' });
      const again = await c.updateOne({ _id: 'n' }, { $inc: { seen: 1 }, $setOnInsert: { created: 'again' } }, { upsert: true });
      assert.equal(again.matchedCount, 1);
      assert.deepEqual(await c.findOne({ _id: 'n' }), { _id: 'n', os: 'debian', name: 'n', seen: 2, created: 'yes' }, '$setOnInsert only applies on insert');
    });

    it('runs the supported aggregation stages and accumulators', async () => {
      const c = await seeded('agg');
      assert.deepEqual(await c.aggregate([{ $match: { cores: { $gte: 2 } } }, { $group: { _id: '$os', n: { $sum: 1 } } }, { $sort: { _id: 1 } }]), [
        { _id: 'debian', n: 2 },
        { _id: 'rocky', n: 1 },
        { _id: 'ubuntu', n: 2 },
      ]);
      assert.deepEqual(await c.aggregate([{ $group: { _id: '$os', cores: { $sum: '$cores' } } }, { $sort: { cores: -1 } }]), [
        { _id: 'ubuntu', cores: 24 },
        { _id: 'debian', cores: 6 },
        { _id: 'rocky', cores: 4 },
      ]);
      assert.deepEqual(await c.aggregate([{ $group: { _id: null, total: { $sum: '$score' } } }]), [{ _id: null, total: 75 }]);
      assert.deepEqual(
        await c.aggregate([
          { $match: { meta: { $exists: true } } },
          { $group: { _id: { rack: '$meta.rack' }, n: { $count: {} } } },
          { $sort: { '_id.rack': 1 } },
        ]),
        [
          { _id: { rack: 'r1' }, n: 2 },
          { _id: { rack: 'r2' }, n: 2 },
        ],
      );
      const tags = await c.aggregate([{ $unwind: '$tags' }, { $group: { _id: '$tags', n: { $count: {} } } }, { $sort: { n: -1, _id: 1 } }, { $limit: 2 }]);
      assert.deepEqual(tags, [
        { _id: 'web', n: 3 },
        { _id: 'db', n: 2 },
      ]);
      assert.deepEqual(await c.aggregate([{ $match: { os: 'ubuntu' } }, { $count: 'hosts' }]), [{ hosts: 2 }]);
      const shaped = await c.aggregate([
        { $match: { _id: 'h1' } },
        { $project: { name: 1, meta: 1 } },
        { $addFields: { kind: 'host', tier: 2 } },
        { $set: { flag: true } },
        { $unset: 'name' },
      ]);
      assert.deepEqual(shaped, [{ _id: 'h1', meta: { rack: 'r1', slot: 1 }, kind: 'host', tier: 2, flag: true }]);
      const excluded = await c.aggregate([{ $match: { _id: 'h4' } }, { $project: { tags: 0, meta: 0, score: 0 } }]);
      assert.deepEqual(excluded, [{ _id: 'h4', name: 'delta', os: 'rocky', cores: 4 }]);
      const page = await c.aggregate([{ $sort: { name: 1 } }, { $skip: 3 }, { $project: { _id: 1 } }]);
      assert.deepEqual(page, [{ _id: 'h4' }, { _id: 'h5' }]);
    });

    it('paginates with opaque cursors, stable under inserts and deletes between pages', async () => {
      const c = fresh<{ _id: string; rank: number }>('page');
      for (let i = 0; i < 25; i++) await c.upsertOne({ _id: `d${String(i).padStart(2, '0')}` }, { rank: i % 4 });
      const expected = (await c.find({}, { sort: { rank: 1, _id: 1 } })).map((d) => d._id);
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const page: Awaited<ReturnType<typeof findPage<{ _id: string; rank: number }>>> = await findPage(c, { sort: { rank: 1 }, first: 7, after });
        seen.push(...page.edges.map((e) => e.node._id));
        pages++;
        if (pages === 2) {
          // A document sorting before the cursor and one deleted ahead of it: no repeats, no gaps among the rest.
          await c.upsertOne({ _id: 'a-early' }, { rank: -1 });
          await c.deleteMany({ _id: expected[20]! });
        }
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      assert.equal(pages, 4);
      assert.deepEqual(
        seen,
        expected.filter((id) => id !== expected[20]),
      );
      // Descending, with a filter.
      const desc = await findPage(c, { filter: { rank: { $gte: 2 } }, sort: { rank: -1 }, first: 3 });
      const next = await findPage(c, { filter: { rank: { $gte: 2 } }, sort: { rank: -1 }, first: 100, after: desc.pageInfo.endCursor });
      assert.deepEqual(
        [...desc.edges, ...next.edges].map((e) => e.node._id),
        (await c.find({ rank: { $gte: 2 } }, { sort: { rank: -1, _id: -1 } })).map((d) => d._id),
      );
      assert.equal(next.pageInfo.hasNextPage, false);
      await rejectsWithCode(findPage(c, { sort: { _id: 1 }, first: 2, after: desc.pageInfo.endCursor }), 'INVALID_QUERY');
      await rejectsWithCode(findPage(c, { first: 2, after: 'not-a-cursor' }), 'INVALID_QUERY');
      await rejectsWithCode(findPage(c, { first: 0 }), 'INVALID_QUERY');
    });

    it('enforces unique indexes with DUPLICATE_KEY', async () => {
      const c = fresh('unique');
      assert.equal(await c.createIndex({ name: 1 }, { unique: true }), 'name_1');
      assert.equal(await c.createIndex({ name: 1 }, { unique: true }), 'name_1', 'createIndex is idempotent');
      await c.upsertOne({ _id: 'a' }, { name: 'alpha', os: 'debian' });
      await c.upsertOne({ _id: 'b' }, { name: 'bravo', os: 'debian' });
      const e = await rejectsWithCode(c.upsertOne({ _id: 'c' }, { name: 'alpha' }), 'DUPLICATE_KEY');
      // MongoDB and the embedded store name the index; FerretDB's E11000 message does not.
      assert.equal((e.details as { collection?: string }).collection, c.name);
      await rejectsWithCode(c.updateOne({ _id: 'b' }, { $set: { name: 'alpha' } }), 'DUPLICATE_KEY');
      assert.deepEqual(ids(await c.find()), ['a', 'b']);
      assert.equal((await c.findOne({ _id: 'b' }))!['name'], 'bravo', 'the failed update left the document unchanged');
      // Renaming the holder frees the key.
      await c.updateOne({ _id: 'a' }, { $set: { name: 'alpha2' } });
      await c.upsertOne({ _id: 'c' }, { name: 'alpha' });
      // A unique index over existing duplicates cannot be built.
      await rejectsWithCode(c.createIndex({ os: 1 }, { unique: true }), 'DUPLICATE_KEY');
      // Compound unique index.
      const d = fresh('unique2');
      await d.createIndex({ cycle: 1, endpoint: 1 }, { unique: true });
      await d.upsertOne({ _id: '1' }, { cycle: 'c1', endpoint: 'e1' });
      await d.upsertOne({ _id: '2' }, { cycle: 'c1', endpoint: 'e2' });
      await rejectsWithCode(d.upsertOne({ _id: '3' }, { cycle: 'c1', endpoint: 'e1' }), 'DUPLICATE_KEY');
      // An upsert whose filter misses an existing _id collides on _id.
      await rejectsWithCode(d.updateOne({ _id: '1', cycle: 'other' }, { $set: { x: 1 } }, { upsert: true }), 'DUPLICATE_KEY');
      // Lookups through the index return what a scan returns.
      await d.createIndex({ endpoint: 1 });
      assert.deepEqual(ids(await d.find({ endpoint: 'e2' })), ['2']);
      assert.deepEqual(ids(await d.find({ endpoint: { $in: ['e1', 'e2'] } })), ['1', '2']);
      assert.deepEqual(ids(await d.find({ cycle: 'c1', endpoint: 'e1' })), ['1']);
    });

    const REJECTED: [string, () => Promise<unknown>][] = [
      ['$where string', () => store.collection('rej').find({ $where: 'this.a == 1' })],
      [
        '$where function',
        () =>
          store.collection('rej').find({
            $where: function () {
              return true;
            },
          } as never),
      ],
      ['$expr', () => store.collection('rej').find({ $expr: { $eq: ['$a', 1] } })],
      ['$function in $expr', () => store.collection('rej').find({ $expr: { $function: { body: 'return 1', args: [], lang: 'js' } } })],
      ['$text', () => store.collection('rej').find({ $text: { $search: 'x' } })],
      ['unknown field operator', () => store.collection('rej').find({ a: { $near: [0, 0] } })],
      ['$mod', () => store.collection('rej').find({ a: { $mod: [2, 0] } })],
      ['function value', () => store.collection('rej').find({ a: (() => 1) as never })],
      ['bigint value', () => store.collection('rej').find({ a: 1n as never })],
      ['operator and field mixed', () => store.collection('rej').find({ a: { $gt: 1, b: 2 } })],
      ['$accumulator', () => store.collection('rej').aggregate([{ $group: { _id: null, x: { $accumulator: { init: 'function(){}' } } } }])],
      ['$function in $addFields', () => store.collection('rej').aggregate([{ $addFields: { x: { $function: { body: 'return 1', args: [], lang: 'js' } } } }])],
      ['$lookup', () => store.collection('rej').aggregate([{ $lookup: { from: 'x', localField: 'a', foreignField: 'b', as: 'c' } }])],
      ['$out', () => store.collection('rej').aggregate([{ $out: 'elsewhere' }])],
      ['$merge', () => store.collection('rej').aggregate([{ $merge: { into: 'elsewhere' } }])],
      ['$where in $match', () => store.collection('rej').aggregate([{ $match: { $where: 'true' } }])],
      ['expression operator', () => store.collection('rej').aggregate([{ $project: { x: { $concat: ['$a', '$b'] } } }])],
      ['$rename', () => store.collection('rej').updateOne({ _id: 'a' }, { $rename: { a: 'b' } } as never)],
      ['replacement passed to updateOne', () => store.collection('rej').updateOne({ _id: 'a' }, { a: 1 } as never)],
      ['positional path', () => store.collection('rej').updateOne({ _id: 'a' }, { $set: { 'steps.$.ok': true } })],
      ['$inc by a string', () => store.collection('rej').updateOne({ _id: 'a' }, { $inc: { n: '1' } })],
      ['conflicting update paths', () => store.collection('rej').updateOne({ _id: 'a' }, { $set: { a: 1 }, $inc: { 'a.b': 1 } })],
      ['$push with $slice', () => store.collection('rej').updateOne({ _id: 'a' }, { $push: { a: { $each: [1], $slice: -5 } } })],
      ['$-prefixed key in a document', () => store.collection('rej').upsertOne({ _id: 'a' }, { a: { $set: 1 } })],
      ['dotted key in a document', () => store.collection('rej').upsertOne({ _id: 'a' }, { 'a.b': 1 })],
      ['projection operator', () => store.collection('rej').find({}, { projection: { a: { $slice: 1 } } as never })],
      ['mixed projection', () => store.collection('rej').find({}, { projection: { a: 1, b: 0 } })],
      ['bad sort direction', () => store.collection('rej').find({}, { sort: { a: 2 as 1 } })],
      ['negative limit', () => store.collection('rej').find({}, { limit: -1 })],
      ['bad bulk op', () => store.collection('rej').bulkWrite([{ insertMany: {} } as never])],
      ['$avg (missing in FerretDB)', () => store.collection('rej').aggregate([{ $group: { _id: '$os', a: { $avg: '$cores' } } }])],
      [
        'two accumulators (FerretDB computes only the first)',
        () => store.collection('rej').aggregate([{ $group: { _id: '$os', a: { $sum: 1 }, b: { $sum: '$cores' } } }]),
      ],
      ['$unwind options', () => store.collection('rej').aggregate([{ $unwind: { path: '$tags', preserveNullAndEmptyArrays: true } }])],
      ['$project with a field path', () => store.collection('rej').aggregate([{ $project: { rack: '$meta.rack' } }])],
      ['$addFields with a field path', () => store.collection('rej').aggregate([{ $addFields: { rack: '$meta.rack' } }])],
      ['$pull with a condition', () => store.collection('rej').updateOne({ _id: 'a' }, { $pull: { h: { $gte: 2 } } })],
      ['$pull with a document', () => store.collection('rej').updateOne({ _id: 'a' }, { $pull: { steps: { ok: false } } })],
    ];
    it('rejects operators outside the dialect, and everything that executes code, with INVALID_QUERY', async () => {
      for (const [label, run] of REJECTED) {
        const e = await rejectsWithCode(run, 'INVALID_QUERY').catch((error: unknown) => {
          throw new Error(`${label}: ${(error as Error).message}`);
        });
        if (/\$where|\$function|\$accumulator/.test(label)) assert.equal((e.details as { reason?: string }).reason, 'code-execution', label);
      }
      assert.equal(await store.collection('rej').count(), 0, 'nothing was written');
    });

    it('applies bulk writes in order and stops at the first failure', async () => {
      const c = fresh('bulk');
      await c.createIndex({ name: 1 }, { unique: true });
      const r = await c.bulkWrite([
        { upsertOne: { filter: { _id: 'a' }, document: { name: 'a', n: 1 } } },
        { upsertOne: { filter: { _id: 'b' }, document: { name: 'b', n: 1 } } },
        { updateOne: { filter: { _id: 'a' }, update: { $inc: { n: 1 } } } },
        { updateOne: { filter: { _id: 'c' }, update: { $set: { name: 'c' } }, upsert: true } },
        { deleteMany: { filter: { _id: 'b' } } },
      ]);
      assert.deepEqual(r, { matchedCount: 1, modifiedCount: 1, upsertedCount: 3, deletedCount: 1 });
      assert.deepEqual(await c.find({}, { sort: { _id: 1 } }), [
        { _id: 'a', name: 'a', n: 2 },
        { _id: 'c', name: 'c' },
      ]);
      await rejectsWithCode(
        c.bulkWrite([
          { updateOne: { filter: { _id: 'a' }, update: { $inc: { n: 10 } } } },
          { upsertOne: { filter: { _id: 'd' }, document: { name: 'c' } } },
          { updateOne: { filter: { _id: 'a' }, update: { $inc: { n: 100 } } } },
        ]),
        'DUPLICATE_KEY',
      );
      assert.equal((await c.findOne({ _id: 'a' }))!['n'], 12, 'operations before the failure stay applied, those after it are not run');
      assert.equal(await c.count({ _id: 'd' }), 0);
      // A malformed operation is reported before anything is written.
      await rejectsWithCode(
        c.bulkWrite([
          { updateOne: { filter: { _id: 'a' }, update: { $inc: { n: 1 } } } },
          { updateOne: { filter: { _id: 'a' }, update: { $where: 'x' } as never } },
        ]),
        'INVALID_QUERY',
      );
      assert.equal((await c.findOne({ _id: 'a' }))!['n'], 12);
    });

    it('drops collections and lists the rest', async () => {
      const c = fresh('drop');
      await c.upsertOne({ _id: 'x' }, { v: 1 });
      await c.createIndex({ v: 1 }, { unique: true });
      assert.ok((await store.listCollections()).includes(c.name));
      await c.drop();
      await c.drop();
      assert.ok(!(await store.listCollections()).includes(c.name));
      assert.equal(await c.count(), 0);
      // The unique index went with it.
      await c.upsertOne({ _id: 'y' }, { v: 1 });
      await c.upsertOne({ _id: 'z' }, { v: 1 });
      assert.equal(await c.count(), 2);
    });

    describe('projection runner', () => {
      let dir: string;
      let events: EventStore;
      before(() => {
        dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-proj-'));
        events = SqliteEventStore.open(join(dir, 'events.db'), { pollIntervalMs: 10 });
      });
      after(async () => {
        await events?.close();
        rmSync(dir, { recursive: true, force: true });
      });

      const ENDPOINTS = 40;
      let appended = false;
      const appendFleet = async (): Promise<void> => {
        if (appended) return;
        appended = true;
        for (let i = 0; i < ENDPOINTS; i++) {
          const id = `e${i}`;
          await events.append(
            `endpoint-${id}`,
            [{ eventId: `${id}-r`, type: 'EndpointRegistered', data: { id, os: ['debian', 'ubuntu', 'rocky'][i % 3] } }],
            'no-stream',
          );
        }
        for (let i = 0; i < ENDPOINTS; i++) {
          const id = `e${i}`;
          await events.append(`endpoint-${id}`, [{ eventId: `${id}-l`, type: 'EndpointLabelled', data: { label: i % 2 ? 'odd' : 'even' } }], 0);
          await events.append(`other-${id}`, [{ eventId: `${id}-o`, type: 'Unrelated', data: {} }], 'any');
          if (i % 5 === 0) await events.append(`endpoint-${id}`, [{ eventId: `${id}-x`, type: 'EndpointRetired', data: {} }], 1);
        }
      };

      /** A projection of endpoints plus a per-OS counter fed by many streams. */
      const definition = (
        prefix: string,
        hooks: { beforeEvent?: (e: RecordedEvent, n: number) => Promise<void>; afterWrites?: (e: RecordedEvent) => void } = {},
      ): ProjectionDefinition => {
        let n = 0;
        return {
          name: `${prefix}-endpoints`,
          categories: ['endpoint'],
          collections: [`${prefix}_endpoints`],
          setup: async (rs) => {
            await rs.collection(`${prefix}_endpoints`).createIndex({ os: 1 });
          },
          handle: async (event, tx) => {
            await hooks.beforeEvent?.(event, ++n);
            const id = event.metadata.stream.slice('endpoint-'.length);
            const data = event.data as { os?: string; label?: string };
            switch (event.type) {
              case 'EndpointRegistered':
                await tx.applyOnce(`${prefix}_endpoints`, id, { $set: { os: data.os, retired: false }, $inc: { events: 1 } });
                await tx.applyOnce(`${prefix}_by_os`, data.os!, { $inc: { count: 1 } });
                break;
              case 'EndpointLabelled':
                await tx.applyOnce(`${prefix}_endpoints`, id, { $addToSet: { labels: data.label }, $inc: { events: 1 } });
                break;
              case 'EndpointRetired': {
                // The counter is written before the document whose state decides it: after a crash
                // between the two, the retry still sees "not retired" and its counter write is refused
                // by the guard, so the decrement happens exactly once.
                const doc = await tx.collection(`${prefix}_endpoints`).findOne({ _id: id });
                if (doc && !doc['retired']) await tx.applyOnce(`${prefix}_by_os`, doc['os'] as string, { $inc: { count: -1 } });
                await tx.applyOnce(`${prefix}_endpoints`, id, { $set: { retired: true }, $inc: { events: 1 } });
                break;
              }
            }
            hooks.afterWrites?.(event);
          },
        };
      };

      const stateOf = async (prefix: string): Promise<unknown> => ({
        endpoints: await store.collection(`${prefix}_endpoints`).find({}, { sort: { _id: 1 } }),
        byOs: await store.collection(`${prefix}_by_os`).find({}, { sort: { _id: 1 } }),
      });

      const lastEndpointPosition = async (): Promise<bigint> => {
        const all = await events.readAll({ categories: ['endpoint'] });
        return all[all.length - 1]!.position;
      };

      it('builds the read model and keeps its checkpoint in the read store', async () => {
        await appendFleet();
        const prefix = `p${randomUUID().slice(0, 6)}`;
        const running = await runProjection({ ...definition(prefix), store: events, readStore: store, pollIntervalMs: 10 });
        try {
          await running.caughtUp();
          const state = (await stateOf(prefix)) as { endpoints: Record<string, unknown>[]; byOs: Record<string, unknown>[] };
          assert.equal(state.endpoints.length, ENDPOINTS);
          assert.deepEqual(
            state.byOs.map((d) => [d['_id'], d['count']]),
            [
              ['debian', 14 - 3],
              ['rocky', 13 - 3],
              ['ubuntu', 13 - 2],
            ],
          );
          const e0 = state.endpoints.find((d) => d['_id'] === 'e0')!;
          assert.equal(e0['retired'], true);
          assert.deepEqual(e0['labels'], ['even']);
          assert.equal(e0['events'], 3);
          assert.equal(await running.position(), await lastEndpointPosition());
          const cp = await store.collection(PROJECTIONS_COLLECTION).findOne({ _id: `${prefix}-endpoints` });
          assert.deepEqual([...(cp!['collections'] as string[])].sort(), [`${prefix}_by_os`, `${prefix}_endpoints`]);
          // Live: a new event after catching up is applied too.
          await events.append('endpoint-late', [{ eventId: `late-${prefix}`, type: 'EndpointRegistered', data: { id: 'late', os: 'debian' } }], 'any');
          await until(async () => (await store.collection(`${prefix}_endpoints`).count({ _id: 'late' })) === 1, 10_000, 'live event applied');
          await events.append('endpoint-late', [{ eventId: `late-x-${prefix}`, type: 'EndpointRetired', data: {} }], 'any');
          await until(async () => (await store.collection(`${prefix}_endpoints`).count({ _id: 'late', retired: true })) === 1, 10_000, 'live retire applied');
        } finally {
          await running.stop();
        }
      });

      it('survives a stop mid-way and a crash between writes and checkpoint: the result equals a clean rebuild', async () => {
        await appendFleet();
        const prefix = `k${randomUUID().slice(0, 6)}`;
        // First run: stop after 30 events.
        let release!: () => void;
        const reached = new Promise<void>((r) => (release = r));
        const first = await runProjection({
          ...definition(prefix, { beforeEvent: async (_e, n) => (n === 30 ? release() : undefined) }),
          store: events,
          readStore: store,
          pollIntervalMs: 10,
        });
        await reached;
        await first.stop();
        const mid = await loadProjectionPosition(store, `${prefix}-endpoints`);
        assert.ok(mid !== undefined && mid < (await lastEndpointPosition()), 'stopped part-way');
        // Second run: crash after the writes of the 10th event but before its checkpoint, then stop while it retries.
        let crashed!: () => void;
        const crash = new Promise<void>((r) => (crashed = r));
        let seen = 0;
        const second = await runProjection({
          ...definition(prefix, {
            afterWrites: () => {
              if (++seen === 10) {
                crashed();
                throw new Error('simulated crash after writes, before checkpoint');
              }
            },
          }),
          store: events,
          readStore: store,
          pollIntervalMs: 10,
          onError: () => undefined,
        });
        await crash;
        await second.stop();
        // Third run: to the end.
        const third = await runProjection({ ...definition(prefix), store: events, readStore: store, pollIntervalMs: 10 });
        await third.caughtUp();
        const resumed = await stateOf(prefix);
        assert.equal(await third.position(), await lastEndpointPosition());
        await third.rebuild();
        await third.caughtUp();
        const rebuilt = await stateOf(prefix);
        await third.stop();
        assert.deepEqual(resumed, rebuilt);
      });

      it('makes replays and duplicates harmless, and two runners of one projection converge', async () => {
        await appendFleet();
        const prefix = `d${randomUUID().slice(0, 6)}`;
        const def = definition(prefix);
        const a = await runProjection({ ...def, store: events, readStore: store, pollIntervalMs: 10 });
        const b = await runProjection({ ...definition(prefix), store: events, readStore: store, pollIntervalMs: 10 });
        await Promise.all([a.caughtUp(), b.caughtUp()]);
        await a.stop();
        await b.stop();
        const once = await stateOf(prefix);
        // Lose the checkpoint (as if every save had failed): the whole log is replayed over the model.
        await store.collection(PROJECTIONS_COLLECTION).updateOne({ _id: `${prefix}-endpoints` }, { $set: { position: '' } });
        const replay = await runProjection({ ...def, store: events, readStore: store, pollIntervalMs: 10 });
        await replay.caughtUp();
        await replay.stop();
        assert.deepEqual(await stateOf(prefix), once);
        // A duplicate delivery straight through applyOnce is refused.
        const [first] = await events.readAll({ categories: ['endpoint'], maxCount: 1 });
        let applied: boolean | undefined;
        const dup = await runProjection({
          name: `${prefix}-dup-probe`,
          categories: ['endpoint'],
          store: events,
          readStore: store,
          pollIntervalMs: 10,
          handle: async (event, tx) => {
            if (event.position === first!.position) {
              tx.collection(`${prefix}_endpoints`);
              applied = await tx.applyOnce(`${prefix}_endpoints`, (first!.data as { id: string }).id, { $inc: { events: 1 } });
            }
          },
        });
        await dup.caughtUp();
        await dup.stop();
        assert.equal(applied, false);
        assert.deepEqual(await stateOf(prefix), once);
      });

      it('rebuild drops what the projection recorded and replays from the start', async () => {
        await appendFleet();
        const prefix = `r${randomUUID().slice(0, 6)}`;
        const running = await runProjection({ ...definition(prefix), store: events, readStore: store, pollIntervalMs: 10 });
        await running.caughtUp();
        const before = await stateOf(prefix);
        // Corrupt the model by hand; a rebuild must repair it.
        await store.collection(`${prefix}_by_os`).updateOne({ _id: 'debian' }, { $set: { count: 999 } });
        await store.collection(`${prefix}_endpoints`).upsertOne({ _id: 'stray' }, { os: 'none' });
        await running.rebuild();
        await running.caughtUp();
        assert.deepEqual(await stateOf(prefix), before);
        await running.stop();
      });
    });
  });
}
