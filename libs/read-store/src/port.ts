/**
 * The query-side store port: a small Mongo dialect, just what projections and GraphQL resolvers
 * need. Both adapters (embedded on mingo, MongoDB/FerretDB on the `mongodb` driver) accept exactly
 * the operators listed in `dialect.ts`; anything else is rejected with `INVALID_QUERY` before it
 * reaches either engine, so a query that works embedded also works in production.
 */

/** A stored document. `_id` is the key; read models use deterministic ids so rebuilds match. */
export interface ReadDocument {
  _id: string | number;
  [field: string]: unknown;
}

/** A query filter (see `SUPPORTED_QUERY_OPERATORS`). */
export type Filter = Record<string, unknown>;

/** Field → 1 (ascending) or -1 (descending), applied in key order. */
export type SortSpec = Record<string, 1 | -1>;

/** Field → 1 (include) or 0 (exclude); not both kinds except `_id: 0`. */
export type ProjectionSpec = Record<string, 0 | 1>;

/** An update document (see `SUPPORTED_UPDATE_OPERATORS`). */
export type UpdateSpec = Partial<Record<'$set' | '$unset' | '$inc' | '$push' | '$addToSet' | '$pull' | '$setOnInsert', Record<string, unknown>>>;

/** One aggregation stage (see `SUPPORTED_PIPELINE_STAGES`). */
export type PipelineStage = Record<string, unknown>;

export interface FindOptions {
  sort?: SortSpec;
  limit?: number;
  skip?: number;
  projection?: ProjectionSpec;
}

export interface UpdateOptions {
  /** Insert when nothing matches: the new document is built from the filter's equality fields plus the update. */
  upsert?: boolean;
}

export interface WriteResult {
  matchedCount: number;
  modifiedCount: number;
  /** `_id` of the inserted document when an upsert inserted one. */
  upsertedId?: string | number;
}

export interface IndexOptions {
  unique?: boolean;
  /** Defaults to MongoDB's naming (`field_1_other_-1`). */
  name?: string;
}

/** One operation of {@link ReadCollection.bulkWrite}. */
export type BulkOperation =
  | { upsertOne: { filter: Filter; document: ReadDocument | Omit<ReadDocument, '_id'> } }
  | { updateOne: { filter: Filter; update: UpdateSpec; upsert?: boolean } }
  | { deleteMany: { filter: Filter } };

export interface BulkResult {
  matchedCount: number;
  modifiedCount: number;
  upsertedCount: number;
  deletedCount: number;
}

/** One named collection of documents of shape `T`. */
export interface ReadCollection<T extends ReadDocument = ReadDocument> {
  readonly name: string;
  /** Matching documents in `sort` order (natural order is unspecified: sort when order matters). */
  find(filter?: Filter, options?: FindOptions): Promise<T[]>;
  findOne(filter?: Filter, options?: Omit<FindOptions, 'limit'>): Promise<T | null>;
  count(filter?: Filter): Promise<number>;
  /** Runs a pipeline of the stages both adapters support. */
  aggregate<R = Record<string, unknown>>(pipeline: readonly PipelineStage[]): Promise<R[]>;
  /**
   * Replaces the document matching `filter` with `document`, or inserts it. The key must be
   * known up front (`_id` in the document or an `_id` equality in the filter): generated ids would
   * differ between rebuilds of a projection.
   */
  upsertOne(filter: Filter, document: T | Omit<T, '_id'>): Promise<WriteResult>;
  /** Applies `update` to the first matching document (or upserts). */
  updateOne(filter: Filter, update: UpdateSpec, options?: UpdateOptions): Promise<WriteResult>;
  /** Deletes every matching document; returns how many. */
  deleteMany(filter: Filter): Promise<number>;
  /**
   * Applies the operations in order, stopping at the first failure (which is thrown; earlier
   * operations stay applied). Not a transaction: FerretDB has no multi-document transactions, so
   * projections rely on idempotent writes instead.
   */
  bulkWrite(operations: readonly BulkOperation[]): Promise<BulkResult>;
  /** Creates the index if missing (idempotent); returns its name. */
  createIndex(spec: SortSpec, options?: IndexOptions): Promise<string>;
  /** Removes the collection with its documents and indexes; missing is fine. */
  drop(): Promise<void>;
}

/** A database of read-model collections. */
export interface ReadStore {
  collection<T extends ReadDocument = ReadDocument>(name: string): ReadCollection<T>;
  listCollections(): Promise<string[]>;
  /** Flushes (embedded: snapshot) and releases the store. */
  close(): Promise<void>;
}
