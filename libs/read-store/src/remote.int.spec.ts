import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { threadId, Worker } from 'node:worker_threads';
import { describeReadStoreConformance, rejectsWithCode } from './conformance.js';
import { DuplicateKeyError, InvalidQueryError } from './errors.js';
import { PortReadStore } from './remote.js';

/** A real worker thread serving an in-memory embedded store, and the client for it. */
async function startRemote(): Promise<{ store: PortReadStore; worker: Worker }> {
  const worker = new Worker(join(__dirname, 'remote-worker.fixture.js'));
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: { ready?: boolean }) => m?.ready && resolve());
  });
  const store = new PortReadStore(worker);
  worker.once('exit', (code) => store.fail(new Error(`the read store's thread exited with ${code}`)));
  return { store, worker };
}

describeReadStoreConformance('embedded, served from a worker thread over a MessagePort', async () => {
  const { store, worker } = await startRemote();
  return { open: async () => store, dispose: async () => void (await worker.terminate()) };
});

describe('PortReadStore', () => {
  it('runs on the other thread and keeps errors as their classes, with their codes', async () => {
    const { store, worker } = await startRemote();
    try {
      assert.notEqual(await store.call<number>('threadId'), threadId, 'answered by the worker thread');
      const c = store.collection('hosts');
      await c.createIndex({ name: 1 }, { unique: true });
      await c.upsertOne({ _id: 'h1' }, { name: 'alpha', seen: new Date('2026-01-02T03:04:05.678Z') });
      const doc = await c.findOne({ _id: 'h1' });
      assert.ok(doc?.['seen'] instanceof Date, 'dates arrive as dates');
      assert.equal(await store.call('position'), 12345678901234567890n, 'bigints (projection positions) arrive as bigints');
      const dup = await rejectsWithCode(c.upsertOne({ _id: 'h2' }, { name: 'alpha' }), 'DUPLICATE_KEY');
      assert.ok(dup instanceof DuplicateKeyError);
      const bad = await rejectsWithCode(c.find({ $where: 'sleep(1000)' }), 'INVALID_QUERY');
      assert.ok(bad instanceof InvalidQueryError);
      // An argument that cannot cross threads is refused here, never sent.
      await rejectsWithCode(c.find({ name: () => 'x' } as never), 'INVALID_QUERY');
      await assert.rejects(store.call('fail'), (err: Error) => err.name === 'TypeError' && err.message === 'a plain failure');
      await rejectsWithCode(store.call('no-such-operation'), 'NOT_FOUND');
      assert.equal(await c.count(), 1, 'the refused writes left the stored document as it was');
    } finally {
      await worker.terminate();
    }
  });

  it('fails every call in progress and every later one with READ_STORE_UNAVAILABLE once the thread is gone', async () => {
    const { store, worker } = await startRemote();
    const c = store.collection('hosts');
    await c.upsertOne({ _id: 'h1' }, { name: 'alpha' });
    const inProgress = c.find({});
    await worker.terminate();
    // The reply may have come back before the thread ended: either way nothing hangs.
    await inProgress.catch((err: { code?: string }) => assert.equal(err.code, 'READ_STORE_UNAVAILABLE'));
    await rejectsWithCode(c.count(), 'READ_STORE_UNAVAILABLE');
  });
});
