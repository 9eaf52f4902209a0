import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Query, update as mingoUpdate } from 'mingo';
import { applySimpleUpdate, cloneValue, compileSimpleFilter, sameValue } from './fast-path.js';

/** A small deterministic PRNG, so a failure names a seed that reproduces it. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS: unknown[] = ['a', 'b', '000001', '000002', '', 0, 1, 2.5, -1, true, false];
const VALUES: unknown[] = [...SCALARS, null, ['a', 1], [], { x: 1 }, { x: 'a', y: { z: 2 } }, new Date(5), undefined];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function randomDoc(r: () => number): Record<string, unknown> {
  const doc: Record<string, unknown> = { _id: pick(r, ['x', 'y', 1]) };
  for (const f of ['a', 'b', '_v', 'n']) {
    const v = pick(r, VALUES);
    if (v !== undefined) doc[f] = structuredClone(v);
  }
  return doc;
}

function randomCondition(r: () => number, depth = 0): Record<string, unknown> {
  const field = pick(r, ['a', 'b', '_v', 'n', '_id']);
  const k = Math.floor(r() * 9);
  if (k === 0 && depth < 2) return { [pick(r, ['$or', '$and'])]: [randomCondition(r, depth + 1), randomCondition(r, depth + 1)] };
  if (k === 1) return { [field]: pick(r, SCALARS) };
  if (k === 2) return { [field]: { $exists: r() < 0.5 } };
  if (k === 3) return { [field]: { $in: [pick(r, SCALARS), pick(r, SCALARS)] } };
  if (k === 4) return { [field]: { $ne: pick(r, SCALARS) } };
  if (k === 5) return { [field]: { $eq: pick(r, VALUES.filter((v) => v !== undefined)) } };
  if (k === 6) return { [field]: pick(r, [null, ['a', 1], { x: 1 }]) };
  return { [field]: { [pick(r, ['$lt', '$lte', '$gt', '$gte'])]: pick(r, ['000002', 'a', 1, 0, true, null]) } };
}

describe('embedded read store fast paths agree with mingo', () => {
  it('filters: every answer the fast path gives is mingo\'s (20,000 random filter × document pairs)', () => {
    const r = rng(7);
    let decided = 0;
    for (let i = 0; i < 20_000; i++) {
      const filter = { ...randomCondition(r), ...(r() < 0.5 ? randomCondition(r) : {}) };
      const doc = randomDoc(r);
      const simple = compileSimpleFilter(filter)?.(doc);
      if (simple === undefined) continue;
      decided++;
      assert.equal(simple, new Query(filter, {}).test(doc), `filter ${JSON.stringify(filter)} on ${JSON.stringify(doc)} (pair ${i})`);
    }
    assert.ok(decided > 8_000, `the fast path decided ${decided} of 20,000`);
  });

  it('decides the once-per-event guard of projections on stored documents', () => {
    const guard = { _id: 'run-1', $or: [{ _v: { $lt: '00000000000000000042' } }, { _v: { $exists: false } }] };
    const m = compileSimpleFilter(guard)!;
    assert.ok(m);
    assert.equal(m({ _id: 'run-1', _v: '00000000000000000041', steps: [{ a: 1 }] }), true);
    assert.equal(m({ _id: 'run-1', _v: '00000000000000000042' }), false);
    assert.equal(m({ _id: 'run-1' }), true);
    assert.equal(compileSimpleFilter({ 'a.b': 1 }), undefined, 'dotted paths are mingo\'s');
    assert.equal(compileSimpleFilter({ a: { $regex: 'x' } }), undefined, 'other operators are mingo\'s');
  });

  it('updates: $set/$unset/$inc give mingo\'s document and leave the original untouched (5,000 random updates)', () => {
    const r = rng(11);
    const paths = ['a', 'b', 'c.d', 'c.e', 'c.d.f', 'g.h.i', 'n'];
    let decided = 0;
    for (let i = 0; i < 5_000; i++) {
      const doc = randomDoc(r);
      if (r() < 0.5) doc['c'] = { d: pick(r, [1, 'x', { f: 2 }, [1]]), e: 3 };
      const modifier: Record<string, Record<string, unknown>> = {};
      for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
        const op = pick(r, ['$set', '$unset', '$inc', '$set']);
        const value = op === '$inc' ? pick(r, [1, 0, -2, 0.5]) : op === '$unset' ? '' : structuredClone(pick(r, VALUES.filter((v) => v !== undefined)));
        (modifier[op] ??= {})[pick(r, paths)] = value;
      }
      const before = structuredClone(doc);
      const fast = applySimpleUpdate(doc, modifier);
      if (!fast) continue;
      decided++;
      assert.ok(sameValue(doc, before), 'the stored document is not modified in place');
      const viaMingo = structuredClone(doc);
      let changed: string[];
      try {
        changed = mingoUpdate(viaMingo, structuredClone(modifier) as never, undefined, undefined, { cloneMode: 'deep' });
      } catch (err) {
        assert.fail(`mingo refused an update the fast path applied: ${JSON.stringify(modifier)} on ${JSON.stringify(doc)}: ${(err as Error).message}`);
      }
      assert.ok(sameValue(fast.next, viaMingo), `update ${JSON.stringify(modifier)} on ${JSON.stringify(before)}: fast ${JSON.stringify(fast.next)} mingo ${JSON.stringify(viaMingo)}`);
      assert.equal(fast.changed, changed.length > 0, `changed? ${JSON.stringify(modifier)} on ${JSON.stringify(before)}`);
    }
    assert.ok(decided > 1_500, `the fast path applied ${decided} of 5,000`);
  });
});

describe('cloneValue', () => {
  function randomValue(r: () => number, depth = 0): unknown {
    const k = Math.floor(r() * (depth > 3 ? 6 : 9));
    switch (k) {
      case 0:
        return pick(r, ['', 'a', 'ünï', '__proto__', '0']);
      case 1:
        return Math.floor(r() * 2000) - 1000;
      case 2:
        return r() < 0.5;
      case 3:
        return null;
      case 4:
        return new Date(Math.floor(r() * 2e12));
      case 5:
        return r() * 1e6;
      case 6:
      case 7: {
        const o: Record<string, unknown> = {};
        const n = Math.floor(r() * 5);
        for (let i = 0; i < n; i++) {
          const key = pick(r, ['a', 'b', 'steps', '_id', '__proto__', 'constructor', 'x.y', '0']);
          const v = randomValue(r, depth + 1);
          if (key === '__proto__') Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
          else o[key] = v;
        }
        return o;
      }
      default:
        return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    }
  }

  it('gives what structuredClone gives for 5,000 random documents, sharing nothing with the original', () => {
    for (let seed = 1; seed <= 5_000; seed++) {
      const value = randomValue(rng(seed));
      const copy = cloneValue(value);
      assert.deepStrictEqual(copy, structuredClone(value), `seed ${seed}`);
      // Nothing is shared: every object of the copy is a new one.
      const originals = new Set<object>();
      const walk = (v: unknown, into: (o: object) => void): void => {
        if (v === null || typeof v !== 'object') return;
        into(v);
        for (const c of Object.values(v)) walk(c, into);
      };
      walk(value, (o) => originals.add(o));
      walk(copy, (o) => assert.ok(!originals.has(o), `seed ${seed}: an object is shared`));
    }
  });

  it('keeps a __proto__ field as an own field, never as the prototype', () => {
    const doc = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const copy = cloneValue(doc);
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepEqual(Object.keys(copy), ['__proto__', 'a']);
    assert.equal((copy as { polluted?: boolean }).polluted, undefined);
  });
});
