import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { DEFAULT_SCENARIO, Lab, labInventoryIni } from '@patchbay/fleet-lab';
import { Harness } from './driver.js';
import { checkCycle, readStore, waitCycleFinal } from './invariants.js';
import { prng, ScenarioTally, seedFor, trialCount } from './report.js';
import { payloads } from './scenarios/hostile-input.js';

const CANARY = '/var/tmp/pb-canary';
const MARKER = '/var/tmp/pb-marker';

function labBundle(label: string, hostile: string[]): string {
  const workflow = {
    kind: 'WorkflowTemplate',
    id: `wf-${label}`,
    name: 'lab reliability',
    phases: {
      pre: [
        { id: 'disk', type: 'check-disk', params: { path: '/', minFreeMb: 20 } },
        // A non-idempotent effect the host itself counts: one line per run of the step.
        { id: 'marker', type: 'custom', params: { argv: ['sh', '-c', `echo x >> ${MARKER}`] } },
        { id: 'hostile-pre', type: 'custom', params: { argv: ['echo', ...hostile] } },
      ],
      patch: [
        { id: 'patch', type: 'patch', params: { scope: 'all', manager: 'apt' }, timeoutSeconds: 300 },
        { id: 'reboot', type: 'reboot', params: { mode: 'if-required', returnTimeoutSeconds: 60 }, timeoutSeconds: 90 },
      ],
      post: [{ id: 'hostile-post', type: 'custom', params: { argv: ['printf', '%s\\n', ...hostile] } }],
    },
  };
  return [
    JSON.stringify(workflow),
    JSON.stringify({ kind: 'ReferenceGroup', id: `g-${label}`, name: 'lab', tier: 'low', selector: `trial=${label}` }),
    JSON.stringify({
      kind: 'PatchPolicy',
      id: `p-${label}`,
      groups: [`g-${label}`],
      updates: { include: 'all' },
      approval: { mode: 'auto', afterDays: 0 },
      rollout: { waves: [] },
      maxConcurrency: 3,
      errorThreshold: 4,
      reboot: 'if-required',
      workflow: { id: `wf-${label}`, version: 1 },
    }),
  ].join('\n---\n');
}

/**
 * Scenario 7 on real Debian lab hosts, where a real network and a real shell matter: host 0's
 * address dropped by nftables mid-patch, the executor SIGKILLed right after host 1's
 * `RebootIssued` (reboot markers on), and shell payloads in a step's argv aimed at a canary file.
 * Invariants: the common ones, the marker file and the lab's boot count as the hosts' own record
 * of effects, and no canary file on any host.
 */
