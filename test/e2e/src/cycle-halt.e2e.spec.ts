import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryIni, up } from '@patchbay/cli';
import type { CycleSummary } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { DEFAULT_SCENARIO, FAULT_PACKAGES, Lab } from '@patchbay/fleet-lab';
import { NatsBus } from '@patchbay/messaging';

const HALT_POLICY = `
kind: PatchPolicy
id: broken-package
groups: [demo-canary, demo-web, demo-db]
updates:
  include: all
  packages: { allow: ["pb-broken-postinst"] }
approval: { mode: auto, afterDays: 0 }
rollout: { tierOrder: [low, high, critical] }
maxConcurrency: 1
errorThreshold: 1
reboot: if-required
workflow: { id: demo-standard, version: 1 }
`;

/**
 * Five real lab hosts all offered an update whose postinst fails: the first run fails, the error
 * threshold (1) is reached, the cycle halts, and nothing more is released (no overshoot).
 */
describe('a failing package crossing the error threshold halts the cycle with no overshoot (5 real lab hosts)', { skip: process.getuid?.() !== 0 ? 'needs root for the lab' : false }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'patchbay-halt-'));
  let stop!: () => void;
  let stack: Promise<void>;
  let lab: Lab;
  let bus: NatsBus;
  const send = <T>(service: string, name: string, payload: unknown, actor = 'operator'): Promise<T> =>
    bus.request<T>(`patchbay.cmd.${service}.${name}`, { commandId: randomUUID(), actor, payload }, { timeoutMs: 120_000 });

  before(async () => {
    let ready!: (i: { natsUrl: string }) => void;
    const readyP = new Promise<{ natsUrl: string }>((r) => (ready = r));
    stack = up({ dataDir, port: 0, until: new Promise<void>((r) => (stop = r)), onReady: ready, log: () => undefined });
    const { natsUrl } = await readyP;
    lab = await Lab.up({ hosts: 5, scenario: DEFAULT_SCENARIO, stateDir: join(dataDir, 'lab') });
    await lab.publish(FAULT_PACKAGES[0]!);
    const keyPath = join(dataDir, 'key');
    writeFileSync(keyPath, await lab.clientPrivateKey());
    chmodSync(keyPath, 0o600);
    bus = await NatsBus.connect({ servers: natsUrl, name: 'halt-test' });
    await send('inventory', 'import', { format: 'ansible-ini', fileName: 'lab.ini', content: inventoryIni(lab, keyPath), hostKeyPolicy: 'tofu' });
    await send('inventory', 'gather-facts', { wait: true, refresh: true });
    const fleet = readFileSync(require.resolve('@patchbay/cli/demo/fleet.yaml'), 'utf8');
    await send('policy', 'bundle.apply', { files: [{ name: 'fleet.yaml', content: fleet }, { name: 'halt.yaml', content: HALT_POLICY }] });
  });

  after(async () => {
    await bus?.close();
    await lab?.down();
    stop?.();
    await stack;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('halts at the threshold; only the endpoint in flight ran; the others were never touched', async () => {
    for (let i = 0; ; i++) {
      const g = await send<{ members?: unknown[] }>('policy', 'group.get', { groupId: 'demo-db' });
      if ((g.members?.length ?? 0) > 0) break;
      assert.ok(i < 200, 'membership computed');
      await new Promise((r) => setTimeout(r, 100));
    }
    const requested = await send<CycleSummary>('planner', 'cycle.request', { policyId: 'broken-package' });
    assert.equal(requested.endpoints, 5, 'every host has the broken update pending');
    let summary: CycleSummary;
    for (let i = 0; ; i++) {
      summary = await send<CycleSummary>('planner', 'cycle.get', { cycleId: requested.cycleId });
      if (['completed', 'halted', 'aborted'].includes(summary.status)) break;
      assert.ok(i < 1200, `cycle finished: ${JSON.stringify(summary)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(summary.status, 'halted', JSON.stringify(summary));
    assert.equal(summary.failed, 1);
    assert.equal(summary.succeeded, 0);
    assert.equal(summary.released, 1, 'nothing released after the threshold was reached');

    const store = await SqliteEventStore.open(join(dataDir, 'events.db'));
    try {
      const cycle = await store.readStream(`cycle-${requested.cycleId}`);
      assert.equal(cycle.filter((e) => e.type === 'EndpointReleased').length, 1);
      assert.ok(cycle.some((e) => e.type === 'CycleHalted'));
      const runs = (await store.readAll({ categories: ['run'] })).filter((e) => e.metadata.stream.startsWith(`run-${requested.cycleId}.`));
      const failed = runs.filter((e) => e.type === 'RunFailed');
      assert.equal(failed.length, 1);
      const failedEndpoint = (failed[0]!.data as { endpointId: string }).endpointId;
      assert.equal(new Set(runs.map((e) => e.metadata.stream)).size, 1, 'one run stream only');
      // The hosts never released still have the old version: nothing ran there.
      for (const h of lab.hosts.filter((h) => h.name !== failedEndpoint)) {
        const r = await h.exec(['dpkg-query', '-W', '-f', '${Version}', 'pb-broken-postinst']);
        assert.equal(r.stdout.trim(), '1.0-1', `${h.name} untouched`);
      }
    } finally {
      await store.close();
    }
  });
});
