import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer, startOtlpReceiver, type OtlpReceiver, type ReceivedPoint as Received } from '@patchbay/testing';
import { RUN_RESULTS_DURABLE } from './planner.js';

describe('the planner process exports metrics over OTLP/HTTP JSON and logs JSON', () => {
  let nats: NatsServer;
  let dir: string;
  let receiver: OtlpReceiver;
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
    await receiver.close();
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
