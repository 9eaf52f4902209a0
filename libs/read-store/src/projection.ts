import { ValidationError } from '@patchbay/contracts';
import type { RecordedEvent } from '@patchbay/contracts';
import type { CheckpointStore, EventStore, Subscription } from '@patchbay/event-store';
import { DuplicateKeyError, InvalidQueryError } from './errors.js';
import type { ReadCollection, ReadDocument, ReadStore, UpdateSpec } from './port.js';

/*
 * Why projections are safe without transactions.
 *
 * The read store cannot commit a projection's writes and its checkpoint atomically (FerretDB has
 * no multi-document transactions, and MongoDB's need a replica set). So the runner applies an
 * event's writes FIRST and advances the checkpoint AFTER. A crash between the two leaves writes
 * without a checkpoint: on restart the event is delivered again. That is harmless as long as every
 * write is idempotent, which `applyOnce` guarantees: each document carries `_v`, the (zero-padded)
 * global position of the last event applied to it, and a write only matches while `_v` is older
 * than the event. A repeated event matches nothing; its upsert then collides on `_id` and is
 * recognised as "already applied". Because `_v` is a global position (not a stream revision), the
 * same guard works for documents fed by many streams, such as counters per category.
 * Checkpoints only ever move forward for the same reason, so two runners of one projection (two
 * gateway replicas) converge to the same state.
 */

/** The collection holding one document per projection: `{ _id: name, position, collections }`. */
export const PROJECTIONS_COLLECTION = '_projections';

/** A bigint position as a 20-digit string, so string order equals numeric order in every adapter. */
export function positionKey(position: bigint): string {
  if (position < 0n) throw new InvalidQueryError('positions are non-negative', { position: position.toString() });
  return position.toString().padStart(20, '0');
}

interface CheckpointDoc extends ReadDocument {
  _id: string;
  position: string;
  collections?: string[];
  updatedAt?: Date;
}

/** What a projection's handler gets for one event. */
export interface ProjectionContext {
  readonly event: RecordedEvent;
  /** The event's global position as a sortable string: the value `applyOnce` stores in `_v`. */
  readonly version: string;
  /** A collection of the read store; the projection is recorded as its owner (dropped on rebuild). */
  collection<T extends ReadDocument = ReadDocument>(name: string): ReadCollection<T>;
  /**
   * Applies `update` to document `_id` once per event: only when the document's `_v` is older than
   * this event (or the document is new), and stamps `_v`. Returns false when the event had already
   * been applied (a replay or duplicate).
   */
  applyOnce(collection: string, id: string | number, update: UpdateSpec): Promise<boolean>;
}

/** A projection: a named, rebuildable read model fed by event categories. */
export interface ProjectionDefinition {
  name: string;
  /** Stream categories to read (`cycle` for `cycle-*`); all events when omitted. */
  categories?: readonly string[];
  /** Collections this projection owns, dropped by a rebuild (collections used through the context are recorded too). */
  collections?: readonly string[];
  /** Creates the indexes the projection needs; runs before the first event and after a rebuild. */
  setup?(readStore: ReadStore): Promise<void>;
  /** Applies one event. Must only write idempotently (through `applyOnce`, or keyed upserts/deletes). */
  handle(event: RecordedEvent, tx: ProjectionContext): Promise<void>;
}

export interface RunProjectionOptions extends ProjectionDefinition {
  store: EventStore;
  readStore: ReadStore;
  /** Told about a failing handler or read (the runner retries the same event; it never skips one). */
  onError?: (error: unknown, event?: RecordedEvent) => void;
  pollIntervalMs?: number;
}

/** A running projection. */
export interface RunningProjection {
  readonly name: string;
  /** Resolves once the projection has applied everything in the store at least once. */
  caughtUp(): Promise<void>;
  /** Last applied position, as last saved. */
  position(): Promise<bigint | undefined>;
  /** Stops after the event in hand. */
  stop(): Promise<void>;
  /** Stops, drops the projection's collections and checkpoint, runs `setup` and replays from the start. */
  rebuild(): Promise<void>;
}

/** Reads a projection's checkpoint (last applied position) from the read store. */
export async function loadProjectionPosition(readStore: ReadStore, name: string): Promise<bigint | undefined> {
  const doc = await readStore.collection<CheckpointDoc>(PROJECTIONS_COLLECTION).findOne({ _id: name });
  // An empty position is a projection registered (collections recorded) before its first event.
  return doc && doc.position ? BigInt(doc.position) : undefined;
}

/**
 * Drops a projection's collections (those declared plus those it recorded using) and its
 * checkpoint, so the next run replays from the start of the event store.
 */
export async function rebuildProjection(options: { readStore: ReadStore; name: string; collections?: readonly string[] }): Promise<void> {
  const { readStore, name } = options;
  const checkpoints = readStore.collection<CheckpointDoc>(PROJECTIONS_COLLECTION);
  const doc = await checkpoints.findOne({ _id: name });
  const owned = new Set([...(options.collections ?? []), ...(doc?.collections ?? [])]);
  owned.delete(PROJECTIONS_COLLECTION);
  for (const c of owned) await readStore.collection(c).drop();
  await checkpoints.deleteMany({ _id: name });
}

