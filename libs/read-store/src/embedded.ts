import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Aggregator, Query, update as applyUpdate } from 'mingo';
import {
  checkBulk,
  checkFilter,
  checkFindOptions,
  checkPipeline,
  checkReplacement,
  checkSort,
  checkUpdate,
  isPlainObject,
  requireKnownId,
  requireUpsertId,
} from './dialect.js';
import { DuplicateKeyError, InvalidQueryError, ReadStoreUnavailableError } from './errors.js';
import { decodeValue, encodeValue } from './json-codec.js';
import { applySimpleUpdate, cloneValue, compileSimpleFilter } from './fast-path.js';
import type {
  BulkOperation,
  BulkResult,
  Filter,
  FindOptions,
  IndexOptions,
  PipelineStage,
  ReadCollection,
  ReadDocument,
  ReadStore,
  SortSpec,
  UpdateOptions,
  UpdateSpec,
  WriteResult,
} from './port.js';

type Id = string | number;
type Doc = Record<string, unknown> & { _id: Id };

/** Options of {@link EmbeddedReadStore.open}. */
export interface EmbeddedReadStoreOptions {
  /**
   * Snapshot file (JSON lines). Loaded on open, written atomically on `close()`, on `snapshot()`
   * and every `snapshotIntervalMs` when something changed. Without it the store is memory only.
   */
  file?: string;
  /** Periodic snapshot interval (ms) when `file` is set; 0 disables. Default 5,000. */
  snapshotIntervalMs?: number;
}

const SNAPSHOT_FORMAT = 'patchbay-read-store';
const SNAPSHOT_VERSION = 1;

interface SnapshotCollection {
  name: string;
  indexes: Array<{ name: string; spec: unknown; unique: boolean }>;
  docs: readonly Doc[];
}

/** The snapshot file's lines: a header, then per collection its indexes and one line per document. */
function* snapshotLines(collections: readonly SnapshotCollection[]): Generator<string> {
  yield JSON.stringify({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, writtenAt: new Date().toISOString() });
  for (const c of collections) {
    yield JSON.stringify({ collection: c.name, indexes: c.indexes });
    const name = JSON.stringify(c.name);
    for (const doc of c.docs) yield `{"c":${name},"d":${encodeValue(doc)}}`;
  }
}

/** Index key of one value; type-tagged so `1` and `"1"` never collide. */
function keyPart(v: unknown): string {
  if (v === null || v === undefined) return 'z';
  if (typeof v === 'string') return 's' + v;
  if (typeof v === 'number') return 'n' + (Object.is(v, -0) ? 0 : v);
  if (typeof v === 'boolean') return v ? 'bt' : 'bf';
  if (v instanceof Date) return 'd' + v.getTime();
  return 'j' + encodeValue(v);
}

/** Values a dotted path reaches in a document, expanding arrays as MongoDB's multikey indexes do. */
function valuesAt(doc: unknown, path: readonly string[], i = 0): unknown[] {
  if (i === path.length) {
    if (Array.isArray(doc)) return doc.length === 0 ? [undefined] : [...doc, doc];
    return [doc];
  }
  if (Array.isArray(doc)) return doc.flatMap((d) => valuesAt(d, path, i));
  if (doc && typeof doc === 'object' && !(doc instanceof Date)) return valuesAt((doc as Record<string, unknown>)[path[i]!], path, i + 1);
  return [undefined];
}

/** A hash index over one or more fields: key → ids. Serves equality lookups and unique checks. */
class HashIndex {
  readonly map = new Map<string, Set<Id>>();
  private readonly paths: string[][];
  constructor(
    readonly name: string,
    readonly spec: SortSpec,
    readonly unique: boolean,
  ) {
    this.paths = Object.keys(spec).map((f) => f.split('.'));
  }

  get fields(): string[] {
    return Object.keys(this.spec);
  }

  /** Every key the document occupies (cartesian product over multikey fields). */
  keysOf(doc: Doc): string[] {
    let keys = [''];
    for (const path of this.paths) {
      const parts = [
        ...new Set(
          valuesAt(doc, path)
            .filter((v) => !Array.isArray(v))
            .map(keyPart),
        ),
      ];
      if (parts.length === 0) parts.push('z');
      keys = keys.flatMap((k) => parts.map((p) => (k ? k + '\u0000' + p : p)));
    }
    return keys;
  }

