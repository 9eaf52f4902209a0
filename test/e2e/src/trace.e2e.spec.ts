import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { commandSubject, HEALTH_COMMAND } from '@patchbay/contracts';
import { NatsBus } from '@patchbay/messaging';
import { startTelemetry, withSpan, type Telemetry } from '@patchbay/telemetry';
import { NatsServer, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '@patchbay/testing';

describe('one trace across services', () => {
  let nats: NatsServer;
  let service: ChildProcess;
  let bus: NatsBus;
  let telemetry: Telemetry;
  let receiver: OtlpReceiver;
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
    await receiver.close();
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
    let remote: ReceivedSpan[] = [];
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
