import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Harness } from './driver.js';
import type { ScenarioTally } from './report.js';
import { duplicateDeliveries } from './scenarios/duplicates.js';
import { endpointFaults } from './scenarios/endpoint-faults.js';
import { hostileInput } from './scenarios/hostile-input.js';
import { killServices, restartNats } from './scenarios/kill.js';
import { storeFull } from './scenarios/store-full.js';

const root = process.getuid?.() === 0;

/**
 * The reliability suite on one stack of real processes (nats-server, the four services, relay,
 * gateway) and simulated fleets: one stack for every scenario keeps the bounded form within CI's
 * budget. As root the event store lives on a small tmpfs so scenario 3 can fill it.
 * Bounded by default; PATCHBAY_RELIABILITY_TRIALS=N or PATCHBAY_RELIABILITY_LONG=1 for more trials,
 * PATCHBAY_RELIABILITY_SEED to replay. Report: bench/out/reliability/report.{json,txt}.
 */
describe('reliability suite (whole stack, simulated fleet)', () => {
  const work = mkdtempSync(join(tmpdir(), 'patchbay-reliability-'));
  const mnt = join(work, 'store');
  let mounted = false;
  let h: Harness;
  const ok = (t: ScenarioTally) => assert.deepEqual(t.violations, [], `${t.scenario}: replay with PATCHBAY_RELIABILITY_SEED=${t.seed}`);

  before(async () => {
    mkdirSync(mnt, { recursive: true });
    if (root) {
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', mnt], { encoding: 'utf8' });
      mounted = m.status === 0;
    }
    h = await Harness.start({ workDir: work, sqlitePath: join(mnt, 'events.db') });
  });
  after(async () => {
    await h?.stop();
    if (mounted) spawnSync('umount', ['-l', mnt]);
    rmSync(work, { recursive: true, force: true });
  });

  it('1. kill -9 of each service at random points of a cycle', async () => ok(await killServices(h)));
  it('2. nats-server restarted mid-cycle', async () => ok(await restartNats(h)));
  it('3. the event store refuses writes (full file system)', { skip: root ? false : 'needs root to mount a small tmpfs under the store' }, async () => {
    assert.ok(mounted, 'tmpfs mounted under the store');
    ok(await storeFull(h, mnt));
  });
  it('4. duplicate and reordered deliveries', async () => ok(await duplicateDeliveries(h)));
  it('5. network cut, slow host, changed host key, host never back', async () => ok(await endpointFaults(h)));
  it('6. hostile input through the GraphQL API', async () => ok(await hostileInput(h)));
});
