import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '@patchbay/testing';
import { describeEventStoreConformance, rejectsWithCode } from './conformance.js';
import { KurrentEventStore } from './kurrentdb.js';
import { EventStoreUnavailableError } from './port.js';

// Runs against a real KurrentDB/EventStoreDB when EVENTSTORE_URL names one, e.g.
// EVENTSTORE_URL='kurrentdb://admin:changeit@localhost:2113?tls=false'.
const url = process.env.EVENTSTORE_URL;

describeEventStoreConformance(
  'KurrentDB (@kurrent/kurrentdb-client)',
  async () => ({
    open: async () => KurrentEventStore.connect(url!),
  }),
  { skip: url ? false : 'EVENTSTORE_URL not set' },
);

describe('KurrentEventStore without a server', () => {
  it('maps an unreachable server to EVENT_STORE_UNAVAILABLE on append and reads', async () => {
    const port = await freePort();
    const store = KurrentEventStore.connect(`kurrentdb://127.0.0.1:${port}?tls=false&maxDiscoverAttempts=1&discoveryInterval=50&gossipTimeout=500`);
    try {
      await rejectsWithCode(store.append('offline-1', [{ eventId: 'o', type: 'T', data: {} }], 'any'), 'EVENT_STORE_UNAVAILABLE', EventStoreUnavailableError);
      await rejectsWithCode(store.readAll({ maxCount: 1 }), 'EVENT_STORE_UNAVAILABLE', EventStoreUnavailableError);
      await rejectsWithCode(store.readStream('offline-1'), 'EVENT_STORE_UNAVAILABLE', EventStoreUnavailableError);
      await rejectsWithCode(store.appendMany([{ stream: 'offline-1', events: [{ eventId: 'o', type: 'T', data: {} }], expected: 'any' }]), 'EVENT_STORE_UNAVAILABLE', EventStoreUnavailableError);
    } finally {
      await store.close();
    }
  });

  it('says appendMany is not atomic and validates every write before talking to the server', async () => {
    const port = await freePort();
    const store = KurrentEventStore.connect(`kurrentdb://127.0.0.1:${port}?tls=false&maxDiscoverAttempts=1&discoveryInterval=50&gossipTimeout=500`);
    try {
      assert.equal(store.capabilities.atomicMultiStreamAppend, false);
      const writes = Array.from({ length: 600 }, (_, i) => ({ stream: `offline-${i}`, events: [{ eventId: `o${i}`, type: 'T', data: i === 499 ? { n: Number.NaN } : {} }], expected: 'no-stream' as const }));
      // VALIDATION_FAILED, not EVENT_STORE_UNAVAILABLE: nothing was sent for the first 499 writes.
      const error = await rejectsWithCode(store.appendMany(writes), 'VALIDATION_FAILED');
      assert.equal(error.details.write, 499);
    } finally {
      await store.close();
    }
  });
});
