import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openReadStore, plainError, serveReadStore, type ReadStoreConfig } from '@patchbay/read-store';
import { openConfiguredStore, type PatchbayConfig } from '@patchbay/service-host';
import { createLogger, releaseHeapWhenIdle } from '@patchbay/telemetry';
import { startReadModels } from './projections.js';

/** What the gateway gives its read models' thread. */
export interface ReadModelsWorkerData {
  config: PatchbayConfig;
  readStore: ReadStoreConfig;
  /** Nice value of this thread (Linux: per thread): 0 leaves it as the gateway's. */
  nice: number;
}

/*
 * The gateway's read models in a thread of their own: the event store read by the projections, the
 * read store they write, and the queries the gateway sends over the parent port
 * (`serveReadStore`), so a burst of projection work never holds the loop that serves subscribers.
 * Messages to the parent: `{ready: true}` once the projections run, `{failed}` when it could not
 * start. A priority that cannot be lowered is logged, and the thread keeps the gateway's.
 */
async function main(): Promise<void> {
  const port = parentPort!;
  const data = workerData as ReadModelsWorkerData;
  const logger = createLogger('gateway', { level: data.config.logLevel });
  if (data.nice > 0) {
    try {
      // pid 0 is the calling thread on Linux: only the read models go after the subscriber path.
      setPriority(0, data.nice);
    } catch (err) {
      logger.warn({ error: (err as Error).message, nice: data.nice }, 'the read models thread keeps the gateway priority');
    }
  }
  const store = await openConfiguredStore(data.config);
  const readStore = await openReadStore(data.readStore);
  const readModels = await startReadModels({
    store,
    readStore,
    onError: (err) => logger.warn({ code: (err as { code?: string }).code, err: String(err) }, 'read-model projection failed on an event; retrying'),
    onSkipped: (err, event) => logger.warn({ code: (err as { code?: string }).code, eventId: event.metadata.eventId, type: event.type, stream: event.metadata.stream }, 'event refused by the read store; skipped by the read models'),
  });
  const idle = releaseHeapWhenIdle();
  serveReadStore(port, readStore, {
    caughtUp: () => readModels.caughtUp(),
    rebuild: () => readModels.rebuild(),
    close: async () => {
      idle.stop();
      await readModels.stop();
      await readStore.close();
      await store.close();
    },
  });
  port.postMessage({ ready: true });
}

main().catch((err: unknown) => parentPort!.postMessage({ failed: plainError(err) }));
