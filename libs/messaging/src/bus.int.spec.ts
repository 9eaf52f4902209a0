import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, StringCodec, type NatsConnection } from 'nats';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { NatsServer } from '@patchbay/testing';
import { PatchbayError, type RecordedEvent } from '@patchbay/contracts';
import { DLQ_STREAM, EVENTS_STREAM, NatsBus, dlqSubject, type EventDelivery } from './bus.js';
import { EVENT_HEADERS } from './codec.js';
import { InMemoryAppliedEventLedger, idempotent } from './applied-ledger.js';
import { eventually, newEvent, tempStore } from './spec-fixtures.js';

const sc = StringCodec();
const envelope = (payload: unknown = {}) => ({ commandId: `cmd-${Math.random().toString(36).slice(2)}`, actor: 'spec', payload });

describe('NatsBus against a real nats-server', () => {
  let server: NatsServer;
  let fixture: ReturnType<typeof tempStore>;
  const buses: NatsBus[] = [];
  const open = async (name = 'spec', extra: Partial<Parameters<typeof NatsBus.connect>[0]> = {}) => {
    const bus = await NatsBus.connect({ servers: server.url, name, ...extra });
    buses.push(bus);
    return bus;
  };
  const append = async (stream: string, count: number, type = 'Happened'): Promise<RecordedEvent[]> => {
    for (let i = 0; i < count; i++) await fixture.store.append(stream, [newEvent(type, { i })], 'any');
    return fixture.store.readStream(stream);
  };

  before(() => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  after(() => {
    propagation.disable();
    context.disable();
  });
  beforeEach(async () => {
    server = await NatsServer.start();
    fixture = tempStore();
  });
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close();
    await server.stop();
    await fixture.dispose();
  });

  it('sets up the events and dead-letter streams idempotently, with de-duplication and file storage', async () => {
    const a = await open('a', { duplicateWindowMs: 60_000 });
    await open('b', { duplicateWindowMs: 60_000 });
    const info = await a.streamInfo(EVENTS_STREAM);
    assert.deepEqual(info.config.subjects, ['patchbay.evt.>']);
    assert.equal(info.config.storage, 'file');
    assert.equal(info.config.num_replicas, 1);
    assert.equal(info.config.duplicate_window, 60_000 * 1_000_000);
    assert.deepEqual((await a.streamInfo(DLQ_STREAM)).config.subjects, ['patchbay.dlq.>']);
    // A process with defaults leaves the settings alone; one given a setting enforces it.
    await open('c');
    assert.equal((await a.streamInfo(EVENTS_STREAM)).config.duplicate_window, 60_000 * 1_000_000);
    await open('d', { duplicateWindowMs: 30_000 });
    assert.equal((await a.streamInfo(EVENTS_STREAM)).config.duplicate_window, 30_000 * 1_000_000);
  });

  it('publishes with the event id as message id, so a republish is stored once', async () => {
    const bus = await open();
    const [e] = await append('endpoint-web1', 1, 'EndpointRegistered');
    const first = await bus.publishEvent(e!);
    const again = await bus.publishEvent(e!);
    assert.equal(first.subject, 'patchbay.evt.endpoint.EndpointRegistered');
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true);
    assert.equal(again.streamSequence, first.streamSequence);
    assert.equal((await bus.streamInfo()).state.messages, 1);
  });

  it('delivers decoded events in order with bigint positions and tracing and metadata headers', async () => {
    const bus = await open();
    const events = await append('cycle-7', 5, 'WaveReleased');
    const traced = { ...events[0]!, metadata: { ...events[0]!.metadata, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } };
    await bus.publishEvent(traced);
    for (const e of events.slice(1)) await bus.publishEvent(e);
    const seen: { event: RecordedEvent; delivery: EventDelivery }[] = [];
    const c = await bus.consume('spec_order', 'patchbay.evt.cycle.>', (event, delivery) => {
      seen.push({ event, delivery });
    });
    await eventually('5 events', () => seen.length === 5);
    await c.stop();
    assert.deepEqual(seen.map((s) => s.event.metadata.revision), [0, 1, 2, 3, 4]);
    assert.deepEqual(seen.map((s) => s.event.position), events.map((e) => e.position));
    assert.equal(typeof seen[0]!.event.position, 'bigint');
    const h = seen[0]!.delivery.headers!;
    assert.equal(h.get(EVENT_HEADERS.eventId), events[0]!.metadata.eventId);
    assert.equal(h.get(EVENT_HEADERS.stream), 'cycle-7');
    assert.equal(h.get(EVENT_HEADERS.revision), '0');
    assert.equal(h.get(EVENT_HEADERS.position), events[0]!.position.toString());
    assert.equal(h.get('Nats-Msg-Id'), events[0]!.metadata.eventId);
    // Same trace as the command that caused the event (a new span id, same trace id).
    assert.match(h.get('traceparent'), /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
  });

  it('naks a failing handler and redelivers until it succeeds, keeping the stream order', async () => {
    const bus = await open();
    const events = await append('run-c1.web1', 3, 'StepStarted');
    for (const e of events) await bus.publishEvent(e);
    const attempts = new Map<number, number>();
    const applied: number[] = [];
    const c = await bus.consume(
      'spec_retry',
      'patchbay.evt.run.>',
      (event, delivery) => {
        attempts.set(event.metadata.revision, delivery.deliveryCount);
        if (event.metadata.revision === 1 && delivery.deliveryCount < 3) throw new Error('transient');
        applied.push(event.metadata.revision);
      },
      { maxDeliver: 5, backoff: [50] },
    );
    await eventually('3 applied', () => applied.length === 3);
    await c.stop();
    assert.deepEqual(applied, [0, 1, 2]);
    assert.equal(attempts.get(1), 3);
    assert.equal(attempts.get(0), 1);
  });

  it('dead-letters an event after maxDeliver failed attempts, with the error, and moves on', async () => {
    const bus = await open();
    const events = await append('policy-p1', 2, 'PolicyDefined');
    for (const e of events) await bus.publishEvent(e);
    let calls = 0;
    const applied: number[] = [];
    const c = await bus.consume(
      'spec_dlq',
      'patchbay.evt.policy.>',
      (event) => {
        if (event.metadata.revision === 0) {
          calls++;
          throw new PatchbayError('POLICY_BROKEN', 'cannot apply');
        }
        applied.push(event.metadata.revision);
      },
      { maxDeliver: 3, backoff: [20] },
    );
    await eventually('second event applied', () => applied.length === 1);
    await c.stop();
    assert.equal(calls, 3);
    const dlq = await bus.streamInfo(DLQ_STREAM);
    assert.equal(dlq.state.messages, 1);
    const stored = await bus.manager.streams.getMessage(DLQ_STREAM, { last_by_subj: dlqSubject('spec_dlq') });
    const body = stored.json<{ error: { code: string }; deliveries: number; message: { metadata: { eventId: string } } }>();
    assert.equal(body.error.code, 'POLICY_BROKEN');
    assert.equal(body.deliveries, 3);
    assert.equal(body.message.metadata.eventId, events[0]!.metadata.eventId);
    const info = await bus.manager.consumers.info(EVENTS_STREAM, 'spec_dlq');
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
  });

  it('dead-letters a message that is not a valid event at once with VALIDATION_FAILED, without calling the handler', async () => {
    const bus = await open();
    await bus.jetstream.publish('patchbay.evt.endpoint.Garbage', sc.encode('{not json'));
    await bus.jetstream.publish('patchbay.evt.endpoint.Garbage', sc.encode(JSON.stringify({ type: 'X', data: {}, metadata: { eventId: 'e' }, position: '1' })));
    let calls = 0;
    const c = await bus.consume('spec_poison', 'patchbay.evt.endpoint.>', () => {
      calls++;
    });
    await eventually('two dead letters', async () => (await bus.streamInfo(DLQ_STREAM)).state.messages === 2);
    await c.stop();
    assert.equal(calls, 0);
    const stored = await bus.manager.streams.getMessage(DLQ_STREAM, { seq: 1 });
    assert.equal(stored.json<{ error: { code: string } }>().error.code, 'VALIDATION_FAILED');
  });

  it('a redeploy with other consumer settings updates the durable instead of failing', async () => {
    const bus = await open();
    const first = await bus.consume('spec_redeploy', 'patchbay.evt.cycle.>', () => undefined, { ackWaitMs: 30_000, maxAckPending: 1 });
    await first.stop();
    const second = await bus.consume('spec_redeploy', 'patchbay.evt.cycle.>', () => undefined, { ackWaitMs: 10_000, maxAckPending: 8 });
    await second.stop();
    const info = await bus.manager.consumers.info(EVENTS_STREAM, 'spec_redeploy');
    assert.equal(info.config.ack_wait, 10_000 * 1_000_000);
    assert.equal(info.config.max_ack_pending, 8);
    await assert.rejects(bus.consume('bad.durable', 'patchbay.evt.>', () => undefined), { code: 'VALIDATION_FAILED' });
    await assert.rejects(bus.consume('ok', [], () => undefined), { code: 'VALIDATION_FAILED' });
    await assert.rejects(bus.consume('ok', 'patchbay.evt.>', () => undefined, { maxDeliver: 0 }), { code: 'VALIDATION_FAILED' });
  });

  it('with several filter subjects delivers only matching events', async () => {
    const bus = await open();
    const a = await append('endpoint-a', 1, 'EndpointRegistered');
    const g = await append('group-g', 1, 'GroupDefined');
    const p = await append('policy-p', 1, 'PolicyDefined');
    for (const e of [...a, ...g, ...p]) await bus.publishEvent(e);
    const seen: string[] = [];
    const c = await bus.consume('spec_multi', ['patchbay.evt.endpoint.>', 'patchbay.evt.policy.*'], (e) => {
      seen.push(e.metadata.stream);
    });
    await eventually('consumer drained', async () => (await bus.manager.consumers.info(EVENTS_STREAM, 'spec_multi')).num_pending === 0 && seen.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    await c.stop();
    assert.deepEqual(seen, ['endpoint-a', 'policy-p']);
  });

  it('wants: a message the consumer does not want is acknowledged undecoded, the handler never sees it', async () => {
    const bus = await open();
    let wanted = false;
    const seen: string[] = [];
    const asked: string[] = [];
    const c = await bus.consume('spec_wants', 'patchbay.evt.>', (e) => void seen.push(e.type), {
      maxAckPending: 64,
      wants: (subject) => {
        asked.push(subject);
        return wanted;
      },
    });
    for (const e of await append('endpoint-w', 3, 'Unwanted')) await bus.publishEvent(e);
    await eventually('unwanted ones acked', async () => {
      const info = await bus.manager.consumers.info(EVENTS_STREAM, 'spec_wants');
      return info.num_pending === 0 && info.num_ack_pending === 0 && asked.length === 3;
    });
    wanted = true;
    for (const e of (await append('endpoint-w', 2, 'Wanted')).slice(3)) await bus.publishEvent(e);
    await eventually('wanted ones handled', () => seen.length === 2);
    await c.stop();
    assert.deepEqual(seen, ['Wanted', 'Wanted']);
    assert.deepEqual(asked, [...Array(3).fill('patchbay.evt.endpoint.Unwanted'), ...Array(2).fill('patchbay.evt.endpoint.Wanted')]);
  });

  it('wants: unwanted messages of a burst are acknowledged together, and a stop right after them leaves none unacknowledged', async () => {
    const bus = await open();
    const asked: string[] = [];
    const c = await bus.consume('spec_wants_burst', 'patchbay.evt.endpoint.Burst', () => assert.fail('no message is wanted'), {
      maxAckPending: 64,
      wants: (subject) => {
        asked.push(subject);
        return false;
      },
    });
    const events = await append('endpoint-burst', 200, 'Burst');
    await Promise.all(events.map((e) => bus.publishEvent(e)));
    await eventually('every one looked at', () => asked.length === 200);
    await c.stop();
    await bus.connection.flush();
    const info = await bus.manager.consumers.info(EVENTS_STREAM, 'spec_wants_burst');
    assert.equal(info.num_ack_pending, 0, 'the acks held for the end of the turn were sent by stop');
    assert.equal(info.num_pending, 0);
    assert.equal(info.delivered.consumer_seq, 200, 'each delivered once: none waited for an ack timeout');
  });

  it('concurrency: handlers run side by side, each message acknowledged once when its own handler ends; stop waits for them', async () => {
    const bus = await open();
    await assert.rejects(bus.consume('spec_conc_bad', 'patchbay.evt.>', async () => undefined, { concurrency: 0 }), (e: Error & { code?: string }) => e.code === 'VALIDATION_FAILED');
    let running = 0;
    let most = 0;
    const done: string[] = [];
    const c = await bus.consume(
      'spec_conc',
      'patchbay.evt.endpoint.Slow',
      async (e) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 200));
        running--;
        done.push(e.metadata.eventId);
      },
      { maxAckPending: 64, concurrency: 8 },
    );
    const events = await append('endpoint-c', 24, 'Slow');
    const t = performance.now();
    for (const e of events) await bus.publishEvent(e);
    await eventually('all handled and acked', async () => {
      const info = await bus.manager.consumers.info(EVENTS_STREAM, 'spec_conc');
      return done.length === 24 && info.num_pending === 0 && info.num_ack_pending === 0;
    });
    const ms = performance.now() - t;
    assert.equal(most, 8, 'eight at a time, never more');
    // One after the other this takes 24 × 200 ms = 4.8 s; eight at a time three rounds.
    assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
    assert.deepEqual([...done].sort(), events.map((e) => e.metadata.eventId).sort(), 'each once');
    // stop() waits for handlers in progress.
    for (const e of await append('endpoint-c2', 4, 'Slow')) await bus.publishEvent(e);
    await eventually('handlers started', () => running > 0);
    await c.stop();
    assert.equal(running, 0, 'no handler still running after stop');
  });

  it('an idempotent consumer applies an event republished outside the duplicate window only once', async () => {
    const bus = await open('dedup', { duplicateWindowMs: 200 });
    const events = await append('endpoint-x', 2, 'FactsGathered');
    for (const e of events) await bus.publishEvent(e);
    await new Promise((r) => setTimeout(r, 400));
    const again = await bus.publishEvent(events[0]!);
    assert.equal(again.duplicate, false, 'outside the window JetStream stores it again');
    assert.equal((await bus.streamInfo()).state.messages, 3);
    const ledger = new InMemoryAppliedEventLedger();
    const applied: string[] = [];
    let deliveries = 0;
    const c = await bus.consume(
      'spec_idem',
      'patchbay.evt.endpoint.>',
      async (event, delivery) => {
        deliveries++;
        await idempotent(ledger, 'spec_idem', (e) => {
          applied.push(`${e.metadata.stream}@${e.metadata.revision}`);
        })(event, delivery);
      },
    );
    await eventually('3 deliveries', () => deliveries === 3);
    await c.stop();
    assert.deepEqual(applied, ['endpoint-x@0', 'endpoint-x@1']);
  });

  describe('commands', () => {
    it('returns the result of the handler and carries the trace context both ways', async () => {
      const service = await open('inventory');
      const gateway = await open('gateway', { skipStreamSetup: true });
      let serverTraceId: string | undefined;
      service.serve('patchbay.cmd.inventory.echo', (env, ctx) => {
        serverTraceId = ctx.headers?.get('traceparent').split('-')[1];
        return { echoed: env.payload, actor: env.actor };
      }, { queue: 'inventory' });
      await service.connection.flush();
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parent = trace.setSpanContext(context.active(), { traceId, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true });
      const result = await context.with(parent, () => gateway.request<{ echoed: unknown; actor: string }>('patchbay.cmd.inventory.echo', envelope({ n: 1 })));
      assert.deepEqual(result, { echoed: { n: 1 }, actor: 'spec' });
      assert.equal(serverTraceId, traceId);
    });

    it('rethrows the PatchbayError the service replied with, same code and details', async () => {
      const service = await open('policy');
      service.serve('patchbay.cmd.policy.define', () => {
        throw new PatchbayError('POLICY_INVALID', 'window overlaps', { field: 'windows[1]' });
      });
      const err = await service.request('patchbay.cmd.policy.define', envelope()).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof PatchbayError);
      assert.equal(err.code, 'POLICY_INVALID');
      assert.equal(err.message, 'window overlaps');
      assert.deepEqual(err.details, { field: 'windows[1]' });
      service.serve('patchbay.cmd.policy.crash', () => {
        throw new TypeError('boom');
      });
      await assert.rejects(service.request('patchbay.cmd.policy.crash', envelope()), { code: 'INTERNAL' });
    });

    it('maps a slow service to COMMAND_TIMEOUT and a missing one to SERVICE_UNAVAILABLE', async () => {
      const bus = await open();
      bus.serve('patchbay.cmd.planner.slow', () => new Promise((r) => setTimeout(r, 1000)));
      await assert.rejects(bus.request('patchbay.cmd.planner.slow', envelope(), { timeoutMs: 100 }), { code: 'COMMAND_TIMEOUT', name: 'CommandTimeoutError' });
      await assert.rejects(bus.request('patchbay.cmd.nobody.home', envelope(), { timeoutMs: 1000 }), { code: 'SERVICE_UNAVAILABLE', name: 'ServiceUnavailableError' });
      await assert.rejects(bus.request('patchbay.cmd.planner.slow', { actor: '', commandId: 'x', payload: 1 }), { code: 'VALIDATION_FAILED' });
    });

    it('answers malformed JSON and invalid envelopes with VALIDATION_FAILED and keeps serving', async () => {
      const bus = await open();
      let handled = 0;
      bus.serve('patchbay.cmd.executor.run', () => ++handled);
      const raw: NatsConnection = await connect({ servers: server.url });
      try {
        for (const body of ['{oops', '[]', JSON.stringify({ commandId: 'c1' }), '\u0000\u00ff']) {
          const reply = await raw.request('patchbay.cmd.executor.run', sc.encode(body), { timeout: 2000 });
          const parsed = JSON.parse(sc.decode(reply.data)) as { ok: boolean; error: { code: string } };
          assert.equal(parsed.ok, false);
          assert.equal(parsed.error.code, 'VALIDATION_FAILED');
        }
        const invalidUtf8 = await raw.request('patchbay.cmd.executor.run', new Uint8Array([0xff, 0xfe, 0x7b]), { timeout: 2000 });
        assert.equal(JSON.parse(sc.decode(invalidUtf8.data)).error.code, 'VALIDATION_FAILED');
      } finally {
        await raw.close();
      }
      assert.equal(handled, 0);
      assert.equal(await bus.request('patchbay.cmd.executor.run', envelope()), 1);
    });

    it('shares commands between two replicas in the same queue group', async () => {
      const one = await open('inventory-1');
      const two = await open('inventory-2');
      const caller = await open('gateway');
      const served = { one: 0, two: 0 };
      one.serve('patchbay.cmd.inventory.count', () => ++served.one, { queue: 'inventory' });
      two.serve('patchbay.cmd.inventory.count', () => ++served.two, { queue: 'inventory' });
      await one.connection.flush();
      await two.connection.flush();
      for (let i = 0; i < 60; i++) await caller.request('patchbay.cmd.inventory.count', envelope());
      assert.equal(served.one + served.two, 60, 'each command handled once');
      assert.ok(served.one > 5 && served.two > 5, `both replicas served: ${JSON.stringify(served)}`);
    });

    it('closes promptly even when the server is gone', async () => {
      const bus = await NatsBus.connect({ servers: server.url, name: 'orphan', drainTimeoutMs: 300 });
      await server.kill();
      const t = Date.now();
      await bus.close();
      assert.ok(Date.now() - t < 2000, `closed in ${Date.now() - t} ms`);
      assert.ok(bus.isClosed);
    });

    it('refuses work once closed with BUS_CLOSED', async () => {
      const bus = await NatsBus.connect({ servers: server.url, name: 'closing' });
      await bus.close();
      await assert.rejects(bus.request('patchbay.cmd.x.y', envelope()), { code: 'BUS_CLOSED' });
    });
  });
});
