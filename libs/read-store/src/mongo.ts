import {
  MongoBulkWriteError,
  MongoClient,
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import type { AnyBulkWriteOperation, Collection, Db, Document, MongoClientOptions } from 'mongodb';
import { ValidationError } from '@patchbay/contracts';
import {
  checkBulk,
  checkFilter,
  checkFindOptions,
  checkPipeline,
  checkReplacement,
  checkSort,
  checkUpdate,
  requireKnownId,
  requireUpsertId,
} from './dialect.js';
import { DuplicateKeyError, InvalidQueryError, ReadStoreUnavailableError } from './errors.js';
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

/** Options of {@link MongoReadStore.connect}. */
export interface MongoReadStoreOptions {
  /** Database name; default: the URL's path, else `patchbay`. */
  database?: string;
  /** How long (ms) an operation waits for a reachable server before `READ_STORE_UNAVAILABLE`. Default 5,000. */
  serverSelectionTimeoutMS?: number;
  /** Extra driver options. */
  client?: MongoClientOptions;
}

/** Server error codes that mean "the server cannot serve now", not "the request is wrong". */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);
/**
 * Server error codes that mean the request itself is malformed or unsupported: BadValue (2),
 * FailedToParse (9), TypeMismatch (14), Overflow (15), PathNotViable (28), ConflictingUpdateOperators
 * (40), DollarPrefixedFieldName (52), EmptyFieldName (56), DottedFieldName (57), ImmutableField (66),
 * CannotCreateIndex (67), InvalidOptions (72), InvalidNamespace (73), IndexOptionsConflict (85),
 * IndexKeySpecsConflict (86), InvalidPipelineOperator (168), NotImplemented (238, FerretDB), and the
 * numbered parser errors of projections and pipeline stages.
 */
const INVALID_CODES = new Set([
  2, 9, 14, 15, 16, 17, 28, 40, 52, 55, 56, 57, 66, 67, 72, 73, 85, 86, 115, 168, 238, 17276, 31253, 31254, 40324, 40352, 40353, 15998, 16410, 16411, 40323,
  31249, 31250,
]);

/** Maps a driver failure to the port's vocabulary; unknown failures pass through unchanged. */
function translate(error: unknown, collection: string): never {
  if (error instanceof DuplicateKeyError || error instanceof InvalidQueryError || error instanceof ReadStoreUnavailableError) throw error;
  if (error instanceof MongoServerError || error instanceof MongoBulkWriteError) {
    const code = typeof error.code === 'number' ? error.code : Number(error.code);
    if (code === 11000 || code === 11001) {
      const index = /index: (\S+)/.exec(error.message)?.[1] ?? 'unknown';
      throw new DuplicateKeyError(collection, index);
    }
    // FerretDB v1.24 (SQLite backend) reports a unique-index violation caused by an UPDATE as a
    // generic server error carrying SQLite's message, not as E11000; the server offers nothing
    // else to tell it apart.
    const sqliteUnique = /UNIQUE constraint failed: index '([^']+)'/.exec(error.message);
    if (sqliteUnique) throw new DuplicateKeyError(collection, sqliteUnique[1]!);
    if (UNAVAILABLE_CODES.has(code)) throw new ReadStoreUnavailableError(`read store unavailable (${collection}): ${error.message}`, error);
    if (INVALID_CODES.has(code))
      throw new InvalidQueryError(`the server rejected the query on ${collection}: ${error.message}`, { collection, serverCode: code });
    throw error;
  }
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoClientClosedError
  ) {
    throw new ReadStoreUnavailableError(`read store unavailable (${collection}): ${error.message}`, error);
  }
  // Socket-level failures the driver passes through unwrapped (e.g. EPIPE after the server died).
  const sysCode = (error as { code?: unknown })?.code;
  if (
    !(error instanceof MongoError) &&
    typeof sysCode === 'string' &&
    /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ERR_STREAM_\w+)$/.test(sysCode)
  ) {
    throw new ReadStoreUnavailableError(`read store unavailable (${collection}): ${(error as Error).message}`, error);
  }
  throw error;
}

async function guarded<R>(collection: string, op: () => Promise<R>): Promise<R> {
  try {
    return await op();
  } catch (error) {
    return translate(error, collection);
  }
}

const toWriteResult = (r: { matchedCount: number; modifiedCount: number; upsertedId?: unknown }): WriteResult => {
  const out: WriteResult = { matchedCount: r.matchedCount, modifiedCount: r.modifiedCount };
  if (r.upsertedId !== undefined && r.upsertedId !== null) out.upsertedId = r.upsertedId as string | number;
  return out;
};

class MongoCollection<T extends ReadDocument> implements ReadCollection<T> {
  constructor(
    private readonly coll: Collection<Document>,
    readonly name: string,
  ) {}

  async find(filter: Filter = {}, options: FindOptions = {}): Promise<T[]> {
    checkFilter(filter);
    checkFindOptions(options);
    return guarded(this.name, async () => {
      const cursor = this.coll.find(filter, {
        ...(options.sort ? { sort: options.sort } : {}),
        ...(options.projection ? { projection: options.projection } : {}),
        ...(options.skip ? { skip: options.skip } : {}),
        ...(options.limit ? { limit: options.limit } : {}),
      });
      return (await cursor.toArray()) as unknown as T[];
    });
  }