  /** The id that already holds one of `doc`'s keys, other than `doc` itself. */
  conflict(doc: Doc): Id | undefined {
    if (!this.unique) return undefined;
    for (const key of this.keysOf(doc)) {
      for (const id of this.map.get(key) ?? []) if (id !== doc._id) return id;
    }
    return undefined;
  }

  add(doc: Doc): void {
    for (const key of this.keysOf(doc)) {
      let set = this.map.get(key);
      if (!set) this.map.set(key, (set = new Set()));
      set.add(doc._id);
    }
  }

  remove(doc: Doc): void {
    for (const key of this.keysOf(doc)) {
      const set = this.map.get(key);
      set?.delete(doc._id);
      if (set && set.size === 0) this.map.delete(key);
    }
  }
}

/** Equality values a filter pins for `field` (scalar equality, `$eq`, or `$in`), or undefined. */
function pinnedValues(filter: Filter, field: string): unknown[] | undefined {
  const isSimple = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v instanceof Date;
  const cond = filter[field];
  if (isSimple(cond)) return [cond];
  if (isPlainObject(cond)) {
    const keys = Object.keys(cond);
    if (keys.length === 1 && isSimple(cond['$eq'])) return [cond['$eq']];
    if (keys.length === 1 && Array.isArray(cond['$in']) && cond['$in'].length > 0 && cond['$in'].every(isSimple)) return cond['$in'];
  }
  return undefined;
}

const defaultIndexName = (spec: SortSpec): string =>
  Object.entries(spec)
    .map(([k, v]) => `${k}_${v}`)
    .join('_');

const translateMingo = (error: unknown): never => {
  if (error instanceof InvalidQueryError || error instanceof DuplicateKeyError || error instanceof ReadStoreUnavailableError) throw error;
  throw new InvalidQueryError(`query failed: ${(error as Error)?.message ?? String(error)}`, { engine: 'mingo' });
};

/** The base document an upsert inserts: the filter's top-level equality fields. */
function upsertBase(filter: Filter): Doc {
  const base: Record<string, unknown> = {};
  const take = (f: Filter): void => {
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(v)) {
        v.forEach((sub) => take(sub as Filter));
        continue;
      }
      if (k.startsWith('$')) continue;
      let value: unknown;
      if (isPlainObject(v)) {
        const keys = Object.keys(v);
        if (keys.length === 1 && keys[0] === '$eq') value = v['$eq'];
        else if (keys.some((key) => key.startsWith('$'))) continue;
        else value = v;
      } else if (v instanceof RegExp) {
        continue;
      } else value = v;
      const path = k.split('.');
      let target = base;
      for (const seg of path.slice(0, -1)) {
        if (!isPlainObject(target[seg])) target[seg] = {};
        target = target[seg] as Record<string, unknown>;
      }
      target[path[path.length - 1]!] = cloneValue(value);
    }
  };
  take(filter);
  return base as Doc;
}

class EmbeddedCollection<T extends ReadDocument> implements ReadCollection<T> {
  constructor(
    private readonly owner: EmbeddedReadStore,
    readonly name: string,
  ) {}

  private get state(): CollectionState {
    return this.owner.stateOf(this.name, true)!;
  }

  private peek(): CollectionState | undefined {
    return this.owner.stateOf(this.name, false);
  }

  async find(filter: Filter = {}, options: FindOptions = {}): Promise<T[]> {
    checkFilter(filter);
    checkFindOptions(options);
    const st = this.peek();
    if (!st) return [];
    return st.find(filter, options) as unknown as T[];
  }

  async findOne(filter: Filter = {}, options: Omit<FindOptions, 'limit'> = {}): Promise<T | null> {
    const [doc] = await this.find(filter, { ...options, limit: 1 });
    return doc ?? null;
  }

  async count(filter: Filter = {}): Promise<number> {
    checkFilter(filter);
    const st = this.peek();
    return st ? st.matching(filter).length : 0;
  }

