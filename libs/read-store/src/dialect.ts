import { InvalidQueryError } from './errors.js';
import type { BulkOperation, Filter, FindOptions, PipelineStage, ProjectionSpec, SortSpec, UpdateSpec } from './port.js';

/*
 * The dialect both adapters accept. Everything is checked here, before either engine sees it, so
 * the embedded store cannot quietly accept a query that production (MongoDB or FerretDB) would
 * reject or run differently, and nothing that executes code ever reaches a server.
 */

/** Filter operators at the top level of a filter (or of `$elemMatch`). */
export const SUPPORTED_LOGICAL_OPERATORS = ['$and', '$or', '$nor'] as const;
/** Operators on a field: `{ field: { $op: value } }`. */
export const SUPPORTED_FIELD_OPERATORS = [
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
  '$not',
  '$regex',
  '$options',
  '$size',
  '$all',
  '$elemMatch',
] as const;
/** Update operators. `$push`/`$addToSet` take a value or `{ $each: [...] }`; `$pull` a scalar value (FerretDB ignores conditions). */
export const SUPPORTED_UPDATE_OPERATORS = ['$set', '$unset', '$inc', '$push', '$addToSet', '$pull', '$setOnInsert'] as const;
/**
 * Aggregation stages, narrowed to what FerretDB v1.24 computes correctly: `$project` takes 0/1
 * only, `$addFields`/`$set` take literal values only, `$unwind` takes a "$path" string, and `$group`
 * groups by a field path (or null, or an object of paths) with at most one accumulator.
 */
export const SUPPORTED_PIPELINE_STAGES = [
  '$match',
  '$sort',
  '$skip',
  '$limit',
  '$project',
  '$group',
  '$count',
  '$unwind',
  '$addFields',
  '$set',
  '$unset',
] as const;
/** `$group` accumulators (one per `$group`: FerretDB v1.24 returns 0 for every accumulator after the first). */
export const SUPPORTED_ACCUMULATORS = ['$sum', '$count'] as const;
/** Named in errors so callers see why: these run code inside the server. */
export const CODE_EXECUTING_OPERATORS = ['$where', '$function', '$accumulator', '$eval'] as const;

const logical = new Set<string>(SUPPORTED_LOGICAL_OPERATORS);
const fieldOps = new Set<string>(SUPPORTED_FIELD_OPERATORS);
const updateOps = new Set<string>(SUPPORTED_UPDATE_OPERATORS);
const stages = new Set<string>(SUPPORTED_PIPELINE_STAGES);
const accumulators = new Set<string>(SUPPORTED_ACCUMULATORS);
const codeOps = new Set<string>(CODE_EXECUTING_OPERATORS);

const MAX_DEPTH = 32;

/** Finds a code-executing operator anywhere in a structure, so it is named even when nested under another unsupported operator. */
function rejectCode(value: unknown, what: string, path = '', depth = 0): void {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => rejectCode(v, what, `${path}.${i}`, depth + 1));
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (codeOps.has(k)) reject(what, k, path);
    rejectCode(v, what, path ? `${path}.${k}` : k, depth + 1);
  }
}

function reject(what: string, operator: string | undefined, path: string): never {
  if (operator && codeOps.has(operator)) {
    throw new InvalidQueryError(`${operator} executes code and is never accepted (${what} at ${path || 'top level'})`, {
      operator,
      path,
      reason: 'code-execution',
    });
  }
  throw new InvalidQueryError(`${operator ? `operator ${operator}` : 'value'} is not supported in a ${what} (at ${path || 'top level'})`, { operator, path });
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof RegExp) && Object.getPrototypeOf(v) === Object.prototype;

const hasOperatorKeys = (o: Record<string, unknown>): boolean => Object.keys(o).some((k) => k.startsWith('$'));

