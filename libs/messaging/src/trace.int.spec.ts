import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { NatsServer } from '@patchbay/testing';
import { PatchbayError } from '@patchbay/contracts';
import { NatsBus } from './bus.js';
import { eventually, newEvent, tempStore } from './spec-fixtures.js';

describe('spans and trace context with a real OpenTelemetry SDK', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let server: NatsServer;
  let fixture: ReturnType<typeof tempStore>;
  let bus: NatsBus;

  before(async () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    server = await NatsServer.start();
    fixture = tempStore();
    bus = await NatsBus.connect({ servers: server.url, name: 'traced' });
  });
  after(async () => {
    await bus.close();
    await server.stop();
    await fixture.dispose();
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  const span = (name: string): ReadableSpan => {
    const s = exporter.getFinishedSpans().find((x) => x.name === name);
    assert.ok(s, `span ${name} among ${exporter.getFinishedSpans().map((x) => x.name).join(', ')}`);
    return s;
  };

  it('one trace from the command through the stored event, its publish and its handling', async () => {
    const root = trace.getTracer('spec').startSpan('command planner.request-cycle');
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), root), carrier);
    root.end();
    await fixture.store.append('cycle-9', [{ ...newEvent('CycleRequested', {}), traceparent: carrier['traceparent'] }], 'no-stream');
    const [event] = await fixture.store.readAll();
    await bus.publishEvent(event!);
    let handled = false;
    const c = await bus.consume('spec_traced', 'patchbay.evt.cycle.>', () => {
      handled = true;
    });
    await eventually('handled', () => handled);
    await c.stop();
    const traceId = root.spanContext().traceId;
    const publish = span('publish patchbay.evt.cycle.CycleRequested');
    const handle = span('handle patchbay.evt.cycle.CycleRequested');
    assert.equal(publish.kind, SpanKind.PRODUCER);
    assert.equal(handle.kind, SpanKind.CONSUMER);
    assert.equal(publish.spanContext().traceId, traceId);
    assert.equal(publish.parentSpanContext?.spanId, root.spanContext().spanId);
    assert.equal(handle.spanContext().traceId, traceId);
    assert.equal(handle.parentSpanContext?.spanId, publish.spanContext().spanId);
    assert.equal(handle.attributes['messaging.message.id'], event!.metadata.eventId);
  });

  it('a command: send (client) is the parent of handle (server), and a failure is recorded with its code', async () => {
    bus.serve('patchbay.cmd.executor.fail', () => {
      throw new PatchbayError('STEP_REFUSED', 'no');
    });
    exporter.reset();
    await assert.rejects(bus.request('patchbay.cmd.executor.fail', { commandId: 'c', actor: 'a', payload: {} }), { code: 'STEP_REFUSED' });
    await eventually('server span ended', () => exporter.getFinishedSpans().length >= 2);
    const send = span('send patchbay.cmd.executor.fail');
    const handle = span('handle patchbay.cmd.executor.fail');
    assert.equal(send.kind, SpanKind.CLIENT);
    assert.equal(handle.kind, SpanKind.SERVER);
    assert.equal(handle.parentSpanContext?.spanId, send.spanContext().spanId);
    assert.equal(handle.status.code, SpanStatusCode.ERROR);
    assert.equal(handle.attributes['patchbay.error_code'], 'STEP_REFUSED');
    assert.equal(send.attributes['patchbay.error_code'], 'STEP_REFUSED');
  });
});
