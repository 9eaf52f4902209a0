import { checkFilter, checkSort } from './dialect.js';
import { InvalidQueryError } from './errors.js';
import { decodeValue, encodeValue } from './json-codec.js';
import type { Filter, ReadCollection, ReadDocument, SortSpec } from './port.js';

/** One page request of a GraphQL-style connection. */
export interface PageRequest {
  filter?: Filter;
  /**
   * Sort keys (without `_id`, which is always appended as the tie-breaker, in the direction of the
   * last key). Every document must hold a non-null value for each key: MongoDB's `$gt`/`$lt` never
   * match null or missing values, so such documents could not be paged past.
   */
  sort?: SortSpec;
  /** Page size, 1..1000. */
  first: number;
  /** `endCursor` of the previous page. */
  after?: string | null;
}

export interface Edge<T> {
  node: T;
  cursor: string;
}

export interface Page<T> {
  edges: Edge<T>[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const MAX_PAGE = 1000;

function fullSort(sort: SortSpec = {}): [string, 1 | -1][] {
  const keys = Object.entries(sort).filter(([k]) => k !== '_id');
  const idDir = (sort['_id'] ?? keys[keys.length - 1]?.[1] ?? 1) as 1 | -1;
  return [...keys, ['_id', idDir]];
}

const sortSignature = (keys: [string, 1 | -1][]): string => keys.map(([k, d]) => `${k}:${d}`).join(',');

function valueAt(doc: Record<string, unknown>, path: string): unknown {
  let v: unknown = doc;
  for (const seg of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[seg] : undefined;
  return v;
}

/** Opaque cursor: the sort signature plus the sort-key values and `_id` of the last edge. */
function encodeCursor(keys: [string, 1 | -1][], doc: Record<string, unknown>): string {
  const values = keys.map(([k]) => valueAt(doc, k) ?? null);
  return Buffer.from(encodeValue({ s: sortSignature(keys), v: values })).toString('base64url');
}

function decodeCursor(keys: [string, 1 | -1][], cursor: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = decodeValue(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidQueryError('invalid pagination cursor', { cursor });
  }
  const p = parsed as { s?: unknown; v?: unknown };
  if (!p || typeof p !== 'object' || p.s !== sortSignature(keys) || !Array.isArray(p.v) || p.v.length !== keys.length) {
    throw new InvalidQueryError('pagination cursor does not belong to this sort order', { cursor });
  }
  if (p.v.some((v) => v === null || (typeof v === 'object' && !(v instanceof Date)))) {
    throw new InvalidQueryError('pagination cursor holds a value that cannot be paged past (null or object)', { cursor });
  }
  return p.v;
}

/** Documents strictly after `values` in the order of `keys`: a lexicographic chain of `$or` branches. */
function afterFilter(keys: [string, 1 | -1][], values: unknown[]): Filter {
  const branches: Filter[] = keys.map(([k, dir], i) => {
    const branch: Filter = {};
    for (let j = 0; j < i; j++) branch[keys[j]![0]] = values[j];
    branch[k] = { [dir === 1 ? '$gt' : '$lt']: values[i] };
    return branch;
  });
  return { $or: branches };
}

/**
 * One page of a cursor-paginated connection. Stable under inserts and deletes between pages: the
 * cursor names a position in the sort order (sort keys + `_id`), not an offset.
 */
export async function findPage<T extends ReadDocument>(collection: ReadCollection<T>, request: PageRequest): Promise<Page<T>> {
  const { filter = {}, first, after } = request;
  checkFilter(filter);
  if (request.sort) checkSort(request.sort);
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw new InvalidQueryError(`first must be an integer between 1 and ${MAX_PAGE}`, { first });
  const keys = fullSort(request.sort);
  let query: Filter = filter;
  if (after) {
    const cond = afterFilter(keys, decodeCursor(keys, after));
    query = Object.keys(filter).length === 0 ? cond : { $and: [filter, cond] };
  }
  const docs = await collection.find(query, { sort: Object.fromEntries(keys) as SortSpec, limit: first + 1 });
  const page = docs.slice(0, first);
  const edges = page.map((node) => ({ node, cursor: encodeCursor(keys, node as Record<string, unknown>) }));
  return { edges, pageInfo: { hasNextPage: docs.length > first, endCursor: edges.length > 0 ? edges[edges.length - 1]!.cursor : null } };
}
