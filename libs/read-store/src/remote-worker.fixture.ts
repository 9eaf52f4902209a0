import { parentPort } from 'node:worker_threads';
import { EmbeddedReadStore } from './embedded.js';
import { serveReadStore } from './remote.js';

// A worker thread serving an in-memory embedded read store over its parent port (remote.int.spec.ts).
const store = EmbeddedReadStore.open();
serveReadStore(parentPort!, store, {
  threadId: async () => (await import('node:worker_threads')).threadId,
  position: async () => 12345678901234567890n,
  fail: async () => {
    throw new TypeError('a plain failure');
  },
});
parentPort!.postMessage({ ready: true });