function checkFieldName(name: string, path: string, what: string): void {
  if (name === '' || name.startsWith('$') || name.split('.').some((seg) => seg === '' || seg.startsWith('$'))) {
    throw new InvalidQueryError(
      `field name ${JSON.stringify(name)} is not allowed in a ${what} (at ${path || 'top level'}): no empty, $-prefixed or positional segments`,
      { field: name, path },
    );
  }
}

/** A literal value: JSON-like data, Dates and (in filters) RegExps; no functions, bigints or $-keys. */
function checkLiteral(value: unknown, path: string, what: string, depth: number, allowRegExp: boolean): void {
  if (depth > MAX_DEPTH) throw new InvalidQueryError(`${what} nests deeper than ${MAX_DEPTH} levels`, { path });
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    // JSON (snapshots, cursors) cannot hold NaN or Infinity, and MongoDB orders them unlike JS.
    if (!Number.isFinite(value)) throw new InvalidQueryError(`non-finite number in a ${what} (at ${path})`, { path });
    return;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new InvalidQueryError(`invalid date in a ${what} (at ${path})`, { path });
    return;
  }
  if (value instanceof RegExp) {
    if (allowRegExp) return;
    reject(what, undefined, path);
  }
  if (typeof value === 'bigint') {
    throw new InvalidQueryError(`bigint values are not portable across adapters (at ${path}): store them as zero-padded strings`, { path });
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkLiteral(v, `${path}.${i}`, what, depth + 1, allowRegExp));
    return;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith('$')) reject(what, k, path);
      checkLiteral(v, path ? `${path}.${k}` : k, what, depth + 1, allowRegExp);
    }
    return;
  }
  // undefined, functions, symbols, class instances (including BSON types): not portable.
  throw new InvalidQueryError(`unsupported ${typeof value} value in a ${what} (at ${path})`, { path });
}

/** Validates a query filter; throws `InvalidQueryError` on anything outside the dialect. */
export function checkFilter(filter: unknown, path = '', depth = 0): asserts filter is Filter {
  if (depth === 0) rejectCode(filter, 'filter', path);
  if (depth > MAX_DEPTH) throw new InvalidQueryError(`filter nests deeper than ${MAX_DEPTH} levels`, { path });
  if (!isPlainObject(filter)) throw new InvalidQueryError(`a filter must be a plain object (at ${path || 'top level'})`, { path });
  for (const [key, value] of Object.entries(filter)) {
    const at = path ? `${path}.${key}` : key;
    if (key.startsWith('$')) {
      if (!logical.has(key)) reject('filter', key, path);
      if (!Array.isArray(value) || value.length === 0) throw new InvalidQueryError(`${key} takes a non-empty array of filters (at ${at})`, { path: at });
      value.forEach((f, i) => checkFilter(f, `${at}.${i}`, depth + 1));
      continue;
    }
    checkFieldName(key, path, 'filter');
    checkFieldCondition(value, at, depth + 1);
  }
}

