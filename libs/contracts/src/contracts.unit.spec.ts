import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { z } from 'zod';
import { canonicalJson, computeEventHash, defineEvent, GENESIS_HASH, toCycleStreamName, toRunStreamName, categoryOf, ValidationError, verifyChain, type RecordedEvent } from './index.js';

function chain(stream: string, datas: unknown[]): RecordedEvent[] {
  let prev = GENESIS_HASH;
  return datas.map((data, revision) => {
    const base = { eventId: `e${revision}`, stream, revision, correlationId: 'c', causationId: 'c', actor: 'test', recordedAt: '2026-01-01T00:00:00.000Z', schemaVersion: 1, prevHash: prev, type: 'Thing', data };
    const hash = computeEventHash(base);
    prev = hash;
    const { type, data: d, ...meta } = base;
    return { type, data: d, metadata: { ...meta, hash }, position: BigInt(revision + 1) };
  });
}

describe('canonical JSON', () => {
  it('is independent of key order and drops undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null }, u: undefined }), '{"a":{"c":null,"d":[1,"x"]},"b":1}');
  });
  it('round-trips through JSON.parse to an equal value for any JSON value', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const text = canonicalJson(v);
      assert.equal(canonicalJson(JSON.parse(text)), text);
    }));
  });
  it('refuses values JSON cannot carry faithfully', () => {
    assert.throws(() => canonicalJson({ n: Number.NaN }), /non-finite/);
    assert.throws(() => canonicalJson({ n: 1n }), /bigint/);
  });
});

describe('hash chain', () => {
  const events = chain('cycle-1', [{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }]);
  it('verifies an intact stream', () => {
    const v = verifyChain('cycle-1', events);
    assert.equal(v.ok, true);
  });
  it('finds an edited event', () => {
    const edited = events.map((e, i) => (i === 2 ? { ...e, data: { a: 99 } } : e));
    const v = verifyChain('cycle-1', edited);
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.brokenAt, 2);
    assert.match(!v.ok ? v.reason : '', /edited/);
  });
  it('finds a deleted event', () => {
    const v = verifyChain('cycle-1', [events[0]!, events[2]!, events[3]!]);
    assert.equal(!v.ok && v.brokenAt, 1);
  });
  it('finds reordered events', () => {
    const v = verifyChain('cycle-1', [events[0]!, events[2]!, events[1]!, events[3]!]);
    assert.equal(!v.ok && v.brokenAt, 1);
  });
  it('finds a re-hashed edit (the next link no longer matches)', () => {
    const e1 = events[1]!;
    const { hash: _old, ...meta } = e1.metadata;
    const data = { a: 42 };
    const forged = { ...e1, data, metadata: { ...meta, hash: computeEventHash({ ...meta, type: e1.type, data }) } };
    const v = verifyChain('cycle-1', [events[0]!, forged, events[2]!, events[3]!]);
    assert.equal(!v.ok && v.brokenAt, 2);
  });
});

describe('event definitions and stream names', () => {
  const Requested = defineEvent('CycleRequested', 1, z.object({ cycleId: z.string(), kind: z.enum(['manual', 'emergency']) }));
  it('parses valid data and rejects invalid data with a stable code', () => {
    assert.deepEqual(Requested.parse({ cycleId: 'c1', kind: 'manual' }), { cycleId: 'c1', kind: 'manual' });
    assert.throws(() => Requested.parse({ cycleId: 1 }), (e: unknown) => e instanceof ValidationError && e.code === 'VALIDATION_FAILED');
  });
  it('builds stream names from one helper and refuses unsafe ids', () => {
    assert.equal(toCycleStreamName('42'), 'cycle-42');
    assert.equal(toRunStreamName('42', 'web01'), 'run-42.web01');
    assert.equal(categoryOf('run-42.web01'), 'run');
    assert.throws(() => toCycleStreamName('a b'), /invalid stream id/);
    assert.throws(() => toCycleStreamName(''), /invalid stream id/);
  });
});

describe('event type names', () => {
  it('are subject-safe: a name with a dot, space or wildcard is refused at definition', () => {
    for (const bad of ['Cycle.Requested', 'Cycle Requested', 'Cycle*', 'Cycle>', '', '1Cycle']) {
      assert.throws(() => defineEvent(bad, 1, z.object({})), (e: unknown) => e instanceof ValidationError && e.code === 'VALIDATION_FAILED', bad);
    }
    assert.doesNotThrow(() => defineEvent('Step_Started-v2', 1, z.object({})));
  });
});
