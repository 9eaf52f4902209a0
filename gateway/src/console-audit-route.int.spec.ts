import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestStack, type TestStack } from './spec-fixtures.js';

describe('the console page /audit/<cycle id> and the gateway audit downloads share /audit/', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-console-audit-'));
  let stack: TestStack;
  let origin: string;
  before(async () => {
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title><div id="root"></div>');
    stack = await startTestStack({ consoleDir: dir });
    origin = new URL((await stack.startGateway()).url).origin;
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a cycle audit page opened directly (reload, bookmark, new tab) is the app', async () => {
    for (const path of ['/audit', '/audit/manual-3a0868c4367b45f6', '/audit/emergency-1?event=e-9']) {
      const r = await fetch(origin + path);
      assert.equal(r.status, 200, path);
      assert.match(await r.text(), /<div id="root">/, path);
    }
  });

  it('the downloads stay the gateway’s: public key open, export behind a token, unknown export path a JSON 404', async () => {
    const key = await fetch(`${origin}/audit/public-key`);
    assert.equal(key.status, 200);
    assert.match(await key.text(), /BEGIN PUBLIC KEY/);
    const exp = await fetch(`${origin}/audit/cycles/c-1/export.jsonl`);
    assert.equal(exp.status, 401);
    const unknown = await fetch(`${origin}/audit/cycles/c-1/export.xml`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });
});
