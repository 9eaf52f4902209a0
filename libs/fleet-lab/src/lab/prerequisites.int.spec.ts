import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { PatchbayError } from '@patchbay/contracts';
import { checkLabPrerequisites } from './lab.js';
import { takeLock } from './lock.js';

describe('base build lock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pb-lab-lock-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lets one builder in at a time', async () => {
    const path = join(dir, 'build.lock');
    const order: string[] = [];
    const release = await takeLock(path);
    const second = takeLock(path).then((r) => {
      order.push('second');
      return r;
    });
    await new Promise((r) => setTimeout(r, 700));
    order.push('first done');
    await release();
    await (await second)();
    assert.deepEqual(order, ['first done', 'second']);
  });

  it('takes over a lock left by a dead process', async () => {
    const path = join(dir, 'stale.lock');
    writeFileSync(path, '999999999');
    const t0 = Date.now();
    const release = await takeLock(path);
    assert.ok(Date.now() - t0 < 500);
    await release();
  });
});

describe('lab prerequisites', () => {
  it('names the missing programs and the install command', async () => {
    await assert.rejects(checkLabPrerequisites([['ip', 'iproute2'], ['no-such-debootstrap', 'debootstrap']]), (e: unknown) => {
      assert.ok(e instanceof PatchbayError);
      assert.equal(e.code, 'LAB_PREREQUISITE_MISSING');
      assert.deepEqual(e.details.missing, ['no-such-debootstrap']);
      assert.match(e.message, /apt-get install -y debootstrap/);
      return true;
    });
  });
});

describe('lab as a normal user', () => {
  it('fails with LAB_NEEDS_ROOT before touching the machine', () => {
    const script = `require(${JSON.stringify(join(__dirname, 'lab.js'))}).Lab.up({ hosts: 1, stateDir: '/nonexistent/lab' }).then(() => process.exit(0), (e) => { console.log(e.code); process.exit(3); })`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout.trim(), 'LAB_NEEDS_ROOT');
  });
});
