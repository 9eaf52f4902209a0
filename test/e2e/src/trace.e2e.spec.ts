import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { commandSubject, HEALTH_COMMAND } from '@patchbay/contracts';
import { NatsBus } from '@patchbay/messaging';
import { startTelemetry, withSpan, type Telemetry } from '@patchbay/telemetry';
import { freePort, NatsServer } from '@patchbay/testing';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** A minimal OTLP/HTTP JSON receiver: what a collector would get from a service process. */
async function startOtlpReceiver(): Promise<{ server: Server; port: number; spans: Array<OtlpSpan & { service: string }> }> {
  const spans: Array<OtlpSpan & { service: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
        for (const rs of doc.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port, spans };
}

describe('one trace across services', () => {
  let nats: NatsServer;
  let service: ChildProcess;
  let bus: NatsBus;
  let telemetry: Telemetry;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  const exporter = new InMemorySpanExporter();
  const dataDir = mkdtempSync(join(tmpdir(), 'patchbay-trace-'));

  before(async () => {
    telemetry = startTelemetry({ serviceName: 'trace-test-caller', spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    nats = await NatsServer.start();
    receiver = await startOtlpReceiver();
    service = spawn(process.execPath, [require.resolve('@patchbay/inventory/dist/main.js')], {
      env: {
        ...process.env,
        NATS_URL: nats.url,
        PATCHBAY_DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
      stdio: 'ignore',
    });
    bus = await NatsBus.connect({ servers: nats.url, name: 'trace-test' });
  });

  after(async () => {
    await bus?.close();
    if (service && service.exitCode === null) {
      const gone = new Promise((r) => service.once('exit', r));
      service.kill('SIGTERM');
      await gone;
    }
    await nats?.stop();
    await new Promise((r) => receiver.server.close(r));
    await telemetry.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("a command's span here and its handler's span in the service process share one trace (exported over OTLP)", async () => {
    const ask = () => bus.request(commandSubject('inventory', HEALTH_COMMAND), { commandId: randomUUID(), actor: 'test', payload: {} }, { timeoutMs: 2000 });
    for (let i = 0; ; i++) {
      try {
        await ask();
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    exporter.reset();
    const traceId = await withSpan('operator asks for health', async (span) => {
      await ask();
      return span.spanContext().traceId;
    });
    const ours = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    assert.ok(ours.length >= 2, 'the caller recorded its own span and the send span');
    let remote: Array<OtlpSpan & { service: string }> = [];
    for (let i = 0; i < 100 && remote.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      remote = receiver.spans.filter((s) => s.traceId === traceId && s.service === 'patchbay-inventory');
    }
    assert.ok(remote.length > 0, `the inventory process exported a span of trace ${traceId}`);
    const ourIds = new Set(ours.map((s) => s.spanContext().spanId));
    assert.ok(remote.some((s) => s.parentSpanId && ourIds.has(s.parentSpanId)), 'the handler span is a child of a span in the caller');
    assert.ok(receiver.spans.every((s) => s.service === 'patchbay-inventory'), 'only the service exports to the collector');
  });
});
