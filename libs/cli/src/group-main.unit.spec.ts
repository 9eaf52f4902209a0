import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const GROUP_MAIN = join(__dirname, 'group-main.js');

describe('group-main refuses what it cannot run, before starting anything', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [GROUP_MAIN, ...args], { env: { PATH: process.env['PATH'], NATS_URL: 'nats://127.0.0.1:1', ...env }, encoding: 'utf8', timeout: 20_000 });

  it('no part, an unknown part or a part twice: exit 2 with VALIDATION_FAILED naming it', () => {
    for (const [args, names] of [[[], ''], [['planner', 'gateway'], 'gateway'], [['relay', 'relay'], '']] as const) {
      const r = run([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      const line = JSON.parse(r.stderr.trim()) as { code: string; msg: string };
      assert.equal(line.code, 'VALIDATION_FAILED');
      if (names) assert.match(line.msg, new RegExp(`unknown: ${names}`));
    }
  });

  it('a bad setting: exit 2 with CONFIG_INVALID naming the variable', () => {
    const r = run(['planner'], { PATCHBAY_COMMAND_TIMEOUT_MS: 'soon' });
    assert.equal(r.status, 2, r.stderr);
    const line = JSON.parse(r.stderr.trim()) as { code: string; msg: string };
    assert.equal(line.code, 'CONFIG_INVALID');
    assert.match(line.msg, /PATCHBAY_COMMAND_TIMEOUT_MS/);
    const heap = run(['planner'], { PATCHBAY_NODE_HEAP_GROWING_PERCENT: '1000' });
    assert.equal(heap.status, 2, heap.stderr);
    assert.match((JSON.parse(heap.stderr.trim()) as { msg: string }).msg, /PATCHBAY_NODE_HEAP_GROWING_PERCENT/);
  });
});
