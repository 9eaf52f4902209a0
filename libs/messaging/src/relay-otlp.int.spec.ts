import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { freePort, NatsServer } from '@patchbay/testing';
import { eventually, newEvent, tempStore } from './spec-fixtures.js';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; doubleValue?: number };
}
interface OtlpPoint {
  attributes?: OtlpAttribute[];
  asInt?: string | number;
  asDouble?: number;
  timeUnixNano: string;
}
interface OtlpMetric {
  name: string;
  unit?: string;
  gauge?: { dataPoints: OtlpPoint[] };
  sum?: { dataPoints: OtlpPoint[] };
  histogram?: { dataPoints: OtlpPoint[] };
}
/** One exported point, flattened: which process, which metric, which value. */
interface Received {
  service: string;
  scope: string;
  name: string;
  unit: string;
  value: number;
  attributes: Record<string, string>;
}

/** A minimal OTLP/HTTP JSON receiver: what a collector would get from the relay process. */
async function startOtlpReceiver(): Promise<{ server: Server; port: number; points: Received[]; paths: Set<string> }> {
  const points: Received[] = [];
  const paths = new Set<string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      paths.add(req.url ?? '');
      if (req.url === '/v1/metrics') {
        const doc = JSON.parse(body) as { resourceMetrics: Array<{ resource: { attributes: OtlpAttribute[] }; scopeMetrics: Array<{ scope: { name: string }; metrics: OtlpMetric[] }> }> };
        for (const rm of doc.resourceMetrics) {
          const service = rm.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const sm of rm.scopeMetrics)
            for (const m of sm.metrics)
              for (const p of (m.gauge ?? m.sum ?? m.histogram)?.dataPoints ?? [])
                points.push({
                  service,
                  scope: sm.scope.name,
                  name: m.name,
                  unit: m.unit ?? '',
                  value: Number(p.asInt ?? p.asDouble ?? NaN),
                  attributes: Object.fromEntries((p.attributes ?? []).map((a) => [a.key, String(a.value.stringValue ?? a.value.intValue ?? a.value.doubleValue)])),
                });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port, points, paths };
}

describe('the relay process exports its lag over OTLP/HTTP JSON', () => {
  let nats: NatsServer;
  let fixture: ReturnType<typeof tempStore>;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
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
    await new Promise((r) => receiver.server.close(r));
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
