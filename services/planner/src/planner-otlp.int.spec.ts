import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, NatsServer } from '@patchbay/testing';
import { RUN_RESULTS_DURABLE } from './planner.js';

interface Received {
  service: string;
  name: string;
  unit: string;
  value: number;
  attributes: Record<string, string>;
}

/** A minimal OTLP/HTTP JSON receiver for metrics: what a collector would get from the planner process. */
async function startOtlpReceiver(): Promise<{ server: Server; port: number; points: Received[] }> {
  type Attr = { key: string; value: { stringValue?: string; intValue?: string | number; doubleValue?: number } };
  type Point = { attributes?: Attr[]; asInt?: string | number; asDouble?: number };
  const points: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/metrics') {
        const doc = JSON.parse(body) as { resourceMetrics: Array<{ resource: { attributes: Attr[] }; scopeMetrics: Array<{ metrics: Array<{ name: string; unit?: string; gauge?: { dataPoints: Point[] }; sum?: { dataPoints: Point[] } }> }> }> };
        for (const rm of doc.resourceMetrics) {
          const service = rm.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const sm of rm.scopeMetrics)
            for (const m of sm.metrics)
              for (const p of (m.gauge ?? m.sum)?.dataPoints ?? [])
                points.push({ service, name: m.name, unit: m.unit ?? '', value: Number(p.asInt ?? p.asDouble), attributes: Object.fromEntries((p.attributes ?? []).map((a) => [a.key, String(a.value.stringValue ?? a.value.intValue ?? a.value.doubleValue)])) });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port, points };
}

describe('the planner process exports metrics over OTLP/HTTP JSON and logs JSON', () => {
  let nats: NatsServer;
  let dir: string;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let planner: ChildProcess;
  const lines: string[] = [];

  before(async () => {
    nats = await NatsServer.start();
    dir = mkdtempSync(join(tmpdir(), 'patchbay-planner-otlp-'));
    receiver = await startOtlpReceiver();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('OTEL_')) delete env[k];
    planner = spawn(process.execPath, [join(__dirname, 'main.js')], {
      env: {
        ...env,
        NATS_URL: nats.url,
        EVENTSTORE_SQLITE_PATH: join(dir, 'events.db'),
        PATCHBAY_DATA_DIR: dir,
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_METRIC_EXPORT_TIMEOUT: '200',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let rest = '';
    planner.stdout!.on('data', (d: Buffer) => {
      const parts = (rest + d.toString()).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
    });
  });

  after(async () => {
    if (planner && planner.exitCode === null && planner.signalCode === null) {
      const gone = new Promise((r) => planner.once('exit', r));
      planner.kill('SIGKILL');
      await gone;
    }
    await nats?.stop();
    await new Promise((r) => receiver.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('patchbay.consumer.lag of its run-results durable reaches the collector; log lines are JSON; SIGTERM exits 0', async () => {
    const until = Date.now() + 30_000;
    let lag: Received | undefined;
    while (!lag && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      lag = receiver.points.find((p) => p.name === 'patchbay.consumer.lag' && p.attributes['messaging.consumer.group.name'] === RUN_RESULTS_DURABLE);
    }
    assert.ok(lag, `the planner exported patchbay.consumer.lag (got: ${[...new Set(receiver.points.map((p) => p.name))].join(', ') || 'nothing'})`);
    assert.equal(lag.service, 'patchbay-planner');
    assert.equal(lag.unit, '{message}');
    assert.equal(lag.value, 0, 'nothing pending on a fresh stream');
    assert.ok(lines.length > 0, 'the planner logged');
    for (const line of lines) {
      const entry = JSON.parse(line) as { service?: string; level?: number; time?: string };
      assert.equal(entry.service, 'planner');
      assert.match(entry.time ?? '', /^\d{4}-\d\d-\d\dT/);
    }
    const exited = new Promise<number | null>((r) => planner.once('exit', (code) => r(code)));
    planner.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
