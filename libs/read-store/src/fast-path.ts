/*
 * Fast paths of the embedded read store for the filters and updates projections write on every
 * event: top-level equality and range conditions, `$or`/`$and` of them, and `$set`/`$unset`/`$inc`
 * on plain object paths. mingo answers everything else, and every case these cannot decide
 * (arrays, dates, nested documents, conflicting paths) is handed to it too, so results are
 * mingo's. Why: each mingo query or update builds its operator tables afresh (copies of several
 * hundred entries), which made it most of the gateway's CPU during a cycle.
 */

/** A document test: true/false when decided here, undefined when mingo must decide. */
export type SimpleMatcher = (doc: Record<string, unknown>) => boolean | undefined;

type Scalar = string | number | boolean;

const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof RegExp) && Object.getPrototypeOf(v) === Object.prototype;
/** A value whose matching has array or document semantics (multikey, embedded equality): mingo's. */
const isComposite = (v: unknown): boolean => typeof v === 'object' && v !== null;

/**
 * Several tests as one: the first part that answers `decisive` decides (false for an and, true for
 * an or); otherwise the answer is the opposite, unless a part could not decide (then mingo must).
 */
const combine =
  (decisive: boolean) =>
  (parts: readonly SimpleMatcher[]): SimpleMatcher =>
  (doc) => {
    let unknown = false;
    for (const p of parts) {
      const r = p(doc);
      if (r === decisive) return decisive;
      if (r === undefined) unknown = true;
    }
    return unknown ? undefined : !decisive;
  };
const all = combine(false);
const any = combine(true);

function compare(op: string, operand: unknown): ((x: unknown) => boolean | undefined) | undefined {
  switch (op) {
    case '$eq':
      if (!isScalar(operand)) return undefined;
      return (x) => (x === undefined ? false : isComposite(x) ? undefined : x === operand);
    case '$ne':
      if (!isScalar(operand)) return undefined;
      return (x) => (x === undefined ? true : isComposite(x) ? undefined : x !== operand);
    case '$in': {
      if (!Array.isArray(operand) || !operand.every(isScalar)) return undefined;
      const set = new Set<unknown>(operand);
      return (x) => (x === undefined ? false : isComposite(x) ? undefined : set.has(x));
    }
    case '$exists':
      if (typeof operand !== 'boolean') return undefined;
      return (x) => (x !== undefined) === operand;
    case '$lt':
    case '$lte':
    case '$gt':
    case '$gte': {
      if (typeof operand !== 'string' && !(typeof operand === 'number' && Number.isFinite(operand))) return undefined;
      const t = typeof operand;
      const test = op === '$lt' ? (x: Scalar) => x < operand : op === '$lte' ? (x: Scalar) => x <= operand : op === '$gt' ? (x: Scalar) => x > operand : (x: Scalar) => x >= operand;
      // Comparisons only match values of the operand's type (MongoDB's type bracketing).
      return (x) => (x === undefined || x === null ? false : isComposite(x) ? undefined : typeof x === t ? test(x as Scalar) : false);
    }
    default:
      return undefined;
  }
}

/** A matcher for `filter` when every condition in it is one this module decides; undefined otherwise. */
export function compileSimpleFilter(filter: Record<string, unknown>): SimpleMatcher | undefined {
  const parts: SimpleMatcher[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$or' || key === '$and') {
      if (!Array.isArray(value) || value.length === 0) return undefined;
      const subs: SimpleMatcher[] = [];
      for (const sub of value) {
        const m = isRecord(sub) ? compileSimpleFilter(sub) : undefined;
        if (!m) return undefined;
        subs.push(m);
      }
      parts.push(key === '$or' ? any(subs) : all(subs));
      continue;
    }
    if (key === '' || key.startsWith('$') || key.includes('.')) return undefined;
    const tests: Array<(x: unknown) => boolean | undefined> = [];
    if (isScalar(value)) tests.push(compare('$eq', value)!);
    else if (isRecord(value)) {
      const ops = Object.entries(value);
      if (ops.length === 0) return undefined;
      for (const [op, operand] of ops) {
        const t = compare(op, operand);
        if (!t) return undefined;
        tests.push(t);
      }
    } else return undefined;
    parts.push(all(tests.map((t) => (doc: Record<string, unknown>) => t(doc[key]))));
  }
  return all(parts);
}