function checkFieldCondition(value: unknown, path: string, depth: number): void {
  if (isPlainObject(value) && hasOperatorKeys(value)) {
    const keys = Object.keys(value);
    if (keys.some((k) => !k.startsWith('$'))) throw new InvalidQueryError(`cannot mix operators and fields in one condition (at ${path})`, { path });
    if ('$options' in value && !('$regex' in value)) throw new InvalidQueryError(`$options needs $regex (at ${path})`, { path });
    for (const [op, arg] of Object.entries(value)) {
      if (!fieldOps.has(op)) reject('filter', op, path);
      const at = `${path}.${op}`;
      switch (op) {
        case '$in':
        case '$nin':
        case '$all':
          if (!Array.isArray(arg)) throw new InvalidQueryError(`${op} takes an array (at ${at})`, { path: at });
          checkLiteral(arg, at, 'filter', depth, true);
          break;
        case '$exists':
          if (typeof arg !== 'boolean') throw new InvalidQueryError(`$exists takes true or false (at ${at})`, { path: at });
          break;
        case '$size':
          if (!Number.isInteger(arg) || (arg as number) < 0) throw new InvalidQueryError(`$size takes a non-negative integer (at ${at})`, { path: at });
          break;
        case '$regex':
          if (typeof arg !== 'string' && !(arg instanceof RegExp)) throw new InvalidQueryError(`$regex takes a string or RegExp (at ${at})`, { path: at });
          break;
        case '$options':
          if (typeof arg !== 'string' || !/^[imsx]*$/.test(arg)) throw new InvalidQueryError(`$options takes flags from "imsx" (at ${at})`, { path: at });
          break;
        case '$not':
          if (arg instanceof RegExp) break;
          if (!isPlainObject(arg) || !hasOperatorKeys(arg))
            throw new InvalidQueryError(`$not takes an operator condition or a RegExp (at ${at})`, { path: at });
          checkFieldCondition(arg, at, depth + 1);
          break;
        case '$elemMatch':
          // Operators on the element itself only: FerretDB v1.24 rejects conditions on element fields
          // (use a dotted path such as { 'runs.step': 'patch' } for one field).
          if (!isPlainObject(arg) || Object.keys(arg).length === 0 || !Object.keys(arg).every((k) => k.startsWith('$'))) {
            throw new InvalidQueryError(`$elemMatch takes operators on the element ({ $gt: 1 }), not fields (at ${at})`, { path: at });
          }
          checkFieldCondition(arg, at, depth + 1);
          break;
        default:
          checkLiteral(arg, at, 'filter', depth, true);
      }
    }
    return;
  }
  checkLiteral(value, path, 'filter', depth, true);
}

/** Validates a sort specification. */
export function checkSort(sort: unknown, what = 'sort'): asserts sort is SortSpec {
  if (!isPlainObject(sort)) throw new InvalidQueryError(`${what} must be an object of field → 1 | -1`);
  for (const [k, v] of Object.entries(sort)) {
    checkFieldName(k, '', what);
    if (v !== 1 && v !== -1) throw new InvalidQueryError(`${what} direction for ${k} must be 1 or -1`, { field: k });
  }
}

/** Validates a projection: only 0/1 per field, not mixed (except `_id: 0`). */
export function checkProjection(projection: unknown): asserts projection is ProjectionSpec {
  if (!isPlainObject(projection)) throw new InvalidQueryError('projection must be an object of field → 0 | 1');
  let include = false;
  let exclude = false;
  for (const [k, v] of Object.entries(projection)) {
    if (k.startsWith('$')) reject('projection', k, '');
    checkFieldName(k, '', 'projection');
    if (v !== 0 && v !== 1) throw new InvalidQueryError(`projection for ${k} must be 0 or 1`, { field: k });
    if (k === '_id') continue;
    if (v === 1) include = true;
    else exclude = true;
  }
  if (include && exclude) throw new InvalidQueryError('projection cannot mix inclusion and exclusion (except _id: 0)');
}

const nonNegativeInt = (v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number => {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > max) throw new InvalidQueryError(`${what} must be a non-negative integer`, { [what]: v });
  return v as number;
};

/** Validates find options. */
export function checkFindOptions(options: FindOptions): void {
  if (options.sort !== undefined) checkSort(options.sort);
  if (options.projection !== undefined) checkProjection(options.projection);
  if (options.limit !== undefined) nonNegativeInt(options.limit, 'limit');
  if (options.skip !== undefined) nonNegativeInt(options.skip, 'skip');
}

