import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleYaml, DEFAULT_SCENARIO, labInventoryIni, labPolicyYaml, labWorkflowYaml, SimulatedFleet, writeClientKey } from '@patchbay/fleet-lab';
import { descendants, startUp, type RunningUp } from './stack-process.js';

export const SIM_APP = DEFAULT_SCENARIO.app;

/** check disk, stop the app, upgrade, reboot if required, start the app — as code, for the group `sim` (label fleet=sim). */
export function simBundle(endpoints: number): string {
  return bundleYaml(
    labWorkflowYaml({ id: 'sim', name: 'Check disk, stop the app, upgrade, reboot if required, start the app', app: SIM_APP, patchTimeoutSeconds: 120, rebootReturnSeconds: 60, rebootTimeoutSeconds: 90, validate: false }),
    labPolicyYaml({ groupId: 'sim', groupName: 'Simulated endpoints', selector: 'fleet=sim', policyId: 'sim', workflowId: 'sim', maxConcurrency: endpoints, errorThreshold: endpoints }),
  );
}

export interface SimStack {
  fleet: SimulatedFleet;
  stack: RunningUp;
  dir: string;
  adminToken: string;
  /** A GraphQL call as the admin; fails the test on any error. */
  api<T>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<T>;
  /** Requests a cycle of policy `sim`; answers its id. */
  requestCycle(headers?: Record<string, string>): Promise<string>;
  /** Waits for a cycle's final status (completed, halted, aborted; '' on time-out). */
  waitCycle(cycleId: string, timeoutMs?: number): Promise<string>;
  /** Requests a cycle of policy `sim` and waits for its final status. */
  runCycle(headers?: Record<string, string>, timeoutMs?: number): Promise<{ cycleId: string; status: string }>;
  close(): Promise<void>;
}

/**
 * `patchbay up` as a child process (environment `env` on top of the simulated-fleet settings)
 * with a simulated fleet of `endpoints` imported (trust on first use), facts gathered and the
 * `sim` workflow, group and policy applied.
 */
export async function startSimStack(opts: { endpoints: number; basePort: number; env?: NodeJS.ProcessEnv; rebootDelayMs?: number; aptLatencyMs?: number }): Promise<SimStack> {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-sim-stack-'));
  const adminToken = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  const { public: clientPublicKey, path: keyPath } = writeClientKey(dir);
  const fleet = await SimulatedFleet.start({
    endpoints: opts.endpoints,
    clientPublicKey,
    basePort: opts.basePort,
    scenario: { ...DEFAULT_SCENARIO, defaults: { ...DEFAULT_SCENARIO.defaults, aptLatencyMs: opts.aptLatencyMs ?? 50, rebootDelayMs: opts.rebootDelayMs ?? 300 } },
  });
  let stack: RunningUp | undefined;
  const close = async () => {
    if (stack) {
      const kids = descendants(stack.child.pid!);
      stack.child.kill('SIGINT');
      const code = await Promise.race([stack.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
      if (code === 'timeout')
        for (const pid of [stack.child.pid!, ...kids])
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
    }
    await fleet.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    stack = await startUp(['--data-dir', join(dir, 'data'), '--port', '0'], {
      PATCHBAY_ADMIN_TOKEN: adminToken,
      // The simulated shell has no `timeout -k` and no reboot-marker script (see libs/fleet-lab).
      PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REBOOT_MARKER: 'false',
      ...opts.env,
    });
    const url = stack.url;
    const api = async <T>(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<T> => {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}`, ...headers }, body: JSON.stringify({ query, variables }) });
      const body = (await r.json()) as { data?: T; errors?: unknown[] };
      assert.equal(body.errors, undefined, `${query.slice(0, 60)}: ${JSON.stringify(body.errors)}`);
      return body.data!;
    };
    const ini = labInventoryIni(
      'sim',
      fleet.endpoints.map((e) => ({ name: e.id, host: e.host, port: e.port })),
      { vars: { fleet: 'sim' }, keyPath },
    );
    await api(`mutation($c: String!) { importInventory(format: ansible_ini, fileName: "sim.ini", content: $c, hostKeyPolicy: tofu) { commandId } }`, { c: ini });
    await api(`mutation { gatherFacts(wait: true, refresh: true) { commandId } }`);
    await api(`mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f) { commandId } }`, { f: [{ name: 'sim.yaml', content: simBundle(opts.endpoints) }] });
    for (let i = 0; ; i++) {
      const g = await api<{ referenceGroup: { memberCount: number } | null }>('{ referenceGroup(id: "sim") { memberCount } }');
      if (g.referenceGroup?.memberCount === opts.endpoints) break;
      if (i > 600) assert.fail(`group sim has ${g.referenceGroup?.memberCount} members, expected ${opts.endpoints}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const requestCycle = async (headers: Record<string, string> = {}) => (await api<{ requestCycle: { id: string } }>('mutation { requestCycle(policyId: "sim") { id } }', {}, headers)).requestCycle.id;
    const waitCycle = async (cycleId: string, timeoutMs = 120_000) => {
      let status = '';
      const deadline = Date.now() + timeoutMs;
      while (!['completed', 'halted', 'aborted'].includes(status) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await api<{ cycle: { status: string } | null }>('query($id: ID!) { cycle(id: $id) { status } }', { id: cycleId })).cycle?.status ?? '';
      }
      return status;
    };
    const runCycle = async (headers: Record<string, string> = {}, timeoutMs = 120_000) => {
      const cycleId = await requestCycle(headers);
      return { cycleId, status: await waitCycle(cycleId, timeoutMs) };
    };
    return { fleet, stack, dir, adminToken, api, requestCycle, waitCycle, runCycle, close };
  } catch (err) {
    await close();
    throw err;
  }
}
