import type { MessagePort, Worker } from 'node:worker_threads';
import { PatchbayError } from '@patchbay/contracts';
import { checkBulk, checkFilter, checkPipeline, checkReplacement, checkUpdate } from './dialect.js';
import { DuplicateKeyError, InvalidQueryError, ReadStoreUnavailableError } from './errors.js';
import type { ReadCollection, ReadDocument, ReadStore } from './port.js';

/*
 * A read store used from another thread: the store lives where its projections write (a worker
 * thread), and the thread that answers queries calls it over a MessagePort. Arguments and results
 * are structured clones (documents, filters, bigint positions); errors keep their class and code.
 */

/** The collection methods callable over a port (every method of {@link ReadCollection}). */
const COLLECTION_METHODS = ['find', 'findOne', 'count', 'aggregate', 'upsertOne', 'updateOne', 'deleteMany', 'bulkWrite', 'createIndex', 'drop'] as const;
type CollectionMethod = (typeof COLLECTION_METHODS)[number];
const IS_COLLECTION_METHOD = new Set<string>(COLLECTION_METHODS);

type Request =
  | { id: number; kind: 'collection'; name: string; method: CollectionMethod; args: unknown[] }
  | { id: number; kind: 'listCollections' }
  | { id: number; kind: 'call'; method: string; args: unknown[] };
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: PlainError };
/** An error as it crosses threads. */
export interface PlainError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

/** An error in a form that crosses threads (name, message, code, details). */
export const plainError = (err: unknown): PlainError => {
  const e = err as Partial<PatchbayError> & { name?: string; message?: string };
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(typeof e?.code === 'string' ? { code: e.code } : {}), ...(e?.details ? { details: e.details } : {}) };
};

/** An error from the other side, as the class it was (so callers' `instanceof` and codes still hold). */
export function reviveError(e: PlainError): Error {
  switch (e.code) {
    case 'INVALID_QUERY':
      return new InvalidQueryError(e.message, e.details ?? {});
    case 'DUPLICATE_KEY': {
      const d = e.details ?? {};
      return new DuplicateKeyError(String(d['collection'] ?? ''), String(d['index'] ?? ''), e.message);
    }
    case 'READ_STORE_UNAVAILABLE':
      return new ReadStoreUnavailableError(e.message);
    case undefined: {
      const err = new Error(e.message);
      err.name = e.name;
      return err;
    }
    default:
      return new PatchbayError(e.code, e.message, e.details ?? {});
  }
}

/**
 * Why an operation whose arguments cannot cross threads (a function, a symbol) is refused: the
 * dialect's own error where it has one (a `$where` function is code execution), as the store on the
 * other side would have answered.
 */
function refusalOf(method: CollectionMethod, args: unknown[], cause: Error): InvalidQueryError {
  try {
    if (method === 'aggregate') checkPipeline(args[0]);
    else if (method === 'bulkWrite') checkBulk(args[0] as never);
    else if (method !== 'createIndex' && method !== 'drop') {
      checkFilter(args[0] ?? {});
      if (method === 'updateOne') checkUpdate(args[1]);
      if (method === 'upsertOne') checkReplacement(args[1]);
    }
  } catch (err) {
    if (err instanceof InvalidQueryError) return err;
  }
  return new InvalidQueryError(`the operation's arguments cannot be sent to the read store: ${cause.message}`);
}

/**
 * Answers {@link PortReadStore} calls arriving on `port` with `store`; `calls` adds named
 * operations of the owner's (e.g. the projections' `caughtUp`). Returns a function that stops
 * answering.
 */
export function serveReadStore(port: MessagePort | Worker, store: ReadStore, calls: Record<string, (...args: never[]) => unknown> = {}): () => void {
  const onMessage = (msg: Request | { kind?: undefined }) => {
    if (!msg || typeof msg !== 'object' || typeof (msg as Request).id !== 'number') return;
    const req = msg as Request;
    void (async () => {
      switch (req.kind) {
        case 'collection':
          if (!IS_COLLECTION_METHOD.has(req.method)) throw new InvalidQueryError(`no collection method ${req.method}`);
          return (store.collection(req.name)[req.method] as (...a: unknown[]) => Promise<unknown>)(...req.args);
        case 'listCollections':
          return store.listCollections();
        case 'call': {
          const fn = calls[req.method];
          if (!fn) throw new PatchbayError('NOT_FOUND', `no operation ${req.method} on the read store's thread`);
          return (fn as (...a: unknown[]) => unknown)(...req.args);
        }
        default:
          throw new PatchbayError('VALIDATION_FAILED', 'unknown read store request');
      }
    })().then(
      (value) => port.postMessage({ id: req.id, ok: true, value } satisfies Reply),
      (err: unknown) => port.postMessage({ id: req.id, ok: false, error: plainError(err) } satisfies Reply),
    );
  };
  port.on('message', onMessage);
  return () => void port.off('message', onMessage);
}

/**
 * The client side: a {@link ReadStore} whose every operation runs on the thread that serves it.
 * `fail(err)` (the other thread is gone) rejects every call in progress and every later one with
 * READ_STORE_UNAVAILABLE. `close()` only stops this client; the owner closes the store itself.
 */
export class PortReadStore implements ReadStore {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private failure: Error | undefined;
  private readonly onMessage = (msg: Reply | { id?: undefined }) => {
    if (!msg || typeof msg !== 'object' || typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    const reply = msg as Reply;
    if (reply.ok) p.resolve(reply.value);
    else p.reject(reviveError(reply.error));
  };

  constructor(private readonly port: MessagePort | Worker) {
    port.on('message', this.onMessage);
  }

  /** Runs one of the serving side's named operations (see `serveReadStore`'s `calls`). */
  call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.request({ id: 0, kind: 'call', method, args }) as Promise<T>;
  }

  collection<T extends ReadDocument = ReadDocument>(name: string): ReadCollection<T> {
    const c = { name } as Record<string, unknown>;
    for (const method of COLLECTION_METHODS) c[method] = (...args: unknown[]) => this.request({ id: 0, kind: 'collection', name, method, args });
    return c as unknown as ReadCollection<T>;
  }

  listCollections(): Promise<string[]> {
    return this.request({ id: 0, kind: 'listCollections' }) as Promise<string[]>;
  }

  async close(): Promise<void> {
    this.fail(new ReadStoreUnavailableError('the read store was closed'));
    this.port.off('message', this.onMessage);
  }

  /** The serving side is gone: every call in progress and every later one fails with READ_STORE_UNAVAILABLE. */
  fail(reason: Error): void {
    this.failure ??= reason instanceof ReadStoreUnavailableError ? reason : new ReadStoreUnavailableError(reason.message, reason);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  private request(req: Request): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.port.postMessage({ ...req, id });
      } catch (err) {
        // An argument that cannot be cloned (a function, a symbol) is refused like any bad query.
        this.pending.delete(id);
        reject(req.kind === 'collection' ? refusalOf(req.method, req.args, err as Error) : new InvalidQueryError(`the operation's arguments cannot be sent: ${(err as Error).message}`));
      }
    });
  }
}