describe('reliability on real lab hosts (3 hosts)', { skip: process.getuid?.() !== 0 ? 'needs root for the lab' : false }, () => {
  const work = mkdtempSync(join(tmpdir(), 'patchbay-reliability-lab-'));
  let h: Harness;
  let lab: Lab;
  let keyPath: string;

  before(async () => {
    // Real hosts have a POSIX shell: process control and reboot markers on, as in production.
    h = await Harness.start({
      workDir: join(work, 'stack'),
      env: { PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL: 'true', PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL: 'true', PATCHBAY_EXECUTOR_REBOOT_MARKER: 'true' },
    });
    lab = await Lab.up({ hosts: 3, scenario: DEFAULT_SCENARIO, stateDir: join(work, 'lab') });
    keyPath = join(work, 'lab-key');
    writeFileSync(keyPath, await lab.clientPrivateKey());
    chmodSync(keyPath, 0o600);
  });
  after(async () => {
    await h?.stop();
    await lab?.down();
    rmSync(work, { recursive: true, force: true });
  });

  it('nftables drop mid-patch, executor killed after RebootIssued, shell payloads in argv: every host final, effects once, no canary', async () => {
    const seed = seedFor('lab');
    const random = prng(seed);
    const tally = new ScenarioTally('7-lab', 'real lab hosts: nftables drop, executor kill -9 after RebootIssued, shell payloads', seed);
    await tally.run(async () => {
      const trials = trialCount(1, 3);
      const hostile = payloads(CANARY).filter((p) => !/[\n\u0000]/.test(p) && p.length < 200);
      for (let t = 0; t < trials; t++) {
        const label = `lab${t}`;
        if (t > 0) {
          // Later trials need a pending update again: a newer security update that asks for a reboot.
          await lab.publish({
            ...DEFAULT_SCENARIO.packages[0]!,
            installed: undefined,
            available: `1.0.${t + 1}-1`,
            classification: 'security',
            severity: 'high',
            rebootRequired: true,
            postinstFails: false,
            sizeMb: 0,
          });
        }
        const ini = labInventoryIni(
          label,
          lab.hosts.map((x) => ({ name: `${label}-${x.name}`, host: x.address, port: 22 })),
          { vars: { trial: label }, keyPath },
        );
        await h.sendRetrying('inventory', 'import', { format: 'ansible-ini', fileName: `${label}.ini`, content: ini, hostKeyPolicy: 'tofu' });
        const ids = lab.hosts.map((x) => `${label}-${x.name}`);
        await h.sendRetrying('inventory', 'gather-facts', { endpointIds: ids, refresh: true, wait: true }, 120_000);
        const applied = await h.stack.graphql('mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f) { commandId } }', {
          f: [{ name: `${label}.yaml`, content: labBundle(label, hostile) }],
        });
        assert.equal(applied.errors, undefined, JSON.stringify(applied.errors));
        for (let i = 0; ; i++) {
          const g = await h.send<{ members?: unknown[] }>('policy', 'group.get', { groupId: `g-${label}` });
          if ((g.members?.length ?? 0) >= 3) break;
          if (i > 300) throw new Error('lab group membership never computed');
          await new Promise((r) => setTimeout(r, 100));
        }
        const markers0 = await Promise.all(lab.hosts.map(async (x) => Number((await x.exec(['sh', '-c', `cat ${MARKER} 2>/dev/null | wc -l`])).stdout.trim())));
        const boots0 = lab.hosts.map((x) => x.state.boots);
        const cycleId = await h.requestCycle(label);
        const db = new DatabaseSync(h.storePath, { readOnly: true });
        const has = (endpoint: string, type: string, step?: string) =>
          db
            .prepare(`SELECT 1 FROM events WHERE stream = ? AND type = ?${step ? ` AND data LIKE '%"stepKey":"${step}"%'` : ''}`)
            .get(`run-${cycleId}.${endpoint}`, type) !== undefined;
        const until = async (what: string, f: () => boolean) => {
          const deadline = Date.now() + 120_000;
          while (!f()) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 5));
          }
        };
        try {
          // Host 0: its address drops every packet (nftables) for 1-4 s once its patch has started.
          const drop = (async () => {
            await until('host0 patch started', () => has(ids[0]!, 'StepStarted', 'patch'));
            const how = await lab.hosts[0]!.addLoss(100);
            tally.notes[`drop ${label}`] = how;
            await new Promise((r) => setTimeout(r, 1000 + Math.floor(random() * 3000)));
            await lab.hosts[0]!.clearLoss();
          })();
          // Host 1: the executor dies the moment host 1's RebootIssued is stored.
          const kill = (async () => {
            await until('host1 RebootIssued', () => has(ids[1]!, 'RebootIssued'));
            await h.stack.kill('executor');
            await new Promise((r) => setTimeout(r, Math.floor(random() * 500)));
            await h.stack.startService('executor');
          })();
          await Promise.all([drop, kill]);
        } finally {
          db.close();
          await lab.hosts[0]!.clearLoss().catch(() => undefined);
        }
        const final = await waitCycleFinal(h.storePath, cycleId, 180_000);
        tally.trials++;
        if (!final) {
          tally.violation(label, `cycle ${cycleId} did not end`);
          continue;
        }
        const all = await readStore(h.storePath);
        const verdict = checkCycle(all, cycleId, undefined, { expectEndpoints: 3 });
        for (const v of verdict.violations) tally.violation(label, v);
        for (const r of verdict.runs) tally.count(`${r.endpointId.replace(/^lab\d+-/, '')} ${r.final}${r.code ? ` ${r.code}` : ''}`);
        for (const [i, host] of lab.hosts.entries()) {
          const run = all.filter((e) => e.metadata.stream === `run-${cycleId}.${ids[i]}`);
          const starts = run.filter((e) => e.type === 'StepStarted' && (e.data as { stepKey: string }).stepKey === 'marker').length;
          const ran = Number((await host.exec(['sh', '-c', `cat ${MARKER} 2>/dev/null | wc -l`])).stdout.trim()) - markers0[i]!;
          if (ran > starts) tally.violation(label, `${host.name}: marker ran ${ran} times for ${starts} recorded starts`);
          if (run.some((e) => e.type === 'StepSucceeded' && (e.data as { stepKey: string }).stepKey === 'marker') && ran < 1)
            tally.violation(label, `${host.name}: marker succeeded but never ran`);
          const issued = run.filter((e) => e.type === 'RebootIssued').length;
          const rebooted = host.state.boots - boots0[i]!;
          if (rebooted > issued) tally.violation(label, `${host.name}: booted ${rebooted} times for ${issued} RebootIssued`);
          const canary = await host.exec(['test', '-e', CANARY], { allowFailure: true });
          if (canary.code === 0) tally.violation(label, `${host.name}: canary ${CANARY} exists: an argv payload was run by a shell`);
          const printed = run.find((e) => e.type === 'StepSucceeded' && (e.data as { stepKey: string }).stepKey === 'hostile-post');
          if (!printed && verdict.runs.find((r) => r.endpointId === ids[i])?.final === 'RunSucceeded')
            tally.violation(label, `${host.name}: the payload step never ran`);
        }
        tally.count(`cycles ${final}`);
        const dead = h.stack.dead();
        if (dead.length) tally.violation(label, `processes died: ${dead.join(', ')}`);
      }
    });
    assert.deepEqual(tally.violations, [], `replay with PATCHBAY_RELIABILITY_SEED=${seed}`);
  });
});