  async aggregate<R>(pipeline: readonly PipelineStage[]): Promise<R[]> {
    checkPipeline(pipeline);
    const st = this.peek();
    const docs = st ? [...st.docs.values()] : [];
    try {
      return cloneValue(new Aggregator(pipeline as Record<string, unknown>[], {}).run(docs)) as R[];
    } catch (error) {
      return translateMingo(error);
    }
  }

  async upsertOne(filter: Filter, document: T | Omit<T, '_id'>): Promise<WriteResult> {
    checkFilter(filter);
    checkReplacement(document);
    requireKnownId(filter, document as Record<string, unknown>);
    this.owner.assertOpen();
    return this.state.upsertOne(filter, document as Record<string, unknown>);
  }

  async updateOne(filter: Filter, update: UpdateSpec, options: UpdateOptions = {}): Promise<WriteResult> {
    checkFilter(filter);
    checkUpdate(update);
    if (options.upsert) requireUpsertId(filter, update);
    this.owner.assertOpen();
    return this.state.updateOne(filter, update, options.upsert === true);
  }

  async deleteMany(filter: Filter): Promise<number> {
    checkFilter(filter);
    this.owner.assertOpen();
    const st = this.peek();
    return st ? st.deleteMany(filter) : 0;
  }

  async bulkWrite(operations: readonly BulkOperation[]): Promise<BulkResult> {
    checkBulk(operations);
    this.owner.assertOpen();
    const result: BulkResult = { matchedCount: 0, modifiedCount: 0, upsertedCount: 0, deletedCount: 0 };
    const add = (r: WriteResult): void => {
      result.matchedCount += r.matchedCount;
      result.modifiedCount += r.modifiedCount;
      if (r.upsertedId !== undefined) result.upsertedCount++;
    };
    for (const op of operations) {
      if ('upsertOne' in op) add(this.state.upsertOne(op.upsertOne.filter, op.upsertOne.document as Record<string, unknown>));
      else if ('updateOne' in op) add(this.state.updateOne(op.updateOne.filter, op.updateOne.update, op.updateOne.upsert === true));
      else result.deletedCount += this.peek()?.deleteMany(op.deleteMany.filter) ?? 0;
    }
    return result;
  }

  async createIndex(spec: SortSpec, options: IndexOptions = {}): Promise<string> {
    checkSort(spec, 'index spec');
    if (Object.keys(spec).length === 0) throw new InvalidQueryError('an index needs at least one field');
    this.owner.assertOpen();
    return this.state.createIndex(spec, options);
  }

  async drop(): Promise<void> {
    this.owner.assertOpen();
    this.owner.dropCollection(this.name);
  }
}

/** One collection's documents and indexes. All methods are synchronous, so each operation is atomic. */
class CollectionState {
  readonly docs = new Map<Id, Doc>();
  readonly indexes = new Map<string, HashIndex>();

  constructor(
    readonly name: string,
    private readonly touch: () => void,
  ) {}

  /** Documents that may match: narrowed by `_id` or the most selective covering hash index. */
  private candidates(filter: Filter): Doc[] {
    const ids = pinnedValues(filter, '_id');
    if (ids) return ids.map((id) => this.docs.get(id as Id)).filter((d): d is Doc => d !== undefined);
    let best: Set<Id> | undefined;
    for (const index of this.indexes.values()) {
      const perField = index.fields.map((f) => pinnedValues(filter, f));
      if (perField.some((v) => v === undefined)) continue;
      let keys = [''];
      for (const values of perField as unknown[][]) keys = keys.flatMap((k) => values.map((v) => (k ? k + '\u0000' + keyPart(v) : keyPart(v))));
      const hit = new Set<Id>();
      for (const key of keys) for (const id of index.map.get(key) ?? []) hit.add(id);
      if (!best || hit.size < best.size) best = hit;
    }
    if (best) return [...best].map((id) => this.docs.get(id)!).filter(Boolean);
    return [...this.docs.values()];
  }

  matching(filter: Filter): Doc[] {
    const candidates = this.candidates(filter);
    if (Object.keys(filter).length === 0) return candidates;
    try {
      // Decided here where the filter is simple (fast-path.ts), by mingo otherwise; an invalid
      // filter is still refused by mingo even when nothing could match.
      const simple = compileSimpleFilter(filter);
      let q: Query | undefined;
      if (!simple || candidates.length === 0) q = new Query(filter, {});
      return candidates.filter((d) => simple?.(d) ?? (q ??= new Query(filter, {})).test(d));
    } catch (error) {
      return translateMingo(error);
    }
  }

