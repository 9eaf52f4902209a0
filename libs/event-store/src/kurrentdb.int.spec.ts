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
    } finally {
      await store.close();
    }
  });
});
