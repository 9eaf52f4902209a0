import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SCENARIO, generateSshKeyPair, SimulatedFleet } from '@patchbay/fleet-lab';
import { startOtlpReceiver, type OtlpReceiver } from '@patchbay/testing';
import { descendants, startUp, type RunningUp } from './stack-process.js';

const ADMIN = `pbt_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
const APP = DEFAULT_SCENARIO.app;

const BUNDLE = `
kind: WorkflowTemplate
id: traced
name: Check disk, stop the app, upgrade, reboot if required, start the app, validate
phases:
  pre:
    - { id: disk, type: check-disk, params: { path: /, minFreeMb: 100 } }
    - { id: stop-app, type: stop-service, params: { service: ${APP.service} } }
  patch:
    - { id: patch, type: patch, params: { scope: all, manager: apt }, timeoutSeconds: 120 }
    - { id: reboot, type: reboot, params: { mode: if-required, returnTimeoutSeconds: 60 }, timeoutSeconds: 90 }
  post:
    - { id: start-app, type: start-service, params: { service: ${APP.service} } }
---
kind: ReferenceGroup
id: traced
tier: low
selector: fleet=traced
---
kind: PatchPolicy
id: traced
groups: [traced]
updates: { include: all }
approval: { mode: auto, afterDays: 0 }
rollout: { waves: [] }
maxConcurrency: 3
errorThreshold: 3
reboot: if-required
workflow: { id: traced, version: 1 }
`;

/**
 * One cycle is one trace: a request with the caller's `traceparent` reaches the gateway, the
 * planner plans and releases it, the executor runs every endpoint's steps over SSH; every process
 * exports its spans to one collector and all of them, and every stored event of the cycle, carry
 * the caller's trace id.
 */
describe('one cycle, one trace: gateway, planner, executor and SSH calls (simulated fleet, OTLP collector)', { timeout: 240_000 }, () => {
  let fleet: SimulatedFleet;
  let receiver: OtlpReceiver;
  let stack: RunningUp;
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-cycle-trace-'));
  let api: <T>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) => Promise<T>;

  before(async () => {
    const keys = generateSshKeyPair();
    const keyPath = join(dir, 'id_ed25519');
    writeFileSync(keyPath, keys.private, { mode: 0o600 });
    fleet = await SimulatedFleet.start({ endpoints: 3, clientPublicKey: keys.public, basePort: 27400, scenario: { ...DEFAULT_SCENARIO, defaults: { ...DEFAULT_SCENARIO.defaults, aptLatencyMs: 50, rebootDelayMs: 300 } } });
    receiver = await startOtlpReceiver();
    stack = await startUp(['--data-dir', join(dir, 'data'), '--port', '0'], {
      PATCHBAY_ADMIN_TOKEN: ADMIN,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      // The simulated shell has no `timeout -k` and no reboot-marker script (see libs/fleet-lab).
      PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REBOOT_MARKER: 'false',
    });
    api = async <T>(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
      const r = await fetch(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, ...headers }, body: JSON.stringify({ query, variables }) });
      const body = (await r.json()) as { data?: T; errors?: unknown[] };
      assert.equal(body.errors, undefined, `${query.slice(0, 60)}: ${JSON.stringify(body.errors)}`);
      return body.data!;
    };
    const ini = ['[traced]', ...fleet.endpoints.map((e) => `${e.id} ansible_host=${e.host} ansible_port=${e.port} ansible_user=root`), '[traced:vars]', 'fleet=traced', `ansible_ssh_private_key_file=${keyPath}`, ''].join('\n');
    await api(`mutation($c: String!) { importInventory(format: ansible_ini, fileName: "traced.ini", content: $c, hostKeyPolicy: tofu) { commandId } }`, { c: ini });
    await api(`mutation { gatherFacts(wait: true, refresh: true) { commandId } }`);
    await api(`mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f) { commandId } }`, { f: [{ name: 'traced.yaml', content: BUNDLE }] });
    for (let i = 0; ; i++) {
      const g = await api<{ referenceGroup: { memberCount: number } | null }>('{ referenceGroup(id: "traced") { memberCount } }');
      if (g.referenceGroup?.memberCount === 3) break;
      if (i > 300) assert.fail(`group traced has ${g.referenceGroup?.memberCount} members`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (stack) {
      const kids = descendants(stack.child.pid!);
      stack.child.kill('SIGINT');
      const code = await Promise.race([stack.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
      if (code === 'timeout') for (const pid of [stack.child.pid!, ...kids]) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await fleet?.stop().catch(() => undefined);
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every process exports its part of the cycle under the caller\'s trace id, and every stored event carries it', async () => {
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
    const requested = await api<{ requestCycle: { id: string } }>('mutation { requestCycle(policyId: "traced") { id } }', {}, { traceparent });
    const cycleId = requested.requestCycle.id;
    let status = '';
    for (let i = 0; i < 1200 && !['completed', 'halted', 'aborted'].includes(status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await api<{ cycle: { status: string } | null }>('query($id: ID!) { cycle(id: $id) { status } }', { id: cycleId })).cycle?.status ?? '';
    }
    assert.equal(status, 'completed');

    const history = await api<{ cycleHistory: Array<{ stream: string; type: string; traceparent: string | null }> }>('query($id: ID!) { cycleHistory(cycleId: $id, first: 700) { stream type traceparent } }', { id: cycleId });
    assert.ok(history.cycleHistory.length > 20, `a whole cycle's history (${history.cycleHistory.length} events)`);
    const off = history.cycleHistory.filter((e) => !e.traceparent?.includes(traceId));
    assert.deepEqual(off.map((e) => `${e.stream} ${e.type} ${e.traceparent}`), [], 'every event of the cycle and its runs is recorded under the caller\'s trace');
    assert.equal(new Set(history.cycleHistory.filter((e) => e.stream.startsWith('run-')).map((e) => e.stream)).size, 3, 'three endpoint runs');

    const want = (service: string, name: RegExp) => receiver.spans.some((s) => s.traceId === traceId && s.service === service && name.test(s.name));
    const expected: Array<[string, RegExp]> = [
      ['patchbay-gateway', /^HTTP POST \/graphql$/],
      ['patchbay-gateway', /^send patchbay\.cmd\.planner\./],
      ['patchbay-planner', /^handle patchbay\.cmd\.planner\./],
      ['patchbay-planner', /^plan cycle$/],
      ['patchbay-executor', /^executor\.run$/],
      ['patchbay-executor', /^ssh\.exec$/],
      ['patchbay-executor', /^ssh\.wait_for_boot$/],
    ];
    for (let i = 0; i < 100 && !expected.every(([svc, name]) => want(svc, name)); i++) await new Promise((r) => setTimeout(r, 200));
    const seen = [...new Set(receiver.spans.filter((s) => s.traceId === traceId).map((s) => `${s.service} ${s.name}`))].sort();
    for (const [svc, name] of expected) assert.ok(want(svc, name), `${svc} exported a span ${name} in trace ${traceId}; seen: ${seen.join(' | ')}`);
    const gatewayRoot = receiver.spans.find((s) => s.traceId === traceId && s.service === 'patchbay-gateway' && s.name === 'HTTP POST /graphql')!;
    assert.equal(gatewayRoot.parentSpanId, traceparent.split('-')[2], "the gateway's span is a child of the caller's span");
    const runs = receiver.spans.filter((s) => s.traceId === traceId && s.name === 'executor.run');
    assert.ok(runs.length >= 3, `one executor.run span per endpoint (${runs.length})`);
  });
});