const isDuplicate = (error: unknown): boolean => error instanceof DuplicateKeyError;

/** Longest stretch (ms) projections work before letting the event loop run other work. */
const YIELD_AFTER_MS = 4;
let workingSince = performance.now();

/**
 * Lets I/O and timers run between events once projections have had the event loop for a few
 * milliseconds: the read-store calls resolve at once, so a page of events would otherwise be one
 * unbroken run of microtasks (hundreds of milliseconds during a large cycle) with every socket of
 * the process waiting.
 */
async function yieldNowAndThen(): Promise<void> {
  const now = performance.now();
  if (now - workingSince < YIELD_AFTER_MS) return;
  await new Promise((r) => setImmediate(r));
  workingSince = performance.now();
}

/** Makes the document's `_v` guard part of an update. */
async function applyOnceTo(coll: ReadCollection, id: string | number, version: string, update: UpdateSpec): Promise<boolean> {
  const guarded: UpdateSpec = { ...update, $set: { ...(update.$set ?? {}), _v: version } };
  try {
    const r = await coll.updateOne({ _id: id, $or: [{ _v: { $lt: version } }, { _v: { $exists: false } }] }, guarded, { upsert: true });
    return r.matchedCount > 0 || r.upsertedId !== undefined;
  } catch (error) {
    // The document exists with `_v` at or past this event: already applied.
    if (isDuplicate(error)) return false;
    throw error;
  }
}

/**
 * Runs a projection on the event store's catch-up subscription, keeping its checkpoint in the read
 * store (`_projections`), so the read model and its position live and die together. Events at or
 * below the checkpoint are skipped; each event's writes are applied and then the checkpoint
 * advances (see the note at the top of this file for why that is safe).
 */
export async function runProjection(options: RunProjectionOptions): Promise<RunningProjection> {
  const { name, store, readStore } = options;
  if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(name))
    throw new ValidationError(`invalid projection name ${JSON.stringify(name)}: letters, digits and _ . : - only`, { name });
  const checkpoints = readStore.collection<CheckpointDoc>(PROJECTIONS_COLLECTION);
  const recorded = new Set<string>();
  let applied: bigint | undefined;

  // The subscription reads its start from the read store; the runner saves after every event itself.
  const subscriptionCheckpoints: CheckpointStore = {
    load: async () => (applied = await loadProjectionPosition(readStore, name)),
    save: async () => undefined,
  };

  const saveCheckpoint = async (position: bigint, collections: string[]): Promise<void> => {
    const key = positionKey(position);
    const update: UpdateSpec = { $set: { position: key, updatedAt: new Date() } };
    if (collections.length > 0) update.$addToSet = { collections: { $each: collections } };
    try {
      await checkpoints.updateOne({ _id: name, position: { $lt: key } }, update, { upsert: true });
    } catch (error) {
      // Another runner of this projection is already further along: checkpoints never move back.
      if (!isDuplicate(error)) throw error;
    }
  };

  const handler = async (event: RecordedEvent): Promise<void> => {
    if (applied !== undefined && event.position <= applied) return;
    await yieldNowAndThen();
    const version = positionKey(event.position);
    const fresh: string[] = [];
    const own = (c: string): void => {
      if (c === PROJECTIONS_COLLECTION) throw new InvalidQueryError(`${PROJECTIONS_COLLECTION} is reserved for checkpoints`);
      if (!recorded.has(c)) {
        recorded.add(c);
        fresh.push(c);
      }
    };
    const tx: ProjectionContext = {
      event,
      version,
      collection: <T extends ReadDocument>(c: string) => {
        own(c);
        return readStore.collection<T>(c);
      },
      applyOnce: (c, id, update) => {
        own(c);
        return applyOnceTo(readStore.collection(c), id, version, update);
      },
    };
    try {
      await options.handle(event, tx);
    } catch (error) {
      // Retried: collections touched this time must be recorded by the retry.
      for (const c of fresh) recorded.delete(c);
      throw error;
    }
    await saveCheckpoint(event.position, fresh);
    applied = event.position;
  };

  let subscription: Subscription | undefined;
  const start = async (): Promise<void> => {
    await options.setup?.(readStore);
    const declared = [...(options.collections ?? [])];
    if (declared.length > 0) {
      await checkpoints.updateOne({ _id: name }, { $addToSet: { collections: { $each: declared } }, $setOnInsert: { position: '' } }, { upsert: true });
      declared.forEach((c) => recorded.add(c));
    }
    subscription = store.subscribe({
      name: `projection:${name}`,
      ...(options.categories ? { categories: options.categories } : {}),
      checkpoints: subscriptionCheckpoints,
      handler,
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
    });
  };
  await start();

  const stop = async (): Promise<void> => {
    await subscription?.stop();
    subscription = undefined;
  };

  return {
    name,
    caughtUp: () => subscription?.caughtUp ?? Promise.resolve(),
    position: () => loadProjectionPosition(readStore, name),
    stop,
    rebuild: async () => {
      await stop();
      await rebuildProjection({ readStore, name, ...(options.collections ? { collections: options.collections } : {}) });
      recorded.clear();
      applied = undefined;
      await start();
    },
  };
}
