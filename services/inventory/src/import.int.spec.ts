import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NewEvent } from '@patchbay/contracts';
import { SqliteEventStore, type EventStore, type ExpectedRevision, type StreamWrite } from '@patchbay/event-store';
import { InventoryService, type ImportRequest } from './inventory-service.js';

/** Real SQLite store, presented as a store without multi-stream transactions (as KurrentDB is). */
const NOT_ATOMIC = Object.freeze({ atomicMultiStreamAppend: false });

/** Real SQLite store without multi-stream transactions; `crashAfter` makes it die (throw) after that many appends, like a killed process. */
function crashingStore(inner: SqliteEventStore, crashAfter: number): EventStore {
  let appends = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'capabilities') return NOT_ATOMIC;
      if (prop === 'append')
        return async (stream: string, events: readonly NewEvent[], expected: ExpectedRevision) => {
          if (appends++ >= crashAfter) throw new Error('process killed');
          return target.append(stream, events, expected);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const ini = (n: number, extra = '') => `[web]\n${Array.from({ length: n }, (_, i) => `web${i} ansible_host=10.0.${Math.floor(i / 250)}.${i % 250} ${extra}`).join('\n')}\n[web:vars]\nrole=web\n`;
const request = (content: string, more: Partial<ImportRequest> = {}): ImportRequest => ({ format: 'ansible-ini', fileName: 'fleet.ini', content, retireMissing: false, dryRun: false, defaults: {}, ...more });

describe('import on a real SQLite store', () => {
  const dirs: string[] = [];
  const open = () => {
    const d = mkdtempSync(join(tmpdir(), 'patchbay-inventory-import-'));
    dirs.push(d);
    return join(d, 'events.db');
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('without atomic multi-stream append (as on KurrentDB), a crash half-way is completed by running the same import again, without duplicates', async () => {
    const path = open();
    const store = SqliteEventStore.open(path);
    try {
      await assert.rejects(new InventoryService(crashingStore(store, 120), 'explicit').import(request(ini(300)), { commandId: 'imp-1', actor: 'ops' }), /process killed/);
      assert.equal((await store.readAll({ categories: ['endpoint'] })).length, 120, 'the crash left a partial import');
      const service = new InventoryService(store, 'explicit');
      const resumed = await service.import(request(ini(300)), { commandId: 'imp-1', actor: 'ops' });
      assert.deepEqual(resumed.summary, { endpoints: 300, registered: 180, updated: 0, unchanged: 120, retired: 0 });
      const events = await store.readAll({ categories: ['endpoint'] });
      assert.equal(events.length, 300);
      assert.equal(new Set(events.map((e) => e.metadata.stream)).size, 300, 'one registration per endpoint');
      const again = await service.import(request(ini(300)), { commandId: 'imp-2', actor: 'ops' });
      assert.equal(again.eventsAppended, 0);
    } finally {
      await store.close();
    }
  });

  it('a bad entry anywhere stores nothing; a dry run stores nothing either', async () => {
    const store = SqliteEventStore.open(open());
    try {
      const service = new InventoryService(store, 'explicit');
      const content = ini(1000).replace('web999 ansible_host=10.0.3.249', 'web999 ansible_host=10.0.3.249 ansible_port=99999');
      await assert.rejects(service.import(request(content), { commandId: 'c1', actor: 'ops' }), (e: Error & { code?: string; details?: { issues: Array<{ line: number; field: string }> } }) => {
        assert.equal(e.code, 'INVALID_SSH_IDENTITY');
        assert.deepEqual([e.details!.issues[0]!.line, e.details!.issues[0]!.field], [1001, 'ansible_port']);
        return true;
      });
      const dry = await service.import(request(ini(10), { dryRun: true }), { commandId: 'c2', actor: 'ops' });
      assert.equal(dry.summary.registered, 10);
      assert.equal((await store.readAll()).length, 0);
    } finally {
      await store.close();
    }
  });

  it('without atomic multi-stream append, a concurrent writer interrupts an import with INVENTORY_IMPORT_INTERRUPTED; running it again completes it', async () => {
    const store = SqliteEventStore.open(open());
    try {
      const service = new InventoryService(store, 'explicit');
      await service.import(request(ini(50)), { commandId: 'first', actor: 'ops' });
      // Between planning and writing, another command changes web40.
      const racing = new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'capabilities') return NOT_ATOMIC;
          if (prop === 'append')
            return async (stream: string, events: readonly NewEvent[], expected: ExpectedRevision) => {
              if (stream === 'endpoint-web30') await service.execute({ type: 'UpdateLabels', endpointId: 'web40', set: { owner: 'someone' }, remove: [] }, { commandId: 'race', actor: 'other' });
              return target.append(stream, events, expected);
            };
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }) as EventStore;
      const changed = ini(50, 'tier=gold');
      await assert.rejects(new InventoryService(racing, 'explicit').import(request(changed), { commandId: 'second', actor: 'ops' }), (e: Error & { code?: string }) => e.code === 'INVENTORY_IMPORT_INTERRUPTED');
      const done = await service.import(request(changed), { commandId: 'second', actor: 'ops' });
      assert.equal(done.summary.unchanged + done.summary.updated, 50);
      const view = await service.get('web40');
      assert.deepEqual(view.labels, { 'group.web': 'true', role: 'web', tier: 'gold' }, 'the file wins for labels it lists');
    } finally {
      await store.close();
    }
  });
  it('on SQLite the import is one transaction: an endpoint changed concurrently in the middle leaves nothing of the import stored; running it again completes it', async () => {
    const store = SqliteEventStore.open(open());
    try {
      const service = new InventoryService(store, 'explicit');
      assert.equal(store.capabilities.atomicMultiStreamAppend, true);
      let raced = false;
      // Between planning and writing, another import registers web150: the import's write for
      // it (expected: no stream) fails half-way through the transaction.
      const racing = new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'append') return () => assert.fail('an atomic store is written with appendMany');
          if (prop === 'appendMany')
            return async (writes: readonly StreamWrite[]) => {
              assert.equal(writes.length, 300, 'the whole import in one call');
              await service.import(request('[web]\nweb150 ansible_host=10.0.0.150\n[web:vars]\nrole=web\n'), { commandId: 'other', actor: 'someone' });
              raced = true;
              return target.appendMany(writes);
            };
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }) as EventStore;
      await assert.rejects(new InventoryService(racing, 'explicit').import(request(ini(300)), { commandId: 'big', actor: 'ops' }), (e: Error & { code?: string; details?: Record<string, unknown> }) => {
        assert.equal(e.code, 'INVENTORY_IMPORT_INTERRUPTED');
        assert.deepEqual(e.details, { applied: 0, total: 300, cause: 'WRONG_EXPECTED_VERSION', atomic: true, stream: 'endpoint-web150' });
        assert.match(e.message, /nothing stored/);
        return true;
      });
      assert.ok(raced);
      const stored = await store.readAll();
      assert.deepEqual(
        stored.map((e) => [e.metadata.stream, e.metadata.causationId]),
        [['endpoint-web150', 'other']],
        'only the concurrent registration is stored, nothing of the import (web0..web149 were written in the transaction and rolled back)',
      );
      const done = await service.import(request(ini(300)), { commandId: 'big', actor: 'ops' });
      assert.deepEqual(done.summary, { endpoints: 300, registered: 299, updated: 0, unchanged: 1, retired: 0 });
      assert.equal(done.eventsAppended, 299);
      assert.equal((await store.readAll({ categories: ['endpoint'] })).length, 300);
    } finally {
      await store.close();
    }
  });

  it('on SQLite a store that fills up in the middle of the import keeps nothing of it', async () => {
    // How many pages a 300-endpoint import needs, measured on another file.
    const measure = SqliteEventStore.open(open());
    const pages = (s: SqliteEventStore): number => (s.db.prepare('PRAGMA page_count').get() as Record<string, number>).page_count!;
    let empty: number;
    let full: number;
    try {
      empty = pages(measure);
      await new InventoryService(measure, 'explicit').import(request(ini(300)), { commandId: 'm', actor: 'ops' });
      full = pages(measure);
    } finally {
      await measure.close();
    }
    const path = open();
    const store = SqliteEventStore.open(path, { maxPageCount: empty + Math.floor((full - empty) / 2) });
    try {
      const service = new InventoryService(store, 'explicit');
      await assert.rejects(service.import(request(ini(300)), { commandId: 'f', actor: 'ops' }), (e: Error & { code?: string }) => e.code === 'EVENT_STORE_UNAVAILABLE');
      assert.deepEqual(await store.readAll(), [], 'nothing of the import is stored');
    } finally {
      await store.close();
    }
    // With room, the same import completes.
    const roomy = SqliteEventStore.open(path);
    try {
      const done = await new InventoryService(roomy, 'explicit').import(request(ini(300)), { commandId: 'f', actor: 'ops' });
      assert.equal(done.eventsAppended, 300);
    } finally {
      await roomy.close();
    }
  });
});
