import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyChain, type RecordedEvent } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { alive, descendants } from './stack-process.js';
import { startSimStack, type SimStack } from './sim-stack.js';

const argvOf = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

/**
 * `PATCHBAY_UP_LAYOUT=grouped`: inventory, policy, planner and the relay share one process, the
 * executor and the gateway keep theirs. A whole cycle runs as with one process per service; when
 * the shared process is killed the supervisor starts it again and the next cycle runs too.
 */
describe('patchbay up with the grouped layout runs whole cycles (simulated fleet)', { timeout: 240_000 }, () => {
  let sim: SimStack;
  const ENDPOINTS = 5;

  before(async () => {
    sim = await startSimStack({ endpoints: ENDPOINTS, basePort: 27600, env: { PATCHBAY_UP_LAYOUT: 'grouped' } });
  });
  after(async () => {
    await sim?.close();
  });

  const nodeChildren = (): Array<{ pid: number; argv: string[] }> =>
    descendants(sim.stack.child.pid!)
      .map((pid) => ({ pid, argv: argvOf(pid) }))
      .filter((p) => !p.argv[0]?.endsWith('nats-server'));

  it('starts three Node processes: the group (inventory, policy, planner, relay), the executor, the gateway', () => {
    const entries = nodeChildren().map((p) => p.argv.slice(p.argv.findIndex((a) => a.endsWith('.js'))).map((a) => a.split('/').slice(-3).join('/')).join(' ')).sort();
    assert.deepEqual(entries, ['cli/dist/group-main.js inventory policy planner relay', 'executor/dist/main.js', 'gateway/dist/main.js']);
  });

  it('a cycle completes on every endpoint with every run and the cycle chained', async () => {
    const { cycleId, status } = await sim.runCycle();
    assert.equal(status, 'completed');
    const r = await sim.api<{ cycle: { counts: { succeeded: number; failed: number } } }>('query($id: ID!) { cycle(id: $id) { counts { succeeded failed } } }', { id: cycleId });
    assert.deepEqual(r.cycle.counts, { succeeded: ENDPOINTS, failed: 0 });
    const store = SqliteEventStore.open(join(sim.dir, 'data', 'events.db'), { readOnly: true });
    try {
      const all = await store.readAll();
      const streams = new Set(all.filter((e) => e.metadata.stream.startsWith(`run-${cycleId}`) || e.metadata.stream === `cycle-${cycleId}`).map((e) => e.metadata.stream));
      assert.equal(streams.size, ENDPOINTS + 1);
      for (const s of streams) {
        const events: RecordedEvent[] = await store.readStream(s);
        assert.equal(verifyChain(s, events).ok, true, `${s} verifies`);
      }
    } finally {
      await store.close();
    }
  });

  it('the group process killed with SIGKILL is started again, and the next cycle completes', async () => {
    const group = nodeChildren().find((p) => p.argv.some((a) => a.endsWith('group-main.js')))!;
    process.kill(group.pid, 'SIGKILL');
    for (let i = 0; alive(group.pid); i++) {
      assert.ok(i < 100, 'the group process died');
      await new Promise((r) => setTimeout(r, 50));
    }
    let restarted: { pid: number } | undefined;
    for (let i = 0; !restarted; i++) {
      assert.ok(i < 200, 'the group process was started again');
      await new Promise((r) => setTimeout(r, 100));
      restarted = nodeChildren().find((p) => p.argv.some((a) => a.endsWith('group-main.js')) && p.pid !== group.pid);
    }
    // The planner answers again once the restarted process has its services up.
    let result: { cycleId: string; status: string } | undefined;
    for (let i = 0; !result; i++) {
      try {
        result = await sim.runCycle();
      } catch (err) {
        if (i > 30) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    assert.equal(result.status, 'completed');
  });
});