  find(filter: Filter, options: FindOptions): Doc[] {
    let docs = this.matching(filter);
    try {
      if (options.sort && Object.keys(options.sort).length > 0) {
        const cursor = new Query({}, {}).find<Doc>(docs).sort(options.sort);
        docs = cursor.all();
      }
      const skip = options.skip ?? 0;
      const end = options.limit ? skip + options.limit : undefined;
      docs = docs.slice(skip, end);
      if (options.projection && Object.keys(options.projection).length > 0) {
        return new Query({}, {})
          .find<Doc>(docs, options.projection)
          .all()
          .map((d) => cloneValue(d));
      }
      return docs.map((d) => cloneValue(d));
    } catch (error) {
      return translateMingo(error);
    }
  }

  private firstMatch(filter: Filter): Doc | undefined {
    return this.matching(filter)[0];
  }

  private checkUnique(doc: Doc): void {
    for (const index of this.indexes.values()) {
      if (index.conflict(doc) !== undefined) throw new DuplicateKeyError(this.name, index.name);
    }
  }

  private put(doc: Doc, previous: Doc | undefined): void {
    this.checkUnique(doc);
    if (previous) for (const index of this.indexes.values()) index.remove(previous);
    for (const index of this.indexes.values()) index.add(doc);
    this.docs.set(doc._id, doc);
    this.touch();
  }

  private insert(doc: Doc): void {
    if (this.docs.has(doc._id)) throw new DuplicateKeyError(this.name, '_id_');
    this.put(doc, undefined);
  }

  upsertOne(filter: Filter, document: Record<string, unknown>): WriteResult {
    const id = requireKnownId(filter, document);
    const existing = this.firstMatch(filter);
    const next = cloneValue({ ...document, _id: existing?._id ?? id }) as Doc;
    if (existing) {
      if (document['_id'] !== undefined && document['_id'] !== existing._id) {
        throw new InvalidQueryError('upsertOne cannot change the _id of the matched document', { collection: this.name });
      }
      this.put(next, existing);
      return { matchedCount: 1, modifiedCount: 1 };
    }
    this.insert(next);
    return { matchedCount: 0, modifiedCount: 0, upsertedId: next._id };
  }

  updateOne(filter: Filter, update: UpdateSpec, upsert: boolean): WriteResult {
    const { $setOnInsert, ...rest } = update;
    const existing = this.firstMatch(filter);
    if (existing) {
      if (Object.keys(rest).length === 0) return { matchedCount: 1, modifiedCount: 0 };
      const fast = applySimpleUpdate(existing, rest);
      if (fast) {
        if (fast.next._id !== existing._id) throw new InvalidQueryError('an update cannot change _id', { collection: this.name });
        if (!fast.changed) return { matchedCount: 1, modifiedCount: 0 };
        this.put(fast.next, existing);
        return { matchedCount: 1, modifiedCount: 1 };
      }
      const next = cloneValue(existing);
      let changed: string[];
      try {
        changed = applyUpdate(next, cloneValue(rest) as never, undefined, undefined, { cloneMode: 'deep' });
      } catch (error) {
        return translateMingo(error);
      }
      if (next._id !== existing._id) throw new InvalidQueryError('an update cannot change _id', { collection: this.name });
      if (changed.length === 0) return { matchedCount: 1, modifiedCount: 0 };
      this.put(next, existing);
      return { matchedCount: 1, modifiedCount: 1 };
    }
    if (!upsert) return { matchedCount: 0, modifiedCount: 0 };
    let doc = upsertBase(filter);
    const modifier: Record<string, unknown> = { ...cloneValue(rest) };
    if ($setOnInsert) modifier['$set'] = { ...(modifier['$set'] as object | undefined), ...cloneValue($setOnInsert) };
    if (Object.keys(modifier).length > 0) {
      const fast = applySimpleUpdate(doc, modifier);
      if (fast) doc = fast.next;
      else {
        try {
          applyUpdate(doc, modifier as never, undefined, undefined, { cloneMode: 'deep' });
        } catch (error) {
          return translateMingo(error);
        }
      }
    }
    if (doc._id === undefined) {
      throw new InvalidQueryError('an upsert needs an _id from the filter or the update (generated ids would differ between rebuilds)', {
        collection: this.name,
      });
    }
    this.insert(doc);
    return { matchedCount: 0, modifiedCount: 0, upsertedId: doc._id };
  }

