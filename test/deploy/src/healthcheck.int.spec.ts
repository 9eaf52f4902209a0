import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer, freePort } from '@patchbay/testing';
import { DEPLOY_DIR, REPO_ROOT, run } from './repo.js';

const HEALTHCHECK = join(DEPLOY_DIR, 'healthcheck.mjs');

/** Runs deploy/healthcheck.mjs as the image does and returns its exit status and JSON line. */
function healthcheck(args: string[], env: NodeJS.ProcessEnv): { status: number | null; report: Record<string, unknown> | undefined; stderr: string } {
  const r = run([process.execPath, HEALTHCHECK, ...args], { env: { PATH: process.env['PATH'], HEALTHCHECK_TIMEOUT_MS: '2000', ...env }, timeoutMs: 20_000 });
  let report: Record<string, unknown> | undefined;
  try {
    report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  } catch {
    report = undefined;
  }
  return { status: r.status, report, stderr: r.stderr };
}

/** The same, without blocking this process (needed when the server being checked runs in it). */
function healthcheckAsync(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; report: Record<string, unknown> | undefined }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [HEALTHCHECK, ...args],
      { env: { PATH: process.env['PATH'], HEALTHCHECK_TIMEOUT_MS: '2000', ...env }, timeout: 20_000 },
      (err, stdout) => {
        let report: Record<string, unknown> | undefined;
        try {
          report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
        } catch {
          report = undefined;
        }
        resolve({ status: err ? ((err as { code?: number }).code ?? null) : 0, report });
      },
    );
  });
}

describe('deploy/healthcheck.mjs against a real nats-server and a real inventory service', () => {
  let nats: NatsServer;
  let service: ChildProcess | undefined;
  let dataDir: string;
  let gatewayStub: Server | undefined;

  before(async () => {
    nats = await NatsServer.start();
    dataDir = mkdtempSync(join(tmpdir(), 'patchbay-healthcheck-'));
    service = spawn(process.execPath, [join(REPO_ROOT, 'services/inventory/dist/main.js')], {
      env: { PATH: process.env['PATH'], NATS_URL: nats.url, PATCHBAY_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PATCHBAY_INVENTORY_FACTS_INTERVAL_S: '0' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // Ready once the health command is answered (the same check the container runs).
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (healthcheck(['service', 'inventory'], { NATS_URL: nats.url }).status === 0) break;
      if (Date.now() > deadline || service.exitCode !== null) throw new Error('inventory service did not answer its health command within 30 s');
      await new Promise((r) => setTimeout(r, 300));
    }
  });

  after(async () => {
    if (service && service.exitCode === null) {
      const exited = new Promise((r) => service!.once('exit', r));
      service.kill('SIGTERM');
      await exited;
    }
    await new Promise<void>((r) => (gatewayStub ? gatewayStub.close(() => r()) : r()));
    await nats.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits 0 when the service answers its health command ok', () => {
    const r = healthcheck(['service', 'inventory', '--require-ok'], { NATS_URL: nats.url });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.report?.['healthy'], true);
    assert.equal(r.report?.['status'], 'ok');
  });

  it('exits 1 when no instance of the service answers', () => {
    const r = healthcheck(['service', 'planner'], { NATS_URL: nats.url });
    assert.equal(r.status, 1);
    assert.equal(r.report?.['healthy'], false);
  });

  it('exits 0 for the relay once the event stream exists', () => {
    const r = healthcheck(['relay'], { NATS_URL: nats.url });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.report?.['stream'], 'PATCHBAY_EVENTS');
  });

  it('exits 1 when NATS cannot be reached', async () => {
    const unused = await freePort();
    const r = healthcheck(['service', 'inventory'], { NATS_URL: `nats://127.0.0.1:${unused}` });
    assert.equal(r.status, 1);
    assert.equal(r.report?.['healthy'], false);
  });

  it('checks the gateway on its own port: healthy on a health answer, unhealthy when degraded only with --require-ok, and when nothing listens', async () => {
    const port = await freePort();
    let status = 'degraded';
    // A stand-in that answers the health query as the gateway does; the real gateway is covered by
    // its own tests, this pins down how the check reads the answer.
    gatewayStub = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const ok = req.method === 'POST' && req.url === '/graphql' && /health/.test((JSON.parse(body) as { query: string }).query);
        res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
        res.end(JSON.stringify(ok ? { data: { health: { status, services: [] } } } : { errors: [{ message: 'bad request' }] }));
      });
    });
    await new Promise<void>((r) => gatewayStub!.listen(port, '127.0.0.1', () => r()));
    assert.equal((await healthcheckAsync(['gateway'], { GATEWAY_PORT: String(port) })).status, 0);
    assert.equal((await healthcheckAsync(['gateway', '--require-ok'], { GATEWAY_PORT: String(port) })).status, 1);
    status = 'ok';
    const healthy = await healthcheckAsync(['gateway', '--require-ok'], { GATEWAY_PORT: String(port) });
    assert.equal(healthy.status, 0);
    assert.equal(healthy.report?.['status'], 'ok');
    await new Promise<void>((r) => gatewayStub!.close(() => r()));
    gatewayStub = undefined;
    const down = healthcheck(['gateway'], { GATEWAY_PORT: String(port) });
    assert.equal(down.status, 1);
    assert.equal(down.report?.['healthy'], false);
  });

  it('checks the real gateway: alive while services are missing, not ok with --require-ok', async () => {
    const port = await freePort();
    const gateway = spawn(process.execPath, [join(REPO_ROOT, 'gateway/dist/main.js')], {
      env: {
        PATH: process.env['PATH'],
        NATS_URL: nats.url,
        PATCHBAY_DATA_DIR: dataDir,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(port),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const exited = new Promise((r) => gateway.once('exit', r));
    try {
      let last: Awaited<ReturnType<typeof healthcheckAsync>> | undefined;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && gateway.exitCode === null) {
        last = await healthcheckAsync(['gateway'], { GATEWAY_PORT: String(port) });
        if (last.status === 0) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.equal(last?.status, 0, `gateway never answered its health query: ${JSON.stringify(last?.report)}`);
      // Only inventory runs: the gateway answers, the stack is not ok.
      const services = last!.report?.['services'] as Array<{ service: string; status: string }>;
      assert.equal(services.find((s) => s.service === 'inventory')?.status, 'ok');
      assert.equal(services.find((s) => s.service === 'planner')?.status, 'unreachable');
      assert.equal((await healthcheckAsync(['gateway', '--require-ok'], { GATEWAY_PORT: String(port) })).status, 1);
    } finally {
      if (gateway.exitCode === null) gateway.kill('SIGTERM');
      await exited;
    }
  });

  it('exits 2 with a usage line on bad arguments', () => {
    const unknownKind = healthcheck(['database'], { NATS_URL: nats.url });
    assert.equal(unknownKind.status, 2);
    assert.match(unknownKind.stderr, /usage: healthcheck\.mjs service/);
    assert.equal(healthcheck(['service', 'billing'], { NATS_URL: nats.url }).status, 2);
    assert.equal(healthcheck(['service', 'inventory'], {}).status, 2, 'NATS_URL missing');
  });
});