/** Order-insensitive deep equality of stored values (JSON values and dates). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameValue(v, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const SIMPLE_UPDATE_OPS = new Set(['$set', '$unset', '$inc']);

/**
 * Applies a `$set`/`$unset`/`$inc` update to a copy of `doc` (copying only the objects on the
 * updated paths; `doc` is not changed). Undefined when mingo must do it: another operator, a path
 * through an array or a non-object, a numeric or `$` path segment, two paths that overlap, or an
 * `$inc` of a non-number.
 */
export function applySimpleUpdate<D extends Record<string, unknown>>(doc: D, modifier: Record<string, unknown>): { next: D; changed: boolean } | undefined {
  const edits: Array<{ op: string; path: string[]; value: unknown }> = [];
  for (const [op, spec] of Object.entries(modifier)) {
    if (!SIMPLE_UPDATE_OPS.has(op) || !isRecord(spec)) return undefined;
    for (const [p, value] of Object.entries(spec)) {
      const path = p.split('.');
      if (path.some((s) => s === '' || s.startsWith('$') || /^\d+$/.test(s))) return undefined;
      if (op === '$inc' && !(typeof value === 'number' && Number.isFinite(value))) return undefined;
      edits.push({ op, path, value });
    }
  }
  if (edits.length === 0) return undefined;
  const joined = edits.map((e) => e.path.join('.'));
  for (let i = 0; i < joined.length; i++) {
    for (let j = 0; j < joined.length; j++) {
      if (i !== j && (joined[i] === joined[j] || joined[j]!.startsWith(joined[i]! + '.'))) return undefined;
    }
  }
  const next: Record<string, unknown> = { ...doc };
  const copied = new Set<object>([next]);
  let changed = false;
  for (const { op, path, value } of edits) {
    let container = next;
    let skip = false;
    for (const seg of path.slice(0, -1)) {
      const child = container[seg];
      if (child === undefined) {
        if (op === '$unset') {
          skip = true;
          break;
        }
        const fresh: Record<string, unknown> = {};
        copied.add(fresh);
        container[seg] = fresh;
        container = fresh;
      } else if (isRecord(child)) {
        if (copied.has(child)) container = child;
        else {
          const copy = { ...child };
          copied.add(copy);
          container[seg] = copy;
          container = copy;
        }
      } else return undefined;
    }
    if (skip) continue;
    const leaf = path[path.length - 1]!;
    const current = container[leaf];
    if (op === '$set') {
      if (!sameValue(current, value)) changed = true;
      container[leaf] = cloneValue(value);
    } else if (op === '$unset') {
      if (Object.prototype.hasOwnProperty.call(container, leaf)) {
        delete container[leaf];
        changed = true;
      }
    } else {
      if (current === undefined) container[leaf] = value;
      else if (typeof current === 'number') container[leaf] = current + (value as number);
      else return undefined;
      if (value !== 0 || current === undefined) changed = true;
    }
  }
  return { next: next as D, changed };
}

/**
 * A deep copy of a document value (JSON values and Dates, what the dialect admits), several times
 * quicker than `structuredClone` on the small documents projections read and write at every event.
 * Anything else (a class instance) is left to `structuredClone`.
 */
export function cloneValue<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneValue(value[i]);
    return out as T;
  }
  if (value instanceof Date) return new Date(value.getTime()) as T;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = cloneValue((value as Record<string, unknown>)[key]);
    // A `__proto__` field from parsed JSON is an own property, never the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out as T;
}