/** Validates an update document (operators only; replacement documents go through `upsertOne`). */
export function checkUpdate(update: unknown): asserts update is UpdateSpec {
  rejectCode(update, 'update');
  if (!isPlainObject(update) || Object.keys(update).length === 0) throw new InvalidQueryError('an update must be a non-empty object of update operators');
  const seen = new Map<string, string>();
  for (const [op, fields] of Object.entries(update)) {
    if (!op.startsWith('$'))
      throw new InvalidQueryError(`an update takes operators only (found field ${JSON.stringify(op)}); use upsertOne to replace a document`, { field: op });
    if (!updateOps.has(op)) reject('update', op, '');
    if (!isPlainObject(fields) || Object.keys(fields).length === 0) throw new InvalidQueryError(`${op} takes a non-empty object of fields`, { operator: op });
    for (const [field, value] of Object.entries(fields)) {
      checkFieldName(field, op, 'update');
      if (field === '_id' && op !== '$setOnInsert' && op !== '$set') throw new InvalidQueryError(`${op} cannot change _id`, { operator: op });
      // Two operators on the same (or an enclosing) path conflict in MongoDB; fail the same way everywhere.
      for (const [other, otherOp] of seen) {
        if (other === field || other.startsWith(field + '.') || field.startsWith(other + '.')) {
          throw new InvalidQueryError(`${op} ${field} conflicts with ${otherOp} ${other}`, { field, operator: op });
        }
      }
      seen.set(field, op);
      const at = `${op}.${field}`;
      switch (op) {
        case '$inc':
          if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidQueryError(`$inc takes a finite number (at ${at})`, { path: at });
          break;
        case '$push':
        case '$addToSet':
          if (isPlainObject(value) && hasOperatorKeys(value)) {
            const keys = Object.keys(value);
            if (keys.length !== 1 || keys[0] !== '$each')
              throw new InvalidQueryError(`${op} supports only { $each: [...] } as a modifier (at ${at})`, { path: at });
            if (!Array.isArray(value['$each'])) throw new InvalidQueryError(`$each takes an array (at ${at})`, { path: at });
            checkLiteral(value['$each'], at, 'update', 1, false);
          } else {
            checkLiteral(value, at, 'update', 1, false);
          }
          break;
        case '$pull':
          // Scalars only: FerretDB v1.24 silently ignores conditions, and compares documents exactly
          // where MongoDB matches them as queries.
          if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean' && !(value instanceof Date)) {
            throw new InvalidQueryError(`$pull takes a scalar value to remove (at ${at}); conditions and documents are not portable`, { path: at });
          }
          checkLiteral(value, at, 'update', 1, false);
          break;
        default:
          checkLiteral(value, at, 'update', 1, false);
      }
    }
  }
}

/** Validates a replacement document (for `upsertOne`). */
export function checkReplacement(document: unknown): asserts document is Record<string, unknown> {
  if (!isPlainObject(document)) throw new InvalidQueryError('a document must be a plain object');
  for (const [k, v] of Object.entries(document)) {
    checkFieldName(k, '', 'document');
    if (k.includes('.')) throw new InvalidQueryError(`document field names cannot contain "." (${k})`, { field: k });
    checkLiteral(v, k, 'document', 1, false);
  }
  const id = document['_id'];
  if (id !== undefined && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
    throw new InvalidQueryError('_id must be a string or a finite number', { field: '_id' });
  }
}

/** Aggregation expressions: field paths, literals, or objects of expressions (no operators). */
function checkExpression(expr: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new InvalidQueryError(`pipeline nests deeper than ${MAX_DEPTH} levels`, { path });
  if (typeof expr === 'string') {
    if (expr.startsWith('$$')) throw new InvalidQueryError(`variables are not supported (at ${path})`, { path });
    if (expr.startsWith('$')) checkFieldName(expr.slice(1), path, 'pipeline');
    return;
  }
  if (isPlainObject(expr)) {
    for (const [k, v] of Object.entries(expr)) {
      if (k.startsWith('$')) reject('pipeline expression', k, path);
      checkExpression(v, `${path}.${k}`, depth + 1);
    }
    return;
  }
  if (Array.isArray(expr)) throw new InvalidQueryError(`array expressions are not supported (at ${path})`, { path });
  checkLiteral(expr, path, 'pipeline', depth, false);
}

