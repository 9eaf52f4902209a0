import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { NatsServer, startOtlpReceiver, type OtlpReceiver, type ReceivedPoint as Received } from '@patchbay/testing';
import { eventually, newEvent, tempStore } from './spec-fixtures.js';

describe('the relay process exports its lag over OTLP/HTTP JSON', () => {
  let nats: NatsServer;
  let fixture: ReturnType<typeof tempStore>;
  let receiver: OtlpReceiver;
  let relay: ChildProcess;

  before(async () => {
    nats = await NatsServer.start();
    fixture = tempStore();
    receiver = await startOtlpReceiver();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('OTEL_')) delete env[k];
    relay = spawn(process.execPath, [join(__dirname, 'relay-main.js'), '--store', fixture.path, '--nats', nats.url, '--name', 'relay-otlp'], {
      env: {
        ...env,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_METRIC_EXPORT_TIMEOUT: '200',
      },
      stdio: 'ignore',
    });
  });

  after(async () => {
    if (relay && relay.exitCode === null && relay.signalCode === null) {
      const gone = new Promise((r) => relay.once('exit', r));
      relay.kill('SIGKILL');
      await gone;
    }
    await nats?.stop();
    await receiver.close();
    await fixture?.dispose();
  });

  const latest = (name: string): Received | undefined => receiver.points.filter((p) => p.name === name && p.attributes['patchbay.relay.name'] === 'relay-otlp').at(-1);

  it('patchbay.relay.lag and patchbay.relay.oldest_unrelayed.age reach the collector, rise while JetStream is down and fall back to 0', async () => {
    await fixture.store.append('endpoint-otlp', [newEvent('EndpointRegistered', { n: 0 })], 'no-stream');
    await eventually('a first lag point of 0 from the relay process', () => latest('patchbay.relay.lag')?.value === 0, 20_000);
    const lag = latest('patchbay.relay.lag')!;
    assert.equal(lag.service, 'patchbay-relay');
    assert.equal(lag.scope, '@patchbay/telemetry');
    assert.equal(lag.unit, '{event}');
    assert.equal(latest('patchbay.relay.oldest_unrelayed.age')?.unit, 's');

    await nats.kill();
    await fixture.store.append('endpoint-otlp', [1, 2, 3, 4].map((n) => newEvent('EndpointUpdated', { n })), 0);
    await eventually('4 events behind, exported', () => latest('patchbay.relay.lag')?.value === 4, 10_000);
    await eventually('the oldest unrelayed event ages', () => (latest('patchbay.relay.oldest_unrelayed.age')?.value ?? 0) >= 0.5, 10_000);

    await nats.restart();
    await eventually('caught up again, exported', () => latest('patchbay.relay.lag')?.value === 0 && latest('patchbay.relay.oldest_unrelayed.age')?.value === 0, 20_000);
    assert.ok(receiver.points.every((p) => p.service === 'patchbay-relay'), 'only the relay exports here');

    const exited = new Promise<number | null>((r) => relay.once('exit', (code) => r(code)));
    relay.kill('SIGTERM');
    assert.equal(await exited, 0, 'a stop with the collector still reachable exits cleanly');
  });
});
