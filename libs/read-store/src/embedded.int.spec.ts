import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeReadStoreConformance, rejectsWithCode } from './conformance.js';
import { EmbeddedReadStore } from './embedded.js';
import { openReadStore } from './open.js';
import { runProjection } from './projection.js';
import type { ProjectionDefinition } from './projection.js';
import { SqliteEventStore } from '@patchbay/event-store';

describeReadStoreConformance('embedded (mingo, in memory)', async () => ({ open: async () => EmbeddedReadStore.open() }));

describe('EmbeddedReadStore persistence', () => {
  it('snapshots to a JSON-lines file on close and loads it on open, with indexes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-snap-'));
    try {
      const file = join(dir, 'nested', 'read.jsonl');
      const a = EmbeddedReadStore.open({ file });
      const c = a.collection('hosts');
      await c.createIndex({ name: 1 }, { unique: true });
      await c.upsertOne({ _id: 'h1' }, { name: 'alpha', seen: new Date('2026-01-02T03:04:05.678Z'), tags: ['x'], n: 1.5 });
      await c.upsertOne({ _id: 2 }, { name: 'bravo', nested: { deep: [1, { k: null }] } });
      await a.close();
      await rejectsWithCode(c.count(), 'READ_STORE_UNAVAILABLE');
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      assert.equal(lines.length, 4, 'header, one collection line, two documents');

      const b = EmbeddedReadStore.open({ file });
      const d = b.collection('hosts');
      assert.deepEqual(await d.findOne({ _id: 'h1' }), { _id: 'h1', name: 'alpha', seen: new Date('2026-01-02T03:04:05.678Z'), tags: ['x'], n: 1.5 });
      assert.ok((await d.findOne({ _id: 'h1' }))!['seen'] instanceof Date);
      assert.deepEqual(await d.findOne({ _id: 2 }), { _id: 2, name: 'bravo', nested: { deep: [1, { k: null }] } });
      await rejectsWithCode(d.upsertOne({ _id: 'h3' }, { name: 'alpha' }), 'DUPLICATE_KEY');
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('snapshots periodically, so a process that dies without close() keeps what was written before the last interval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-snap-'));
    try {
      const file = join(dir, 'read.jsonl');
      const a = EmbeddedReadStore.open({ file, snapshotIntervalMs: 20 });
      await a.collection('c').upsertOne({ _id: 'x' }, { v: 1 });
      await new Promise((r) => setTimeout(r, 150));
      // No close(): a fresh store reading the same file stands in for the restarted process.
      const b = EmbeddedReadStore.open({ file, snapshotIntervalMs: 0 });
      assert.deepEqual(await b.collection('c').findOne({ _id: 'x' }), { _id: 'x', v: 1 });
      await b.close();
      await a.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a background snapshot holds the documents as of its start while writes go on; close() writes the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-snap-'));
    try {
      const file = join(dir, 'read.jsonl');
      const a = EmbeddedReadStore.open({ file, snapshotIntervalMs: 0 });
      const c = a.collection('runs');
      for (let i = 0; i < 5000; i++) await c.upsertOne({ _id: `r${i}` }, { v: 1, steps: Array.from({ length: 10 }, (_, k) => ({ k, state: 'done' })) });
      const writing = a.snapshotInBackground();
      // Writes while it runs: not in this snapshot (taken before them), and the store stays usable.
      for (let i = 0; i < 50; i++) await c.updateOne({ _id: `r${i}` }, { $set: { v: 2 } });
      await c.upsertOne({ _id: 'late' }, { v: 1 });
      await writing;
      const b = EmbeddedReadStore.open({ file, snapshotIntervalMs: 0 });
      assert.equal(await b.collection('runs').count(), 5000, 'the documents as of the start');
      assert.deepEqual((await b.collection('runs').findOne({ _id: 'r0' }))!['v'], 1);
      await b.close();
      await a.close(); // the final snapshot has everything
      const d = EmbeddedReadStore.open({ file, snapshotIntervalMs: 0 });
      assert.equal(await d.collection('runs').count(), 5001);
      assert.deepEqual((await d.collection('runs').findOne({ _id: 'r0' }))!['v'], 2);
      await d.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('paces periodic snapshots of a large store by what each costs, however short the interval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-snap-'));
    try {
      const file = join(dir, 'read.jsonl');
      const a = EmbeddedReadStore.open({ file, snapshotIntervalMs: 5 });
      const c = a.collection('runs');
      for (let i = 0; i < 30_000; i++) await c.upsertOne({ _id: `r${i}` }, { v: 0, steps: Array.from({ length: 6 }, (_, k) => ({ k, state: 'done', out: 'x'.repeat(40) })) });
      // Every write lands as a rename of a finished temp file onto the snapshot.
      let written = 0;
      const watcher = watch(dir, (_type, name) => {
        if (name === 'read.jsonl') written++;
      });
      try {
        const until = Date.now() + 1500;
        for (let n = 1; Date.now() < until; n++) {
          await c.updateOne({ _id: `r${n % 30_000}` }, { $set: { v: n } });
          if (n % 100 === 0) await new Promise((r) => setTimeout(r, 1));
        }
      } finally {
        watcher.close();
      }
      // One snapshot costs tens of ms to encode, so the next waits about a second or more: a
      // 5 ms interval gives one or two writes in 1.5 s, not dozens.
      assert.ok(written >= 1 && written <= 3, `${written} snapshot writes in 1.5 s`);
      await a.close();
      const b = EmbeddedReadStore.open({ file, snapshotIntervalMs: 0 });
      assert.equal(await b.collection('runs').count(), 30_000);
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not a snapshot with READ_STORE_UNAVAILABLE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-snap-'));
    try {
      const file = join(dir, 'read.jsonl');
      writeFileSync(file, '{"something":"else"}\n');
      assert.throws(
        () => EmbeddedReadStore.open({ file }),
        (e: unknown) => (e as { code?: string }).code === 'READ_STORE_UNAVAILABLE',
      );
      writeFileSync(file, 'not json at all\n');
      assert.throws(
        () => EmbeddedReadStore.open({ file }),
        (e: unknown) => (e as { code?: string }).code === 'READ_STORE_UNAVAILABLE',
      );
      writeFileSync(file, '{"format":"patchbay-read-store","version":1}\n{"c":"x","d":{"_id":1}\n');
      assert.throws(
        () => EmbeddedReadStore.open({ file }),
        (e: unknown) => (e as { code?: string }).code === 'READ_STORE_UNAVAILABLE' && /line 2/.test((e as Error).message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('openReadStore picks the embedded store without MONGODB_URL and validates the URL otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-open-'));
    try {
      const s = await openReadStore({ READ_STORE_PATH: join(dir, 'r.jsonl') });
      assert.ok(s instanceof EmbeddedReadStore);
      await s.close();
      await rejectsWithCode(openReadStore({ MONGODB_URL: 'http://nope' }), 'VALIDATION_FAILED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('EmbeddedReadStore on 10,000 documents', () => {
  it('finds by a hash index far faster than by a scan, and sorts with a limit within budget', async () => {
    const store = EmbeddedReadStore.open();
    const c = store.collection('runs');
    const N = 10_000;
    const t0 = performance.now();
    await c.bulkWrite(
      Array.from({ length: N }, (_, i) => ({
        upsertOne: {
          filter: { _id: `r${i}` },
          document: {
            endpoint: `e${i % 2000}`,
            cycle: `c${i % 50}`,
            state: ['ok', 'failed', 'running'][i % 3],
            startedAt: new Date(1_700_000_000_000 + i * 1000),
            n: i,
          },
        },
      })),
    );
    const loadMs = performance.now() - t0;
    const time = async (label: string, runs: number, fn: () => Promise<unknown>): Promise<number> => {
      await fn();
      const s = performance.now();
      for (let i = 0; i < runs; i++) await fn();
      const per = (performance.now() - s) / runs;
      process.stdout.write(`# ${label}: ${per.toFixed(3)} ms\n`);
      return per;
    };
    const scan = await time('find by endpoint, no index (scan of 10,000)', 20, () => c.find({ endpoint: 'e1234' }));
    await c.createIndex({ endpoint: 1 });
    await c.createIndex({ cycle: 1, state: 1 });
    const indexed = await time('find by endpoint, hash index', 200, () => c.find({ endpoint: 'e1234' }));
    const compound = await time('find by cycle+state, compound index (~67 docs), sorted', 100, () =>
      c.find({ cycle: 'c7', state: 'failed' }, { sort: { startedAt: -1 } }),
    );
    const byId = await time('findOne by _id', 500, () => c.findOne({ _id: 'r5000' }));
    const sorted = await time('find all sorted by startedAt desc, limit 20', 10, () => c.find({}, { sort: { startedAt: -1 }, limit: 20 }));
    const counted = await time('count by state (scan)', 10, () => c.count({ state: 'ok' }));
    process.stdout.write(`# bulk load of ${N}: ${loadMs.toFixed(1)} ms\n`);
    assert.deepEqual((await c.find({ endpoint: 'e1234' })).map((d) => d._id).sort(), ['r1234', 'r3234', 'r5234', 'r7234', 'r9234'].sort());
    assert.equal((await c.find({ cycle: 'c7', state: 'failed' })).length, (await c.find({ $and: [{ cycle: 'c7' }, { state: { $in: ['failed'] } }] })).length);
    assert.ok(indexed * 5 < scan, `index lookup (${indexed.toFixed(3)} ms) should be far faster than a scan (${scan.toFixed(3)} ms)`);
    assert.ok(indexed < 1, 'an indexed equality lookup stays under 1 ms');
    assert.ok(byId < 1, 'an _id lookup stays under 1 ms');
    assert.ok(compound < 5, 'a compound-index lookup with sort stays under 5 ms');
    assert.ok(sorted < 250, 'a full sort of 10,000 stays under 250 ms');
    assert.ok(counted < 100, 'a full count scan stays under 100 ms');
    await store.close();
  });
});

describe('EmbeddedReadStore with the projection runner across a restart', () => {
  it('refuses a projection name that cannot be a key with VALIDATION_FAILED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-name-'));
    const events = SqliteEventStore.open(join(dir, 'events.db'));
    try {
      await rejectsWithCode(
        runProjection({ name: 'bad name/$', store: events, readStore: EmbeddedReadStore.open(), handle: async () => undefined }),
        'VALIDATION_FAILED',
      );
    } finally {
      await events.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resumes from the checkpoint saved in the snapshot instead of replaying everything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-resume-'));
    const events = SqliteEventStore.open(join(dir, 'events.db'), { pollIntervalMs: 10 });
    try {
      for (let i = 0; i < 50; i++) await events.append(`cycle-${i}`, [{ eventId: `c${i}`, type: 'CycleRequested', data: { n: i } }], 'no-stream');
      let handled = 0;
      const definition: ProjectionDefinition = {
        name: 'cycles',
        categories: ['cycle'],
        collections: ['cycles'],
        handle: async (event, tx) => {
          handled++;
          await tx.applyOnce('cycles', event.metadata.stream, { $set: { n: (event.data as { n: number }).n } });
        },
      };
      const file = join(dir, 'read.jsonl');
      const first = EmbeddedReadStore.open({ file, snapshotIntervalMs: 0 });
      const a = await runProjection({ ...definition, store: events, readStore: first, pollIntervalMs: 10 });
      await a.caughtUp();
      await a.stop();
      await first.close();
      assert.equal(handled, 50);

      await events.append('cycle-new', [{ eventId: 'c-new', type: 'CycleRequested', data: { n: 99 } }], 'no-stream');
      const second = EmbeddedReadStore.open({ file, snapshotIntervalMs: 0 });
      const b = await runProjection({ ...definition, store: events, readStore: second, pollIntervalMs: 10 });
      await b.caughtUp();
      await b.stop();
      assert.equal(handled, 51, 'only the event appended after the snapshot was handled');
      assert.equal(await second.collection('cycles').count(), 51);
      await second.close();
    } finally {
      await events.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('projection throughput on the embedded store (figure printed)', () => {
  it('applies 5,000 events with guarded writes and checkpoints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-rs-rate-'));
    const events = SqliteEventStore.open(join(dir, 'events.db'), { pollIntervalMs: 10 });
    const store = EmbeddedReadStore.open();
    try {
      const N = 5_000;
      for (let start = 0; start < N; start += 100) {
        await events.append(
          `run-c1.e${start / 100}`,
          Array.from({ length: 100 }, (_, k) => ({ eventId: `ev${start + k}`, type: 'StepSucceeded', data: { step: k } })),
          'no-stream',
        );
      }
      const t0 = performance.now();
      const running = await runProjection({
        name: 'rate',
        categories: ['run'],
        store: events,
        readStore: store,
        pollIntervalMs: 10,
        handle: async (event, tx) => {
          await tx.applyOnce('runs', event.metadata.stream, { $inc: { steps: 1 }, $set: { last: (event.data as { step: number }).step } });
        },
      });
      await running.caughtUp();
      const ms = performance.now() - t0;
      await running.stop();
      process.stdout.write(`# projection on the embedded store: ${N} events in ${ms.toFixed(0)} ms (${Math.round((N / ms) * 1000)} events/s)\n`);
      const runs = await store.collection('runs').find({});
      assert.equal(runs.length, N / 100);
      assert.ok(runs.every((r) => r['steps'] === 100 && r['last'] === 99));
    } finally {
      await store.close();
      await events.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
