import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CollectingMetricReader, METRIC, startTelemetry, type Telemetry } from '@patchbay/telemetry';
import { NatsServer } from '@patchbay/testing';
import { NatsBus } from './bus.js';
import { EventRelay } from './relay.js';
import { eventually, newEvent, tempStore } from './spec-fixtures.js';

describe('messaging metrics (real nats-server, real SQLite store)', () => {
  const reader = new CollectingMetricReader();
  let telemetry: Telemetry;
  let server: NatsServer;
  let fixture: ReturnType<typeof tempStore>;
  let bus: NatsBus;
  let relay: EventRelay;

  const value = async (name: string, attr: string, key: string): Promise<number | undefined> =>
    (await reader.points(name)).find((p) => p.attributes[attr] === key)?.value;

  before(async () => {
    telemetry = startTelemetry({ serviceName: 'messaging-metrics', metricReaders: [reader] });
    server = await NatsServer.start();
    fixture = tempStore();
    bus = await NatsBus.connect({ servers: server.url, name: 'metrics-spec', requestTimeoutMs: 1000, publishTimeoutMs: 1000, drainTimeoutMs: 500 });
    relay = new EventRelay({ store: fixture.store, bus, checkpointName: 'relay-metrics', pollIntervalMs: 10, retryMinMs: 50, retryMaxMs: 200 });
  });
  after(async () => {
    await relay?.stop();
    await bus?.close();
    await server?.stop();
    await fixture?.dispose();
    await telemetry?.shutdown();
  });

  it('relay lag: events after the checkpoint and the age of the oldest, back to zero once relayed', async () => {
    relay.start();
    const first = await fixture.store.append('endpoint-m1', [newEvent('EndpointRegistered', { n: 0 })], 'no-stream');
    await relay.waitFor(first.position);
    await eventually('lag 0 while caught up', async () => (await value(METRIC.relayLag, 'patchbay.relay.name', 'relay-metrics')) === 0);

    // With JetStream gone the relay cannot publish: the appended events wait in the store.
    await server.kill();
    const appendedAt = Date.now();
    await fixture.store.append('endpoint-m1', [1, 2, 3].map((n) => newEvent('EndpointUpdated', { n })), 0);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await value(METRIC.relayLag, 'patchbay.relay.name', 'relay-metrics'), 3);
    const age = (await value(METRIC.relayLagAge, 'patchbay.relay.name', 'relay-metrics')) ?? -1;
    assert.ok(age >= 1 && age <= (Date.now() - appendedAt) / 1000 + 0.5, `oldest unrelayed event is ${age} s old`);

    await server.restart();
    await eventually('relay caught up after the restart', async () => (await value(METRIC.relayLag, 'patchbay.relay.name', 'relay-metrics')) === 0, 20_000);
    assert.equal(await value(METRIC.relayLagAge, 'patchbay.relay.name', 'relay-metrics'), 0);
  });

  it('consumer lag: num_pending + num_ack_pending of each durable, drained to zero', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let handled = 0;
    const consumer = await bus.consume('metrics_spec_slow', 'patchbay.evt.endpoint.>', async () => {
      await held;
      handled++;
    });
    try {
      const before = relay.stats.published;
      const r = await fixture.store.append('endpoint-m2', [1, 2, 3, 4, 5].map((n) => newEvent('EndpointUpdated', { n })), 'no-stream');
      await relay.waitFor(r.position);
      assert.equal(relay.stats.published - before, 5);
      // 4 earlier events of the first test are on the stream too: 9 for a new durable, 1 held in the handler.
      await eventually('9 messages behind', async () => (await value(METRIC.consumerLag, 'messaging.consumer.group.name', 'metrics_spec_slow')) === 9);
      release();
      await eventually('all handled', () => handled === 9);
      await eventually('lag 0', async () => (await value(METRIC.consumerLag, 'messaging.consumer.group.name', 'metrics_spec_slow')) === 0);
    } finally {
      release();
      await consumer.stop();
    }
  });
});
