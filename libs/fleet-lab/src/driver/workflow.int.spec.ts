import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SCENARIO, scenarioSchema, type Scenario } from '../scenario.js';
import { SimulatedFleet } from '../sim/fleet.js';
import { runReferenceWorkflow, type WorkflowOptions } from './workflow.js';
import { generateSshKeyPair } from '../sim/host-keys.js';

const key = generateSshKeyPair();
const basePort = (): number => 21_000 + Math.floor(Math.random() * 9_000);
const APP = DEFAULT_SCENARIO.app;

const scenarioWith = (hosts: Record<string, object>, defaults: object = {}): Scenario =>
  scenarioSchema.parse({ ...DEFAULT_SCENARIO, defaults: { rebootDelayMs: 200, aptLatencyMs: 20, ...defaults }, hosts });

async function withFleet<T>(endpoints: number, scenario: Scenario, fn: (fleet: SimulatedFleet) => Promise<T>): Promise<T> {
  const fleet = await SimulatedFleet.start({ endpoints, scenario, clientPublicKey: key.public, basePort: basePort() });
  try {
    return await fn(fleet);
  } finally {
    await fleet.stop();
  }
}

const options = (extra: Partial<WorkflowOptions> = {}): WorkflowOptions => ({
  username: 'root',
  privateKey: key.private,
  concurrency: 5,
  app: APP,
  rebootTimeoutMs: 5000,
  ...extra,
});

describe('ssh2 driver on a simulated fleet (int)', () => {
  it('upgrades every simulated host, reboots exactly once where reboot-required, app active again', async () => {
    await withFleet(5, scenarioWith({}), async (fleet) => {
      // Hosts 1 and 2 already carry the update that asks for a reboot, so they must not reboot.
      for (const i of [1, 2]) fleet.endpoints[i]!.machine.installed.set('pb-openssl-demo', '1.0.1-1');
      const report = await runReferenceWorkflow(fleet.targets(), options({ username: 'patchbay' }));
      assert.deepEqual(report.counts, { 'ok-rebooted': 3, ok: 2 });
      fleet.endpoints.forEach((ep, i) => {
        const m = ep.machine;
        const o = report.outcomes[i]!;
        for (const p of DEFAULT_SCENARIO.packages) assert.equal(m.installed.get(p.name), p.available, `${ep.id} ${p.name}`);
        assert.equal(m.services.get(APP.service), 'active', `${ep.id} app active`);
        const rebooted = i !== 1 && i !== 2;
        assert.equal(o.rebooted, rebooted, ep.id);
        assert.equal(m.bootHistory.length, rebooted ? 2 : 1, `${ep.id} boot id changed exactly ${rebooted ? 'once' : 'never'}`);
        assert.equal(
          [...m.rebootRequestsByBootId.values()].reduce((a, b) => a + b, 0),
          rebooted ? 1 : 0,
        );
        assert.equal(o.bootIdBefore, m.bootHistory[0]);
        assert.equal(o.bootIdAfter, m.bootHistory.at(-1));
        assert.equal(m.rebootRequiredPkgs, null, `${ep.id} /run/reboot-required is gone`);
      });
      assert.ok(report.wallMs > 0 && report.cpu.userMs > 0);
    });
  });

  it('a simulated host in never mode times out with REBOOT_TIMEOUT and a clear message', async () => {
    await withFleet(2, scenarioWith({ '1': { rebootMode: 'never' } }), async (fleet) => {
      const report = await runReferenceWorkflow(fleet.targets(), options({ rebootTimeoutMs: 1500 }));
      assert.equal(report.outcomes[0]!.status, 'ok');
      const o = report.outcomes[1]!;
      assert.equal(o.status, 'failed');
      assert.equal(o.failedStep, 'reboot');
      assert.equal(o.error?.code, 'REBOOT_TIMEOUT');
      assert.match(o.error!.message, /did not come back with a new boot id within 1500 ms \(last error: .*ECONNREFUSED/);
      assert.deepEqual(report.counts, { 'ok-rebooted': 1, 'failed:reboot:REBOOT_TIMEOUT': 1 });
    });
  });

  it('the driver waits out a simulated host in slow reboot mode', async () => {
    await withFleet(2, scenarioWith({ '1': { rebootMode: 'slow', slowRebootDelayMs: 1200 } }), async (fleet) => {
      const report = await runReferenceWorkflow(fleet.targets(), options());
      assert.deepEqual(report.counts, { 'ok-rebooted': 2 });
      // The slow host refused connections for its whole delay, so its run cannot be shorter.
      assert.ok(report.outcomes[1]!.durationMs >= 1200, String(report.outcomes[1]!.durationMs));
      assert.equal(fleet.endpoints[1]!.machine.bootHistory.length, 2);
    });
  });

  it('new-host-key mode on the simulated fleet is detected: refused when pinned, reported when not', async () => {
    await withFleet(2, scenarioWith({ '0': { rebootMode: 'new-host-key' }, '1': { rebootMode: 'new-host-key' } }), async (fleet) => {
      const targets = fleet.targets();
      const pinned = await runReferenceWorkflow([targets[0]!], options());
      const o = pinned.outcomes[0]!;
      assert.equal(o.status, 'failed');
      assert.equal(o.error?.code, 'HOST_KEY_CHANGED');
      assert.notEqual(fleet.endpoints[0]!.hostKeyFingerprint, targets[0]!.hostKeyFingerprint);
      assert.ok(o.error!.message.includes(fleet.endpoints[0]!.hostKeyFingerprint));
      assert.equal(fleet.endpoints[0]!.machine.services.get(APP.service), 'inactive', 'nothing ran after the refused reconnect');

      const unpinned = await runReferenceWorkflow([targets[1]!], options({ pinHostKeys: false }));
      const u = unpinned.outcomes[0]!;
      assert.equal(u.status, 'ok');
      assert.notEqual(u.hostKeyFingerprintAfter, u.hostKeyFingerprintBefore);
      assert.equal(u.hostKeyFingerprintAfter, fleet.endpoints[1]!.hostKeyFingerprint);
    });
  });

  it('commandFailureRate on the simulated fleet produces failures the driver reports', async () => {
    await withFleet(5, scenarioWith({}, { commandFailureRate: 0.3 }), async (fleet) => {
      const report = await runReferenceWorkflow(fleet.targets(), options());
      const failed = report.outcomes.filter((o) => o.status === 'failed');
      assert.ok(failed.length >= 1, JSON.stringify(report.counts));
      for (const f of failed) {
        assert.equal(f.error?.code, 'REMOTE_COMMAND_FAILED');
        assert.match(f.error!.message, /exited (1|100|254)/);
        assert.ok(report.counts[`failed:${f.failedStep}:REMOTE_COMMAND_FAILED`]! >= 1);
      }
      assert.equal(
        Object.values(report.counts).reduce((a, b) => a + b, 0),
        5,
      );
    });
  });

  it('a simulated host short of disk fails the pre-check before anything is stopped', async () => {
    await withFleet(1, scenarioWith({ '0': { diskQuotaMb: 50 } }), async (fleet) => {
      const report = await runReferenceWorkflow(fleet.targets(), options({ minFreeMb: 100 }));
      assert.deepEqual(report.counts, { 'failed:check-disk:PRECHECK_FAILED': 1 }, JSON.stringify(report.outcomes));
      assert.equal(fleet.endpoints[0]!.machine.services.get(APP.service), 'active');
    });
  });
});
