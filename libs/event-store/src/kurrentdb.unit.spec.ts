import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchbayError } from '@patchbay/contracts';
import { fromKurrentPosition, KurrentEventStore, toKurrentEventId, toKurrentPosition } from './kurrentdb.js';
import { openEventStore } from './open.js';

describe('toKurrentEventId', () => {
  it('keeps a UUID and maps any other id to a stable version-5 UUID', () => {
    assert.equal(toKurrentEventId('0F8FAD5B-D9CB-469F-A165-70867728950E'), '0f8fad5b-d9cb-469f-a165-70867728950e');
    const a = toKurrentEventId('cmd-42/0');
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(toKurrentEventId('cmd-42/0'), a, 'deterministic, so a retry carries the same server id');
    assert.notEqual(toKurrentEventId('cmd-42/1'), a);
    assert.notEqual(toKurrentEventId('not-a-uuid'), toKurrentEventId('Not-a-uuid'), 'ids are case-sensitive unless they are UUIDs');
  });
});

describe('KurrentDB positions', () => {
  it('packs commit and prepare into one bigint that orders like $all and unpacks exactly', () => {
    const batch = [
      { commit: 1000n, prepare: 1000n },
      { commit: 1000n, prepare: 1180n }, // same append, later event
      { commit: 1400n, prepare: 1400n },
      { commit: 2n ** 62n, prepare: 2n ** 62n + 7n },
    ];
    const packed = batch.map(fromKurrentPosition);
    for (let i = 1; i < packed.length; i++) assert.ok(packed[i - 1]! < packed[i]!, `position ${i} sorts after ${i - 1}`);
    assert.deepEqual(packed.map(toKurrentPosition), batch);
  });
});

describe('KurrentEventStore.connect', () => {
  it('refuses a malformed connection string with VALIDATION_FAILED', () => {
    assert.throws(
      () => KurrentEventStore.connect('kurrentdb://host:notaport?tls=maybe'),
      (e: unknown) => e instanceof PatchbayError && e.code === 'VALIDATION_FAILED',
    );
  });

  it('openEventStore picks KurrentDB for a kurrentdb:// URL', async () => {
    const store = await openEventStore({ EVENTSTORE_URL: 'kurrentdb://127.0.0.1:1?tls=false' });
    try {
      assert.ok(store instanceof KurrentEventStore);
    } finally {
      await store.close();
    }
  });
});
