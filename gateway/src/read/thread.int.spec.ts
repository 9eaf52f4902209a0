import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteEventStore } from '@patchbay/event-store';
import type { PatchbayConfig } from '@patchbay/service-host';
import { C } from './projections.js';
import { inventoryBatches } from './read-fixtures.js';
import { startReadModelsThread } from './thread.js';

/** Nice value of each thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat). */
const niceByThread = (): Map<number, number> =>
  new Map(
    readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which is in parentheses and may hold spaces).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return [Number(tid), Number(fields[16])];
    }),
  );

describe('read models thread', () => {
  let dir: string;
  let config: PatchbayConfig;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-read-thread-'));
    const sqlitePath = join(dir, 'events.db');
    const store = SqliteEventStore.open(sqlitePath);
    for (const [stream, events] of inventoryBatches()) await store.append(stream, events, 'any');
    await store.close();
    config = { natsUrl: undefined, eventStoreUrl: undefined, dataDir: dir, sqlitePath, commandTimeoutMs: 2000, gatewayHost: '127.0.0.1', gatewayPort: 0, logLevel: 'silent', nodeSemiSpaceMb: 0, nodeHeapGrowingPercent: 0, upLayout: 'separate' };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('projects in a worker thread at a lower priority and answers queries from there', async () => {
    const before = niceByThread();
    const thread = await startReadModelsThread({ config, readStore: { READ_STORE_PATH: join(dir, 'read-store.jsonl') }, nice: 10 });
    try {
      await thread.readModels.caughtUp();
      const endpoint = await thread.readStore.collection(C.endpoints).findOne({ _id: 'e-01' });
      assert.equal(endpoint?.['endpointId'], 'e-01');
      assert.equal(await thread.readStore.collection(C.endpoints).count({}), 7);
      const after = niceByThread();
      assert.equal(after.get(process.pid), before.get(process.pid), 'the main thread keeps its priority');
      const lowered = [...after].filter(([tid, nice]) => !before.has(tid) && nice === 10);
      assert.ok(lowered.length >= 1, `a new thread at nice 10: ${JSON.stringify([...after])}`);
      assert.equal(thread.alive, true);
    } finally {
      await thread.close();
    }
    assert.equal(thread.alive, false);
    assert.match(readFileSync(join(dir, 'read-store.jsonl'), 'utf8'), /patchbay-read-store/, 'closing wrote the snapshot');
  });

  it('a thread that ends unexpectedly fails every query with READ_STORE_UNAVAILABLE; a new one catches up from the events', async () => {
    const exits: Error[] = [];
    const thread = await startReadModelsThread({ config, readStore: { READ_STORE_PATH: ':memory:' }, nice: 0, onExit: (e) => exits.push(e) });
    await thread.readModels.caughtUp();
    await thread.worker.terminate();
    assert.equal(thread.alive, false);
    assert.equal(exits.length, 1, 'told once');
    await assert.rejects(thread.readStore.collection(C.endpoints).count({}), (err: { code?: string }) => err.code === 'READ_STORE_UNAVAILABLE');
    await assert.rejects(thread.readModels.caughtUp(), (err: { code?: string }) => err.code === 'READ_STORE_UNAVAILABLE');
    const again = await startReadModelsThread({ config, readStore: { READ_STORE_PATH: ':memory:' }, nice: 0 });
    try {
      await again.readModels.caughtUp();
      assert.equal(await again.readStore.collection(C.endpoints).count({}), 7, 'nothing lost: the events are the record');
    } finally {
      await again.close();
    }
  });

  it('a read store that cannot be opened fails the start with its code and leaves the file as it was', async () => {
    const file = join(dir, 'not-a-snapshot.jsonl');
    writeFileSync(file, 'this is not a snapshot\n');
    await assert.rejects(startReadModelsThread({ config, readStore: { READ_STORE_PATH: file }, nice: 0 }), (err: { code?: string; message?: string }) => err.code === 'READ_STORE_UNAVAILABLE' && /not a read-store snapshot/.test(err.message ?? ''));
    assert.equal(readFileSync(file, 'utf8'), 'this is not a snapshot\n');
  });
});