  async findOne(filter: Filter = {}, options: Omit<FindOptions, 'limit'> = {}): Promise<T | null> {
    const [doc] = await this.find(filter, { ...options, limit: 1 });
    return doc ?? null;
  }

  async count(filter: Filter = {}): Promise<number> {
    checkFilter(filter);
    return guarded(this.name, () => this.coll.countDocuments(filter));
  }

  async aggregate<R>(pipeline: readonly PipelineStage[]): Promise<R[]> {
    checkPipeline(pipeline);
    return guarded(this.name, async () => (await this.coll.aggregate(pipeline as Document[]).toArray()) as R[]);
  }

  async upsertOne(filter: Filter, document: T | Omit<T, '_id'>): Promise<WriteResult> {
    checkFilter(filter);
    checkReplacement(document);
    const id = requireKnownId(filter, document as Record<string, unknown>);
    return guarded(this.name, async () => toWriteResult(await this.coll.replaceOne(filter, { ...document, _id: id } as Document, { upsert: true })));
  }

  async updateOne(filter: Filter, update: UpdateSpec, options: UpdateOptions = {}): Promise<WriteResult> {
    checkFilter(filter);
    checkUpdate(update);
    if (options.upsert) requireUpsertId(filter, update);
    return guarded(this.name, async () => toWriteResult(await this.coll.updateOne(filter, update as Document, { upsert: options.upsert === true })));
  }

  async deleteMany(filter: Filter): Promise<number> {
    checkFilter(filter);
    return guarded(this.name, async () => (await this.coll.deleteMany(filter)).deletedCount);
  }

  async bulkWrite(operations: readonly BulkOperation[]): Promise<BulkResult> {
    checkBulk(operations);
    if (operations.length === 0) return { matchedCount: 0, modifiedCount: 0, upsertedCount: 0, deletedCount: 0 };
    const ops: AnyBulkWriteOperation<Document>[] = operations.map((op) => {
      if ('upsertOne' in op) {
        const id = requireKnownId(op.upsertOne.filter, op.upsertOne.document as Record<string, unknown>);
        return { replaceOne: { filter: op.upsertOne.filter, replacement: { ...op.upsertOne.document, _id: id }, upsert: true } };
      }
      if ('updateOne' in op)
        return { updateOne: { filter: op.updateOne.filter, update: op.updateOne.update as Document, upsert: op.updateOne.upsert === true } };
      return { deleteMany: { filter: op.deleteMany.filter } };
    });
    return guarded(this.name, async () => {
      const r = await this.coll.bulkWrite(ops, { ordered: true });
      return { matchedCount: r.matchedCount, modifiedCount: r.modifiedCount, upsertedCount: r.upsertedCount, deletedCount: r.deletedCount };
    });
  }

  async createIndex(spec: SortSpec, options: IndexOptions = {}): Promise<string> {
    checkSort(spec, 'index spec');
    if (Object.keys(spec).length === 0) throw new InvalidQueryError('an index needs at least one field');
    return guarded(this.name, () => this.coll.createIndex(spec, { unique: options.unique === true, ...(options.name ? { name: options.name } : {}) }));
  }

  async drop(): Promise<void> {
    await guarded(this.name, async () => {
      try {
        await this.coll.drop();
      } catch (error) {
        // Dropping a missing collection is not an error for this port.
        if (error instanceof MongoServerError && error.code === 26) return;
        throw error;
      }
    });
  }
}

/** Read store on MongoDB (or a MongoDB-wire server such as FerretDB) through the `mongodb` driver. */
export class MongoReadStore implements ReadStore {
  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
  ) {}

  /**
   * Connects and checks the server answers (`ping`); an unreachable server fails with
   * `READ_STORE_UNAVAILABLE` after `serverSelectionTimeoutMS`.
   */
  static async connect(url: string, options: MongoReadStoreOptions = {}): Promise<MongoReadStore> {
    if (!/^mongodb(\+srv)?:\/\//.test(url))
      throw new ValidationError('MONGODB_URL must be a mongodb:// or mongodb+srv:// connection string', { field: 'MONGODB_URL' });
    const client = new MongoClient(url, { serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5_000, ...options.client });
    try {
      await client.connect();
      const db = client.db(options.database);
      await db.command({ ping: 1 });
      return new MongoReadStore(client, db);
    } catch (error) {
      await client.close().catch(() => undefined);
      return translate(error, '(connect)');
    }
  }

  /** The database name in use. */
  get databaseName(): string {
    return this.db.databaseName;
  }

  collection<T extends ReadDocument = ReadDocument>(name: string): ReadCollection<T> {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,119}$/.test(name)) throw new InvalidQueryError(`invalid collection name ${JSON.stringify(name)}`, { collection: name });
    return new MongoCollection<T>(this.db.collection(name), name);
  }

  async listCollections(): Promise<string[]> {
    return guarded('(list)', async () => (await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort());
  }

  /** Drops the whole database (tests use a database of their own). */
  async dropDatabase(): Promise<void> {
    await guarded('(database)', () => this.db.dropDatabase());
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