  deleteMany(filter: Filter): number {
    const gone = this.matching(filter);
    for (const doc of gone) {
      for (const index of this.indexes.values()) index.remove(doc);
      this.docs.delete(doc._id);
    }
    if (gone.length > 0) this.touch();
    return gone.length;
  }

  createIndex(spec: SortSpec, options: IndexOptions): string {
    const name = options.name ?? defaultIndexName(spec);
    const unique = options.unique === true;
    const existing = this.indexes.get(name);
    if (existing) {
      if (JSON.stringify(existing.spec) !== JSON.stringify(spec) || existing.unique !== unique) {
        throw new InvalidQueryError(`index ${name} already exists with different options`, { collection: this.name, index: name });
      }
      return name;
    }
    const index = new HashIndex(name, spec, unique);
    for (const doc of this.docs.values()) {
      if (index.conflict(doc) !== undefined) throw new DuplicateKeyError(this.name, name);
      index.add(doc);
    }
    this.indexes.set(name, index);
    this.touch();
    return name;
  }
}

/**
 * The embedded read store: in-process collections queried with mingo, hash indexes for equality
 * lookups and unique constraints, and an optional JSON-lines snapshot file so a restart does not
 * need a full replay.
 */
export class EmbeddedReadStore implements ReadStore {
  private readonly collections = new Map<string, CollectionState>();
  private dirty = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** The periodic snapshot does not start before this (performance.now() ms). */
  private nextSnapshotAt = 0;

  private constructor(private readonly options: EmbeddedReadStoreOptions) {}

  /** Opens a store, loading the snapshot file when one is configured and present. */
  static open(options: EmbeddedReadStoreOptions = {}): EmbeddedReadStore {
    const store = new EmbeddedReadStore(options);
    if (options.file) {
      store.load(options.file);
      const every = options.snapshotIntervalMs ?? 5_000;
      if (every > 0) {
        store.timer = setInterval(() => {
          // The next interval or close() retries a failed write; the store itself stays usable.
          if (store.dirty && !store.writing && performance.now() >= store.nextSnapshotAt) store.writing = store.snapshotInBackground().catch(() => undefined).finally(() => (store.writing = undefined));
        }, every);
        store.timer.unref();
      }
    }
    return store;
  }

