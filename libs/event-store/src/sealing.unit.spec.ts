import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, computeEventHash, GENESIS_HASH } from '@patchbay/contracts';
import { checkAppend, hashCanonical, seal } from './sealing.js';

const text = fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' });
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

describe('hashCanonical', () => {
  it('equals computeEventHash for arbitrary metadata and data', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            eventId: text,
            stream: text,
            revision: fc.nat(),
            correlationId: text,
            causationId: text,
            actor: text,
            recordedAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            traceparent: fc.constant('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
            tracestate: text,
            schemaVersion: fc.integer({ min: 1, max: 99 }),
            prevHash: hex64,
          },
          { requiredKeys: ['eventId', 'stream', 'revision', 'correlationId', 'causationId', 'actor', 'recordedAt', 'schemaVersion', 'prevHash'] },
        ),
        text,
        fc.jsonValue(),
        (m, type, data) => {
          assert.equal(hashCanonical(m, type, canonicalJson(data)), computeEventHash({ ...m, type, data }));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('seal fills defaults and a hash that computeEventHash accepts', () => {
    const [e] = checkAppend('cycle-1', [{ eventId: 'e1', type: 'Started', data: { b: 2, a: [1] } }], 'no-stream').events;
    const m = seal(e!, 'cycle-1', 0, GENESIS_HASH, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(
      { correlationId: m.correlationId, causationId: m.causationId, actor: m.actor, schemaVersion: m.schemaVersion },
      { correlationId: 'e1', causationId: 'e1', actor: 'system', schemaVersion: 1 },
    );
    const { hash, ...rest } = m;
    assert.equal(hash, computeEventHash({ ...rest, type: 'Started', data: { a: [1], b: 2 } }));
  });
});