/** Validates an aggregation pipeline against {@link SUPPORTED_PIPELINE_STAGES}. */
export function checkPipeline(pipeline: unknown): asserts pipeline is PipelineStage[] {
  rejectCode(pipeline, 'pipeline');
  if (!Array.isArray(pipeline)) throw new InvalidQueryError('a pipeline must be an array of stages');
  pipeline.forEach((stage, i) => {
    const at = `pipeline.${i}`;
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1)
      throw new InvalidQueryError(`each stage must be an object with exactly one stage operator (at ${at})`, { path: at });
    const [name, arg] = Object.entries(stage)[0]!;
    if (!stages.has(name)) reject('pipeline', name, at);
    switch (name) {
      case '$match':
        checkFilter(arg, `${at}.$match`);
        break;
      case '$sort':
        checkSort(arg, '$sort');
        break;
      case '$skip':
      case '$limit':
        nonNegativeInt(arg, name);
        break;
      case '$count':
        if (typeof arg !== 'string' || arg === '' || arg.startsWith('$') || arg.includes('.'))
          throw new InvalidQueryError(`$count takes a field name (at ${at})`, { path: at });
        break;
      case '$unwind': {
        // The string form only: FerretDB v1.24 has no options (preserveNullAndEmptyArrays).
        if (typeof arg !== 'string' || !arg.startsWith('$') || arg.startsWith('$$'))
          throw new InvalidQueryError(`$unwind takes a "$field" path string (at ${at})`, { path: at });
        checkFieldName(arg.slice(1), at, 'pipeline');
        break;
      }
      case '$unset': {
        const fields = Array.isArray(arg) ? arg : [arg];
        if (fields.length === 0) throw new InvalidQueryError(`$unset takes field names (at ${at})`, { path: at });
        for (const f of fields) {
          if (typeof f !== 'string') throw new InvalidQueryError(`$unset takes field names (at ${at})`, { path: at });
          checkFieldName(f, at, 'pipeline');
        }
        break;
      }
      case '$project':
        if (!isPlainObject(arg) || Object.keys(arg).length === 0) throw new InvalidQueryError(`$project takes an object (at ${at})`, { path: at });
        for (const [k, v] of Object.entries(arg)) {
          checkFieldName(k, at, 'pipeline');
          // FerretDB v1.24 returns "$field" as a literal string instead of the field's value.
          if (v === 0 || v === 1 || v === true || v === false) continue;
          throw new InvalidQueryError(`$project supports 0 and 1 only (at ${at}.${k})`, { path: `${at}.${k}` });
        }
        break;
      case '$addFields':
      case '$set':
        if (!isPlainObject(arg) || Object.keys(arg).length === 0) throw new InvalidQueryError(`${name} takes an object (at ${at})`, { path: at });
        for (const [k, v] of Object.entries(arg)) {
          checkFieldName(k, at, 'pipeline');
          // Literal values only: FerretDB v1.24 stores "$field" as text instead of resolving it.
          if (typeof v === 'string' && v.startsWith('$'))
            throw new InvalidQueryError(`${name} takes literal values only, not field paths (at ${at}.${k})`, { path: `${at}.${k}` });
          if (isPlainObject(v) && hasOperatorKeys(v))
            reject(
              'pipeline expression',
              Object.keys(v).find((x) => x.startsWith('$')),
              `${at}.${k}`,
            );
          checkLiteral(v, `${at}.${k}`, 'pipeline', 1, false);
        }
        break;
      case '$group': {
        if (!isPlainObject(arg) || !('_id' in arg)) throw new InvalidQueryError(`$group needs an _id (at ${at})`, { path: at });
        if (Object.keys(arg).length > 2)
          throw new InvalidQueryError(`$group takes at most one accumulator (FerretDB v1.24 computes only the first) (at ${at})`, { path: at });
        for (const [k, v] of Object.entries(arg)) {
          if (k === '_id') {
            checkExpression(v, `${at}._id`, 1);
            continue;
          }
          checkFieldName(k, at, 'pipeline');
          if (!isPlainObject(v) || Object.keys(v).length !== 1) throw new InvalidQueryError(`$group field ${k} takes one accumulator (at ${at})`, { path: at });
          const [acc, accArg] = Object.entries(v)[0]!;
          if (!accumulators.has(acc)) reject('$group', acc, `${at}.${k}`);
          if (acc === '$count') {
            if (!isPlainObject(accArg) || Object.keys(accArg).length !== 0)
              throw new InvalidQueryError(`$count accumulator takes {} (at ${at}.${k})`, { path: at });
          } else {
            if (!(typeof accArg === 'number' && Number.isFinite(accArg)) && !(typeof accArg === 'string' && accArg.startsWith('$'))) {
              throw new InvalidQueryError(`$sum takes a number or a "$field" path (at ${at}.${k})`, { path: `${at}.${k}` });
            }
            checkExpression(accArg, `${at}.${k}.${acc}`, 2);
          }
        }
        break;
      }
    }
  });
}