  /** @internal */
  stateOf(name: string, create: boolean): CollectionState | undefined {
    this.assertOpen();
    let st = this.collections.get(name);
    if (!st && create) {
      if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,119}$/.test(name)) throw new InvalidQueryError(`invalid collection name ${JSON.stringify(name)}`, { collection: name });
      st = new CollectionState(name, () => (this.dirty = true));
      this.collections.set(name, st);
    }
    return st;
  }

  /** @internal */
  dropCollection(name: string): void {
    if (this.collections.delete(name)) this.dirty = true;
  }

  /** @internal */
  assertOpen(): void {
    if (this.closed) throw new ReadStoreUnavailableError('the embedded read store is closed');
  }

  collection<T extends ReadDocument = ReadDocument>(name: string): ReadCollection<T> {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,119}$/.test(name)) throw new InvalidQueryError(`invalid collection name ${JSON.stringify(name)}`, { collection: name });
    return new EmbeddedCollection<T>(this, name);
  }

  async listCollections(): Promise<string[]> {
    this.assertOpen();
    return [...this.collections.keys()].sort();
  }

  /**
   * Writes every collection to the snapshot file now (temp file + rename, so a crash leaves the
   * previous snapshot intact). A no-op without a file.
   */
  snapshot(): void {
    const file = this.options.file;
    if (!file) return;
    const lines = [...snapshotLines(this.takeSnapshot())];
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, lines.join('\n') + '\n');
      renameSync(tmp, file);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw new ReadStoreUnavailableError(`cannot write read-store snapshot ${file}: ${(error as Error).message}`, error);
    }
    this.dirty = false;
  }

  /**
   * The periodic snapshot, without holding the event loop: the documents are taken as of now (they
   * are never changed in place, so later writes do not show through), encoded a thousand lines at a
   * time between turns of the event loop, and written asynchronously (temp file + rename). Queries
   * and projections go on meanwhile; what they change is in the next snapshot.
   */
  async snapshotInBackground(): Promise<void> {
    const file = this.options.file;
    if (!file) return;
    const taken = this.takeSnapshot();
    this.dirty = false;
    const tmp = `${file}.${process.pid}.bg.tmp`;
    let encodingMs = 0;
    try {
      mkdirSync(dirname(file), { recursive: true });
      // Written a thousand lines at a time: the file is never whole in memory (at 10,000
      // endpoints it is tens of MB, and the joined text and its buffer came on top of the lines).
      const out = await open(tmp, 'w');
      try {
        const lines = snapshotLines(taken);
        for (let done = false; !done; ) {
          const started = performance.now();
          const chunk: string[] = [];
          while (chunk.length < 1000) {
            const next = lines.next();
            if (next.done) {
              done = true;
              break;
            }
            chunk.push(next.value);
          }
          const text = chunk.length > 0 ? chunk.join('\n') + '\n' : '';
          encodingMs += performance.now() - started;
          if (text) await out.write(text);
        }
      } finally {
        await out.close();
      }
      if (this.closed) throw new ReadStoreUnavailableError('closed while writing a snapshot');
      await rename(tmp, file);
    } catch (error) {
      this.dirty = true;
      await rm(tmp, { force: true });
      throw error instanceof ReadStoreUnavailableError ? error : new ReadStoreUnavailableError(`cannot write read-store snapshot ${file}: ${(error as Error).message}`, error);
    } finally {
      // The next periodic snapshot waits at least 20 times what this one cost, so snapshots of a
      // large store take at most ~5 % of the process however short the interval.
      this.nextSnapshotAt = performance.now() + 20 * encodingMs;
    }
  }

  /** Every collection as of now: its indexes and its documents (references: documents are never changed in place). */
  private takeSnapshot(): SnapshotCollection[] {
    return [...this.collections.values()].map((st) => ({ name: st.name, indexes: [...st.indexes.values()].map((i) => ({ name: i.name, spec: i.spec, unique: i.unique })), docs: [...st.docs.values()] }));
  }

  private load(file: string): void {
    if (!existsSync(file)) return;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ReadStoreUnavailableError(`cannot read read-store snapshot ${file}: ${(error as Error).message}`, error);
    }
    const lines = text.split('\n').filter((l) => l.length > 0);
    let header: { format?: unknown; version?: unknown } | undefined;
    try {
      header = lines.length > 0 ? (JSON.parse(lines[0]!) as typeof header) : undefined;
    } catch {
      header = undefined;
    }
    if (!header || header.format !== SNAPSHOT_FORMAT || header.version !== SNAPSHOT_VERSION) {
      throw new ReadStoreUnavailableError(`${file} is not a read-store snapshot (format ${SNAPSHOT_FORMAT} v${SNAPSHOT_VERSION})`);
    }
    for (const [i, line] of lines.slice(1).entries()) {
      let parsed: unknown;
      try {
        parsed = decodeValue(line);
      } catch (error) {
        throw new ReadStoreUnavailableError(`read-store snapshot ${file} is damaged at line ${i + 2}: ${(error as Error).message}`, error);
      }
      const entry = parsed as { collection?: string; indexes?: { name: string; spec: SortSpec; unique: boolean }[]; c?: string; d?: Doc };
      if (entry.collection) {
        const st = this.stateOf(entry.collection, true)!;
        for (const i of entry.indexes ?? []) st.createIndex(i.spec, { name: i.name, unique: i.unique });
      } else if (entry.c && entry.d) {
        const st = this.stateOf(entry.c, true)!;
        st.upsertOne({ _id: entry.d._id }, entry.d);
      }
    }
    this.dirty = false;
  }

  /** Takes a final snapshot (when a file is configured) and refuses further operations. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    await this.writing;
    this.snapshot();
    this.closed = true;
  }
}
