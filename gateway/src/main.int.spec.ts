import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer } from '@patchbay/testing';
import { gql } from './spec-fixtures.js';

/** Runs `patchbay-gateway` until it prints its URL; returns the URL and what it wrote on stderr. */
async function runGateway(env: NodeJS.ProcessEnv): Promise<{ url: string; stderr: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [join(__dirname, 'main.js')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 20 s: ${stderr}`)), 20_000);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      const line = stdout.split('\n').find((l) => l.includes('"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  return {
    url,
    get stderr() {
      return stderr;
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

describe('patchbay-gateway process: the bootstrap admin token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-gateway-main-'));
  let nats: NatsServer | undefined;
  after(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('first start prints an admin token once (stderr); it works; a restart prints nothing; bad config exits 2', async () => {
    nats = await NatsServer.start();
    const env = { NATS_URL: nats.url, PATCHBAY_DATA_DIR: dir, GATEWAY_PORT: '0', LOG_LEVEL: 'silent' };
    const first = await runGateway(env);
    const line = first.stderr.split('\n').find((l) => l.includes('admin API token created'));
    assert.ok(line, `token line on stderr: ${first.stderr}`);
    const token = (JSON.parse(line) as { token: string }).token;
    const me = await gql<{ me: { roles: string[] } }>(first.url, '{ me { roles } }', undefined, token);
    assert.deepEqual(me.data?.me.roles, ['admin']);
    assert.equal((await gql(first.url, '{ health { status } }')).status, 200, 'health without a token');
    assert.equal(await first.stop(), 0);
    const second = await runGateway(env);
    assert.doesNotMatch(second.stderr, /admin API token created/);
    assert.deepEqual((await gql<{ me: { roles: string[] } }>(second.url, '{ me { roles } }', undefined, token)).data?.me.roles, ['admin'], 'the token survives a restart');
    assert.equal(await second.stop(), 0);
    const bad = spawn(process.execPath, [join(__dirname, 'main.js')], { env: { ...process.env, ...env, GATEWAY_MAX_DEPTH: 'deep' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    bad.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => bad.once('exit', r));
    assert.equal(code, 2);
    assert.match(err, /CONFIG_INVALID.*GATEWAY_MAX_DEPTH/);
  });
});
