import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execute, parse, validate } from 'graphql';
import { createSchema } from 'graphql-yoga';
import type { RecordedEvent } from '@patchbay/contracts';
import type { GatewayServices } from '../context.js';
import { GATEWAY_TYPE_DEFS } from '../schema.js';
import { scalarResolvers } from '../modules/scalars.js';
import { eventResolvers, SUBSCRIPTION_PAYLOADS } from '../modules/events/resolvers.js';
import { projectionOf } from './projection.js';

/** The gateway's real schema and subscription resolvers (their event sources are not used: results are executed with the event as root value, as a subscription does per event). */
const schema = createSchema({ typeDefs: [...GATEWAY_TYPE_DEFS], resolvers: [scalarResolvers, eventResolvers({} as GatewayServices)] as never });

let pos = 41n;
const event = (over: Partial<RecordedEvent['metadata']> = {}, data: unknown = { cycleId: 'c-1', endpointId: 'web-1', n: 1.5, nested: { list: [1, 'é', null] } }, type = 'StepSucceeded'): RecordedEvent => ({
  type,
  data,
  position: ++pos,
  metadata: { eventId: `e-${pos}`, stream: 'run-c-1.web-1', revision: 3, correlationId: 'corr', causationId: 'cause', actor: 'executor', recordedAt: '2026-11-26T10:00:00.123Z', schemaVersion: 1, prevHash: 'a'.repeat(64), hash: 'b'.repeat(64), ...over },
});
const EVENTS = [
  event(),
  event({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
  event({}, null, 'CycleRequested'),
  event({}, { text: 'quote " backslash \\ newline \n tab \t unicode ✓ \u2028' }),
  event({ revision: 0 }, [1, 2, 3]),
  event({ stream: 'cycle-c-1' }, { endpoints: Array.from({ length: 50 }, (_, i) => ({ endpointId: `sim-${i}`, wave: 0 })) }, 'CyclePlanPartRecorded'),
];

const ALL_FIELDS = 'eventId stream revision position type recordedAt actor correlationId causationId schemaVersion traceparent prevHash hash data';

describe('subscription results projected off the event, as execution gives them', () => {
  const cases: Array<[string, Record<string, unknown>?]> = [
    ['subscription { cycleProgress(cycleId: "c-1") { eventId type stream revision position recordedAt actor data } }'],
    [`subscription { patchEvents { ${ALL_FIELDS} } }`],
    ['subscription Named($c: ID!) { progress: cycleProgress(cycleId: $c) { id: eventId at: recordedAt d: data kind: type } }', { c: 'c-1' }],
    ['subscription($f: PatchEventFilter) { patchEvents(filter: $f) { hash prevHash traceparent } }', { f: { types: ['StepSucceeded'] } }],
  ];
  for (const [query, variableValues] of cases) {
    it(`byte for byte: ${query.slice(0, 70)}`, async () => {
      const document = parse(query);
      assert.deepEqual(validate(schema, document), []);
      const project = projectionOf(schema, document, undefined, SUBSCRIPTION_PAYLOADS);
      assert.ok(project, 'a plain selection of leaf fields is projected');
      for (const e of EVENTS) {
        const executed = await execute({ schema, document, rootValue: e, variableValues });
        assert.equal(executed.errors, undefined);
        assert.equal(JSON.stringify(project(e)), JSON.stringify(executed));
      }
    });
  }

  it('leaves anything else to execution: __typename, fragments, directives, a field twice, another root field, two root fields', () => {
    for (const query of [
      'subscription { cycleProgress(cycleId: "c") { __typename eventId } }',
      'subscription { cycleProgress(cycleId: "c") { ...F } } fragment F on PatchEvent { eventId }',
      'subscription { cycleProgress(cycleId: "c") { ... on PatchEvent { eventId } } }',
      'subscription($x: Boolean!) { cycleProgress(cycleId: "c") { eventId @include(if: $x) } }',
      'subscription($x: Boolean!) { cycleProgress(cycleId: "c") @skip(if: $x) { eventId } }',
      'subscription { cycleProgress(cycleId: "c") { eventId eventId } }',
      'subscription { cycleProgress(cycleId: "c") { eventId } patchEvents { eventId } }',
      'query { __typename }',
    ]) {
      const document = parse(query);
      assert.equal(projectionOf(schema, document, undefined, SUBSCRIPTION_PAYLOADS), undefined, query);
    }
    // A root field not registered as a plain function of the event.
    assert.equal(projectionOf(schema, parse('subscription { cycleProgress(cycleId: "c") { eventId } }'), undefined, {}), undefined);
  });

  it('an event it cannot answer exactly is left to execution (which reports the error)', async () => {
    const document = parse('subscription { cycleProgress(cycleId: "c-1") { eventId actor } }');
    const project = projectionOf(schema, document, undefined, SUBSCRIPTION_PAYLOADS)!;
    const broken = event({ actor: undefined as unknown as string });
    assert.equal(project(broken), undefined);
    const executed = await execute({ schema, document, rootValue: broken });
    assert.ok(executed.errors?.length, 'execution reports the missing non-null field');
  });
});
