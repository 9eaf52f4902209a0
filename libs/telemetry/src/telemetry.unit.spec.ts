import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { context } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createLogger, currentTraceparent, extractTraceContext, injectTraceContext, startTelemetry, tracesExportRequested, withSpan, type Telemetry } from './index.js';

describe('telemetry', () => {
  const exporter = new InMemorySpanExporter();
  let telemetry: Telemetry;
  before(() => {
    telemetry = startTelemetry({ serviceName: 'telemetry-test', spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  });
  after(() => telemetry.shutdown());

  it('export is off unless the standard OTEL_* variables ask for it', () => {
    assert.equal(tracesExportRequested({}), false);
    assert.equal(tracesExportRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
    assert.equal(tracesExportRequested({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
    assert.equal(tracesExportRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' }), false);
  });

  it('a span continued from a carrier (as across NATS) shares the trace and names its parent', async () => {
    exporter.reset();
    const carrier = await withSpan('command.send', async () => injectTraceContext({}));
    assert.match(carrier['traceparent'] ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await withSpan('command.handle', async () => undefined, { parent: extractTraceContext(carrier) });
    const [send, handle] = exporter.getFinishedSpans();
    assert.ok(send && handle);
    assert.equal(handle.spanContext().traceId, send.spanContext().traceId);
    assert.equal(handle.parentSpanContext?.spanId, send.spanContext().spanId);
  });

  it('failures are recorded on the span and rethrown', async () => {
    exporter.reset();
    await assert.rejects(withSpan('boom', async () => { throw new Error('nope'); }), /nope/);
    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.status.code, 2);
    assert.equal(span?.events[0]?.name, 'exception');
  });

  it('event metadata gets the active traceparent; none outside a span', async () => {
    assert.deepEqual(context.with(context.active(), () => currentTraceparent()), {});
    const tp = await withSpan('append', async () => currentTraceparent());
    assert.match(tp.traceparent ?? '', /^00-/);
  });

  it('log lines are JSON and carry the trace id', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger('svc', { level: 'info', destination });
    const traceId = await withSpan('work', async (span) => { log.info({ step: 'x' }, 'hello'); return span.spanContext().traceId; });
    const line = JSON.parse(lines[0]!);
    assert.equal(line.traceId, traceId);
    assert.equal(line.service, 'svc');
    assert.equal(line.msg, 'hello');
  });

  it('without export the full SDK is never loaded, and trace context is still real; with export it is', () => {
    const script = `
      const t = require(${JSON.stringify(join(__dirname, 'index.js'))});
      const tel = t.startTelemetry({ serviceName: 'probe' });
      t.withSpan('probe', async () => t.currentTraceparent()).then(async (tp) => {
        const sdkLoaded = Object.keys(require.cache).some((k) => k.includes('@opentelemetry/sdk-node'));
        await tel.shutdown();
        process.stderr.write(JSON.stringify({ tp: tp.traceparent, sdkLoaded, exporting: tel.exporting }));
      });`;
    const run = (env: NodeJS.ProcessEnv): { tp: string; sdkLoaded: boolean; exporting: boolean } => {
      const r = spawnSync(process.execPath, ['-e', script], { env: { PATH: process.env['PATH'], ...env }, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stderr) as { tp: string; sdkLoaded: boolean; exporting: boolean };
    };
    const quiet = run({});
    assert.match(quiet.tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.deepEqual([quiet.sdkLoaded, quiet.exporting], [false, false]);
    const exported = run({ OTEL_TRACES_EXPORTER: 'console' });
    assert.match(exported.tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.deepEqual([exported.sdkLoaded, exported.exporting], [true, true]);
  });
});
