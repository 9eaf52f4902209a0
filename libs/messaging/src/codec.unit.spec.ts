import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GENESIS_HASH, PatchbayError, type RecordedEvent } from '@patchbay/contracts';
import { decodeEnvelope, decodeEvent, encodeEvent } from './codec.js';
import { subjectMatches, subjectOfEvent } from './bus.js';
import { toPatchbayError } from './errors.js';
import { durableNameFor } from './nest/transport.js';

const enc = new TextEncoder();
const event = (over: Partial<RecordedEvent> = {}): RecordedEvent => ({
  type: 'EndpointRegistered',
  data: { host: 'web1', tags: ['a'] },
  position: 2n ** 60n + 1n,
  metadata: {
    eventId: 'e-1',
    stream: 'endpoint-web1',
    revision: 0,
    correlationId: 'c',
    causationId: 'c',
    actor: 'ops',
    recordedAt: '2026-01-01T00:00:00.000Z',
    schemaVersion: 1,
    prevHash: GENESIS_HASH,
    hash: 'a'.repeat(64),
  },
  ...over,
});

describe('event codec', () => {
  it('round-trips an event, keeping a position beyond 2^53 exact as a bigint', () => {
    const e = event();
    assert.deepEqual(decodeEvent(encodeEvent(e)), e);
  });

  const bad: [string, string][] = [
    ['not JSON', '{"type":'],
    ['not an object', '42'],
    ['position as a number', JSON.stringify({ ...JSON.parse(new TextDecoder().decode(encodeEvent(event()))), position: 5 })],
    ['metadata without hash', JSON.stringify({ type: 'X', data: null, metadata: { ...event().metadata, hash: undefined }, position: '1' })],
    ['negative revision', JSON.stringify({ type: 'X', data: null, metadata: { ...event().metadata, revision: -1 }, position: '1' })],
  ];
  for (const [name, body] of bad) {
    it(`rejects ${name} with VALIDATION_FAILED`, () => {
      assert.throws(() => decodeEvent(enc.encode(body)), { code: 'VALIDATION_FAILED' });
    });
  }
  it('rejects bytes that are not UTF-8', () => {
    assert.throws(() => decodeEvent(new Uint8Array([0xff, 0xfe])), { code: 'VALIDATION_FAILED' });
  });
});

describe('command envelope codec', () => {
  it('accepts a valid envelope', () => {
    assert.deepEqual(decodeEnvelope(enc.encode(JSON.stringify({ commandId: 'c', actor: 'a', payload: { x: 1 } }))), { commandId: 'c', actor: 'a', payload: { x: 1 } });
  });
  for (const body of ['', 'null', '[]', '{"commandId":"","actor":"a"}', '{"commandId":"c"}', JSON.stringify({ commandId: 'c'.repeat(201), actor: 'a' })]) {
    it(`rejects ${JSON.stringify(body).slice(0, 40)} with VALIDATION_FAILED`, () => {
      assert.throws(() => decodeEnvelope(enc.encode(body)), { code: 'VALIDATION_FAILED' });
    });
  }
});

describe('subjects', () => {
  const table: [string, string, boolean][] = [
    ['patchbay.evt.>', 'patchbay.evt.cycle.CycleRequested', true],
    ['patchbay.evt.>', 'patchbay.evt', false],
    ['patchbay.evt.cycle.*', 'patchbay.evt.cycle.CycleRequested', true],
    ['patchbay.evt.cycle.*', 'patchbay.evt.run.StepStarted', false],
    ['patchbay.evt.*.StepStarted', 'patchbay.evt.run.StepStarted', true],
    ['patchbay.evt.cycle.CycleRequested', 'patchbay.evt.cycle.CycleRequested', true],
    ['patchbay.evt.cycle.CycleRequested', 'patchbay.evt.cycle.CycleRequested.x', false],
  ];
  for (const [filter, subject, expected] of table) {
    it(`${filter} ${expected ? 'matches' : 'does not match'} ${subject}`, () => assert.equal(subjectMatches(filter, subject), expected));
  }
  it('puts an event on patchbay.evt.<category>.<type>', () => {
    assert.equal(subjectOfEvent(event({ metadata: { ...event().metadata, stream: 'run-c1.web1' } })), 'patchbay.evt.run.EndpointRegistered');
  });
  it('refuses event types that would break the subject', () => {
    for (const type of ['Bad Type', 'a.*', '>', '']) assert.throws(() => subjectOfEvent(event({ type })), { code: 'VALIDATION_FAILED' });
  });
  it('derives durable names without subject wildcards', () => {
    assert.equal(durableNameFor('planner', 'patchbay.evt.*.StepFailed'), 'planner_patchbay_evt_ANY_StepFailed');
  });
});

describe('toPatchbayError', () => {
  it('keeps a PatchbayError, rebuilds a transported one and hides other errors behind INTERNAL', () => {
    const e = new PatchbayError('X', 'x');
    assert.equal(toPatchbayError(e), e);
    assert.equal(toPatchbayError({ code: 'WRONG_EXPECTED_VERSION', message: 'm' }).code, 'WRONG_EXPECTED_VERSION');
    assert.equal(toPatchbayError(new TypeError('t')).code, 'INTERNAL');
    assert.equal(toPatchbayError(Object.assign(new Error('nats'), { name: 'NatsError', code: '503' })).code, 'INTERNAL');
    assert.equal(toPatchbayError('str').code, 'INTERNAL');
  });
});
