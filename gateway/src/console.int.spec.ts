import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { gql, startTestStack, type TestStack } from './spec-fixtures.js';
import { OPERATION_ROLES, operationsAllowed } from './auth/roles.js';
import { gatewaySchemaSdl } from './schema.js';

/** GET a path of the gateway's origin without URL normalisation (so `..` reaches the server as sent). */
function rawGet(origin: string, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gateway serves the web console at /', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-console-'));
  const secret = join(dir, '..', `${dir.split('/').pop()}-secret.txt`);
  let stack: TestStack;
  let origin: string;
  before(async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title><div id="root"></div>');
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    writeFileSync(secret, 'outside the console folder');
    stack = await startTestStack({ consoleDir: dir });
    const gw = await stack.startGateway();
    origin = new URL(gw.url).origin;
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(secret, { force: true });
  });

  it('answers / and any client route with index.html, with a strict content security policy', async () => {
    for (const path of ['/', '/cycles/c-1', '/fleet?tier=critical']) {
      const r = await rawGet(origin, path);
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers['content-type']), /text\/html/);
      assert.match(r.body, /<div id="root">/);
      assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
      assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['cache-control'], 'no-cache');
    }
  });

  it('serves hashed assets with their type and a long cache; a missing file is 404, not the app', async () => {
    const js = await rawGet(origin, '/assets/app-abc123.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /text\/javascript/);
    assert.match(String(js.headers['cache-control']), /immutable/);
    const head = await rawGet(origin, '/assets/app-abc123.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await rawGet(origin, '/assets/missing.js')).status, 404);
  });

  it('never leaves the console folder (.. and encoded ..)', async () => {
    const name = secret.split('/').pop()!;
    for (const path of [`/../${name}`, `/%2e%2e/${name}`, `/assets/..%2f..%2f${name}`, `/%2e%2e%2f${name}`]) {
      const r = await rawGet(origin, path);
      assert.doesNotMatch(r.body, /outside the console folder/, path);
      assert.ok(r.status === 404 || r.status === 400 || (r.status === 200 && /<div id="root">/.test(r.body)), `${path}: ${r.status}`);
    }
    assert.equal((await rawGet(origin, '/%E0%A4%A')).status, 400, 'a malformed escape is a clear 400');
  });

  it('leaves /graphql and /audit/ to the API (a GET of /graphql is not the app)', async () => {
    const r = await rawGet(origin, '/graphql');
    assert.doesNotMatch(r.body, /<div id="root">/);
    const audit = await rawGet(origin, '/audit/cycles/x/export.jsonl');
    assert.doesNotMatch(audit.body, /<div id="root">/);
    assert.equal(audit.status, 401);
  });

  it('me.operations lists exactly what the token may run, so the console shows only usable actions', async () => {
    const created = await gql<{ createApiToken: { token: string } }>(`${origin}/graphql`, 'mutation { createApiToken(name: "approver", roles: [approver]) { token } }', undefined, stack.adminToken);
    const approver = created.data!.createApiToken.token;
    const me = await gql<{ me: { roles: string[]; operations: string[] } }>(`${origin}/graphql`, '{ me { roles operations } }', undefined, approver);
    assert.deepEqual(me.data?.me.roles, ['approver']);
    const ops = me.data!.me.operations;
    assert.ok(ops.includes('Mutation.approveCycle'));
    assert.ok(ops.includes('Query.cycles'));
    assert.ok(!ops.includes('Mutation.requestCycle'), 'an approver cannot request cycles');
    assert.ok(!ops.includes('Query.cycleHistory'), 'nor read the audit history');
    const admin = await gql<{ me: { operations: string[] } }>(`${origin}/graphql`, '{ me { operations } }', undefined, stack.adminToken);
    assert.deepEqual(admin.data?.me.operations, Object.keys(OPERATION_ROLES).sort());
    assert.deepEqual(operationsAllowed(undefined), ['Query.health']);
  });

  it('the printed schema is the one the gateway serves (the console is typed against it)', async () => {
    const sdl = gatewaySchemaSdl();
    for (const op of Object.keys(OPERATION_ROLES)) {
      const [type, field] = op.split('.') as [string, string];
      assert.match(sdl, new RegExp(`type ${type} \\{[^}]*\\n  ${field}[(:]`), `${op} is in the printed schema`);
    }
  });
});

describe('gateway without a built console', () => {
  let stack: TestStack;
  after(async () => stack?.close());
  it('answers / with 404 and how to build it; GATEWAY_CONSOLE_DIR=off turns it off', async () => {
    stack = await startTestStack({ consoleDir: join(tmpdir(), 'patchbay-no-console-here') });
    const gw = await stack.startGateway();
    const r = await rawGet(new URL(gw.url).origin, '/');
    assert.equal(r.status, 404);
    assert.match(r.body, /not built: run `npm run build`/);
    const off = await startTestStack({ consoleDir: false });
    try {
      const gw2 = await off.startGateway();
      const r2 = await rawGet(new URL(gw2.url).origin, '/');
      assert.equal(r2.status, 404);
      assert.match(r2.body, /turned off/);
    } finally {
      await off.close();
    }
  });
});
