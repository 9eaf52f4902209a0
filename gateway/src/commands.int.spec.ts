/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON, checked by value */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandSubject, HEALTH_COMMAND, type ServiceName } from '@patchbay/contracts';
import { codeOf, gql, startTestStack, type TestStack } from './spec-fixtures.js';
import type { RunningGateway } from './gateway.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

/** A service's entry point, built in its own package. */
const entry = (service: string) => join(__dirname, '..', '..', 'services', service, 'dist', 'main.js');

describe('mutations reach the real inventory, policy and planner services; queries show what they recorded', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  const children: ChildProcess[] = [];
  const who: Record<string, { token: string; actor: string }> = {};
  const q = (query: string, variables?: Record<string, unknown>, token = stack.adminToken) => gql<any>(gw.url, query, variables, token);

  before(async () => {
    for (const s of ['inventory', 'policy', 'planner']) assert.ok(existsSync(entry(s)), `build services/${s} first (npx tsc -b services/${s})`);
    stack = await startTestStack();
    const env = { ...process.env, NATS_URL: stack.nats.url, EVENTSTORE_SQLITE_PATH: join(stack.dir, 'events.db'), PATCHBAY_DATA_DIR: stack.dir, LOG_LEVEL: 'warn', PLANNER_TICK_MS: '100' };
    for (const s of ['inventory', 'policy', 'planner'] as const) {
      const child = spawn(process.execPath, [entry(s)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      await eventually(`${s} healthy`, () => stack.bus.request<{ status: string }>(commandSubject(s as ServiceName, HEALTH_COMMAND), { commandId: `h-${s}-${Date.now()}`, actor: 'spec', payload: {} }, { timeoutMs: 2000 }).then((h) => h.status === 'ok'));
    }
    gw = await stack.startGateway();
    for (const [name, roles] of [['alice', 'operator, approver'], ['carol', 'approver'], ['victor', 'viewer']] as const) {
      const r = await q(`mutation { createApiToken(name: "${name}", roles: [${roles}]) { token info { id } } }`);
      who[name] = { token: r.data.createApiToken.token, actor: `token:${r.data.createApiToken.info.id}:${name}` };
    }
  });

  after(async () => {
    for (const c of children) {
      if (c.exitCode === null) {
        c.kill('SIGTERM');
        await Promise.race([new Promise((r) => c.once('exit', r)), sleep(5000).then(() => c.kill('SIGKILL'))]);
      }
    }
    await stack?.close();
  });

  it('inventory import, groups, workflow and policy definitions: ids back, read models filled', async () => {
    const alice = who['alice']!.token;
    const csv = 'endpoint_id,host,port,user,labels\nweb-1,127.0.0.1,1,patchbay,role=web;env=prod\nweb-2,127.0.0.1,1,patchbay,role=web;env=dev\ndb-1,127.0.0.1,1,patchbay,role=db;env=prod\n';
    const imp = await q('mutation($c: String!) { importInventory(format: csv, fileName: "hosts.csv", content: $c) { commandId id result } }', { c: csv }, alice);
    assert.equal(imp.errors, undefined, JSON.stringify(imp.errors));
    assert.equal(imp.data.importInventory.result.summary.registered, 3);
    assert.ok(imp.data.importInventory.id, 'the registration source');

    const wf = await q('mutation($t: JSON!) { saveWorkflowTemplate(template: $t) { id result } }', { t: { id: 'standard', phases: { patch: [{ id: 'patch', type: 'patch', params: { scope: 'all' } }] } } }, alice);
    assert.equal(wf.errors, undefined, JSON.stringify(wf.errors));
    assert.equal(wf.data.saveWorkflowTemplate.id, 'standard');
    const web = await q('mutation { defineReferenceGroup(group: { id: "web", tier: "high", selector: "role=web" }) { id result } }', undefined, alice);
    assert.equal(web.data.defineReferenceGroup.id, 'web', JSON.stringify(web));
    const approvers = [who['alice']!.actor, who['carol']!.actor];
    const pol = await q('mutation($p: JSON!) { definePolicy(policy: $p) { id result } }', { p: { id: 'prod', groups: ['web'], workflow: { id: 'standard', version: 1 }, maxConcurrency: 5, approval: { mode: 'manual', approvers, minApprovals: 1 } } }, alice);
    assert.equal(pol.errors, undefined, JSON.stringify(pol.errors));
    assert.equal(pol.data.definePolicy.id, 'prod');

    const group = await eventually('membership from the policy service projected', async () => {
      const r = await q('{ referenceGroup(id: "web") { tier memberCount members { edges { node { endpointId reason } } } } }', undefined, who['victor']!.token);
      return r.data?.referenceGroup?.memberCount === 2 ? r.data.referenceGroup : undefined;
    });
    assert.deepEqual(group.members.edges.map((e: any) => e.node.endpointId), ['web-1', 'web-2']);
    assert.ok(group.members.edges.every((e: any) => e.node.reason.length > 0), 'each member says why');
    const eps = await q('{ endpoints(filter: { group: "web", labels: [{ key: "env", value: "prod" }] }) { edges { node { id ssh { host port } } } } }', undefined, who['victor']!.token);
    assert.deepEqual(eps.data.endpoints.edges.map((e: any) => e.node.id), ['web-1']);
    // The policy's read model comes from its own projection, which may trail the membership's.
    const policy = await eventually('policy projected', async () => (await q('{ policy(id: "prod") { version } workflowTemplate(id: "standard") { lastVersion } }', undefined, who['victor']!.token)).data?.policy ?? undefined);
    assert.equal(policy.version, 1);
  });

  it('a domain error comes back with its code: unknown policy, bad group definition, host key never presented', async () => {
    const alice = who['alice']!.token;
    assert.equal(codeOf(await q('mutation { requestCycle(policyId: "nope") { id } }', undefined, alice)), 'PLANNER_UNKNOWN_POLICY');
    assert.match(codeOf(await q('mutation { defineReferenceGroup(group: { id: "x", tier: "high", colour: "red" }) { id } }', undefined, alice)) ?? '', /^GROUP_/);
    assert.equal(codeOf(await q(`mutation { acceptHostKey(endpointId: "web-1", fingerprint: "SHA256:${'A'.repeat(43)}", reason: "checked") { id } }`, undefined, alice)), 'HOST_KEY_NOT_PRESENTED');
  });

  it('gatherFacts reaches the inventory; the failure is projected on the endpoint', async () => {
    const r = await q('mutation { gatherFacts(endpointIds: ["db-1"]) { commandId result } }', undefined, who['alice']!.token);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const err = await eventually('facts failure projected', async () => (await q('{ endpoint(id: "db-1") { lastFactsError { code } } }')).data?.endpoint?.lastFactsError);
    assert.ok(err.code.length > 0);
  });

  it('previewCycle and requestCycle return the plan and the cycle id; the requester cannot approve, another approver can', async () => {
    const alice = who['alice']!.token;
    // Facts as the inventory records them after SSH (the hosts here are not reachable).
    for (const id of ['web-1', 'web-2']) {
      await stack.append(`endpoint-${id}`, [
        {
          eventId: `facts-${id}`,
          type: 'FactsGathered',
          data: { endpointId: id, gatheredAt: new Date().toISOString(), facts: { os: { id: 'debian', idLike: [] }, packageManager: 'apt', updates: [{ name: 'openssl', from: '3.0.13', to: '3.0.14', security: true }], updatesKnown: true, rebootRequired: false, disks: [], services: { source: 'systemd', names: [] }, problems: [] } },
          actor: 'spec',
        },
      ]);
    }
    const preview = await eventually('plan with both endpoints', async () => {
      const r = await q('mutation { previewCycle(policyId: "prod") { result } }', undefined, alice);
      return r.data?.previewCycle?.result?.plan?.waves?.reduce((k: number, w: any) => k + w.endpoints.length, 0) === 2 ? r.data.previewCycle.result : undefined;
    });
    assert.match(preview.planHash, /^[0-9a-f]{64}$/);
    const req = await q('mutation { requestCycle(policyId: "prod", cycleId: "gw-c1") { id } }', undefined, alice);
    assert.equal(req.errors, undefined, JSON.stringify(req.errors));
    assert.equal(req.data.requestCycle.id, 'gw-c1');
    await eventually('awaiting approval', async () => (await q('{ cycle(id: "gw-c1") { status } }')).data?.cycle?.status === 'awaiting-approval');
    const own = await q('mutation { approveCycle(cycleId: "gw-c1") { id } }', undefined, alice);
    assert.equal(codeOf(own), 'CYCLE_APPROVER_IS_REQUESTER');
    assert.equal(codeOf(await q('mutation { approveCycle(cycleId: "gw-c1") { id } }', undefined, who['victor']!.token)), 'FORBIDDEN');
    const ok = await q('mutation { approveCycle(cycleId: "gw-c1", comment: "fine") { id } }', undefined, who['carol']!.token);
    assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
    let last: unknown;
    const cycle = await eventually('approved and running', async () => {
      const c = (await q('{ cycle(id: "gw-c1") { status planHash approvals { by comment } counts { planned released } waves { name size state } } }')).data?.cycle;
      last = c;
      return c && c.counts.released === 2 ? c : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}; last seen ${JSON.stringify(last)}`);
    });
    assert.equal(cycle.status, 'running');
    assert.equal(cycle.planHash, preview.planHash);
    assert.deepEqual(cycle.approvals, [{ by: who['carol']!.actor, comment: 'fine' }]);
    const runs = await q('{ endpointRuns(cycleId: "gw-c1") { edges { node { endpointId status } } } }', undefined, who['victor']!.token);
    assert.deepEqual(runs.data.endpointRuns.edges.map((e: any) => `${e.node.endpointId}:${e.node.status}`), ['web-1:released', 'web-2:released']);
    const paused = await q('mutation { pauseCycle(cycleId: "gw-c1", reason: "look") { id } }', undefined, alice);
    assert.equal(paused.errors, undefined, JSON.stringify(paused.errors));
    await eventually('paused', async () => (await q('{ cycle(id: "gw-c1") { status pauseReason } }')).data?.cycle?.pauseReason === 'look');
    const aborted = await q('mutation { abortCycle(cycleId: "gw-c1", reason: "enough") { id } }', undefined, alice);
    assert.equal(aborted.errors, undefined, JSON.stringify(aborted.errors));
    await eventually('aborted', async () => (await q('{ cycles(filter: { status: ["aborted"] }) { edges { node { id abortReason } } } }')).data?.cycles?.edges?.[0]?.node?.abortReason === 'enough');
  });
});