/** Validates every operation of a bulk write up front, so a bad one is reported before any write. */
export function checkBulk(operations: readonly BulkOperation[]): void {
  if (!Array.isArray(operations)) throw new InvalidQueryError('bulkWrite takes an array of operations');
  operations.forEach((op, i) => {
    if (!isPlainObject(op as unknown) || Object.keys(op).length !== 1)
      throw new InvalidQueryError(`bulk operation ${i} must have exactly one of upsertOne, updateOne, deleteMany`, { index: i });
    if ('upsertOne' in op) {
      checkFilter(op.upsertOne.filter);
      checkReplacement(op.upsertOne.document);
      requireKnownId(op.upsertOne.filter, op.upsertOne.document as Record<string, unknown>);
    } else if ('updateOne' in op) {
      checkFilter(op.updateOne.filter);
      checkUpdate(op.updateOne.update);
      if (op.updateOne.upsert) requireUpsertId(op.updateOne.filter, op.updateOne.update);
    } else if ('deleteMany' in op) {
      checkFilter(op.deleteMany.filter);
    } else {
      throw new InvalidQueryError(`bulk operation ${i} must be one of upsertOne, updateOne, deleteMany`, { index: i });
    }
  });
}

/** The `_id` a filter pins by equality (`{ _id: v }` or `{ _id: { $eq: v } }`), if any. */
export function idFromFilter(filter: Filter): string | number | undefined {
  const v = filter['_id'];
  if (typeof v === 'string' || typeof v === 'number') return v;
  if (isPlainObject(v) && Object.keys(v).length === 1 && (typeof v['$eq'] === 'string' || typeof v['$eq'] === 'number')) return v['$eq'] as string | number;
  return undefined;
}

/** `upsertOne` needs a key known up front, and the filter's and document's `_id` must agree. */
export function requireKnownId(filter: Filter, document: Record<string, unknown>): string | number {
  const fromFilter = idFromFilter(filter);
  const fromDoc = document['_id'] as string | number | undefined;
  if (fromFilter !== undefined && fromDoc !== undefined && fromFilter !== fromDoc) {
    throw new InvalidQueryError('upsertOne: the filter and the document name different _id values', { filterId: fromFilter, documentId: fromDoc });
  }
  const id = fromDoc ?? fromFilter;
  if (id === undefined)
    throw new InvalidQueryError('upsertOne needs an _id in the document or an _id equality in the filter (generated ids would differ between rebuilds)');
  return id;
}

export { isPlainObject };

/** An upsert through `updateOne` must know its `_id`: from the filter, `$setOnInsert` or `$set`. */
export function requireUpsertId(filter: Filter, update: UpdateSpec): void {
  if (idFromFilter(filter) !== undefined) return;
  for (const op of ['$setOnInsert', '$set'] as const) {
    const id = update[op]?.['_id'];
    if (typeof id === 'string' || typeof id === 'number') return;
  }
  throw new InvalidQueryError('an upsert needs an _id from the filter, $setOnInsert or $set (generated ids would differ between rebuilds)');
}
