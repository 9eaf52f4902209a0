import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PortReadStore, ReadStoreUnavailableError, reviveError, type PlainError, type ReadStore, type ReadStoreConfig } from '@patchbay/read-store';
import type { PatchbayConfig } from '@patchbay/service-host';
import type { ReadModels } from './projections.js';
import type { ReadModelsWorkerData } from './worker.js';

/** The read models running in their own thread, and the read store the gateway queries there. */
export interface ReadModelsThread {
  readonly readStore: ReadStore;
  readonly readModels: ReadModels;
  /** The worker thread itself. */
  readonly worker: Worker;
  /** False once the thread has ended (stopped, or failed: every query then gets READ_STORE_UNAVAILABLE). */
  readonly alive: boolean;
  /** Stops the projections, closes both stores in the thread, then ends it. */
  close(): Promise<void>;
}

/**
 * Starts the gateway's read models in a worker thread (gateway/src/read/worker.ts) and resolves
 * once they are running; a start that fails there (a read store that cannot be reached, a bad
 * snapshot) rejects with that error's code. `onExit` is told when the thread ends other than by
 * `close()`.
 */
export async function startReadModelsThread(options: { config: PatchbayConfig; readStore: ReadStoreConfig; nice: number; onExit?: (error: Error) => void }): Promise<ReadModelsThread> {
  const data: ReadModelsWorkerData = { config: options.config, readStore: options.readStore, nice: options.nice };
  const worker = new Worker(join(__dirname, 'worker.js'), { workerData: data });
  let alive = true;
  let started = false;
  let closing = false;
  let told = false;
  // Told once, and only about a thread that had started (a failed start rejects instead): a thread
  // that fails emits its error, then its exit.
  const tell = (error: Error) => {
    if (!started || closing || told) return;
    told = true;
    options.onExit?.(error);
  };
  const client = new PortReadStore(worker);
  const ended = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      alive = false;
      const error = new ReadStoreUnavailableError(`the read models thread ended (exit code ${code})`);
      client.fail(error);
      tell(error);
      resolve();
    }),
  );
  worker.on('error', tell);
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: { ready?: boolean; failed?: PlainError }) => {
      if (m?.ready) {
        done();
        started = true;
        resolve();
      } else if (m?.failed) {
        done();
        void worker.terminate();
        reject(reviveError(m.failed));
      }
    };
    const onExit = (code: number) => {
      done();
      reject(new ReadStoreUnavailableError(`the read models thread ended while starting (exit code ${code})`));
    };
    const done = () => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
  const readModels: ReadModels = {
    caughtUp: () => client.call('caughtUp'),
    rebuild: () => client.call('rebuild'),
    // Stopping the projections alone is part of close(): the thread owns them.
    stop: async () => undefined,
  };
  return {
    readStore: client,
    readModels,
    worker,
    get alive() {
      return alive;
    },
    close: async () => {
      if (!alive) return;
      closing = true;
      await client.call('close').catch(() => undefined);
      await worker.terminate();
      await ended;
    },
  };
}
