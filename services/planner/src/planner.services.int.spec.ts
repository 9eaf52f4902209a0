import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commandSubject,
  FactsGathered,
  HEALTH_COMMAND,
  INVENTORY_COMMANDS,
  PLANNER_COMMANDS,
  POLICY_COMMANDS,
  RunSucceeded,
  toCycleStreamName,
  toEndpointStreamName,
  toRunStreamName,
  type CyclePlan,
  type CycleSummary,
  type ServiceName,
} from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { EventRelay, NatsBus } from '@patchbay/messaging';
import { NatsServer } from '@patchbay/testing';

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

/** The inventory, policy and planner services, each from its own package's entry point. */
const entry = (service: string) => join(__dirname, '..', '..', service, 'dist', 'main.js');

describe('planner with the real inventory and policy services (separate processes)', () => {
  let nats: NatsServer;
  let dir: string;
  let store: SqliteEventStore;
  let bus: NatsBus;
  let relay: EventRelay;
  const children: ChildProcess[] = [];
  let n = 0;
  const send = <R>(service: ServiceName, name: string, payload: unknown, actor = 'alice') => bus.request<R>(commandSubject(service, name), { commandId: `svc-spec-${++n}`, actor, payload }, { timeoutMs: 20_000 });

  before(async () => {
    for (const s of ['inventory', 'policy', 'planner']) assert.ok(existsSync(entry(s)), `build services/${s} first (npx tsc -b services/${s})`);
    nats = await NatsServer.start();
    dir = mkdtempSync(join(tmpdir(), 'patchbay-planner-svc-'));
    const path = join(dir, 'events.db');
    store = SqliteEventStore.open(path);
    bus = await NatsBus.connect({ servers: [nats.url], name: 'planner-services-spec' });
    relay = new EventRelay({ store, bus, pollIntervalMs: 20 });
    relay.start();
    const env = { ...process.env, NATS_URL: nats.url, EVENTSTORE_SQLITE_PATH: path, PATCHBAY_DATA_DIR: dir, LOG_LEVEL: 'warn', PLANNER_TICK_MS: '100' };
    for (const s of ['inventory', 'policy', 'planner'] as const) {
      const child = spawn(process.execPath, [entry(s)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      await eventually(`${s} healthy`, () => send<{ status: string }>(s, HEALTH_COMMAND, {}).then((h) => h.status === 'ok'));
    }
  });

  after(async () => {
    for (const c of children) {
      if (c.exitCode === null) {
        c.kill('SIGTERM');
        await Promise.race([new Promise((r) => c.once('exit', r)), sleep(5000).then(() => c.kill('SIGKILL'))]);
      }
    }
    await relay?.stop();
    await bus?.close();
    await store?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('endpoints registered in the inventory and groups, a workflow and a policy defined in the policy service are planned and released', async () => {
    for (const [id, cluster] of [['web-1', 'a'], ['web-2', 'a'], ['web-3', 'b'], ['db-1', 'c']] as const)
      await send('inventory', INVENTORY_COMMANDS.register, { endpointId: id, labels: { role: id.startsWith('web') ? 'web' : 'db', cluster }, ssh: { host: `${id}.lab`, user: 'patchbay', keyRef: 'env:PATCHBAY_KEY' } });
    await send('policy', POLICY_COMMANDS.saveWorkflow, {
      template: { id: 'standard', phases: { pre: [{ id: 'disk', type: 'check-disk', params: { minFreeMb: 100 } }], patch: [{ id: 'patch', type: 'patch', params: { scope: 'all' } }] } },
    });
    await send('policy', POLICY_COMMANDS.defineGroup, { group: { id: 'web', tier: 'high', selector: 'role=web' } });
    await send('policy', POLICY_COMMANDS.defineGroup, { group: { id: 'db', tier: 'critical', selector: 'role=db' } });
    await send('policy', POLICY_COMMANDS.definePolicy, {
      policy: { id: 'prod', groups: ['web', 'db'], workflow: { id: 'standard', version: 1 }, maxConcurrency: 5, disruptionBudget: { clusterLabel: 'cluster', maxUnavailable: 1 } },
    });
    // Facts come from SSH in production; here they are recorded as the inventory would record them.
    for (const id of ['web-1', 'web-2', 'web-3', 'db-1']) {
      const head = (await store.readStream(toEndpointStreamName(id))).at(-1)!.metadata.revision;
      const facts = { os: { id: 'debian', idLike: [] }, packageManager: 'apt', updates: [{ name: 'openssl', from: '3.0.13', to: '3.0.14', security: true }], updatesKnown: true, rebootRequired: false, disks: [], services: { source: 'systemd', names: [] }, problems: [] };
      await store.append(toEndpointStreamName(id), [{ eventId: `facts-${id}`, type: FactsGathered.type, data: FactsGathered.parse({ endpointId: id, gatheredAt: '2026-11-25T09:00:00Z', facts }), actor: 'spec' }], head);
    }
    const preview = await eventually('membership computed by the policy service reaches the plan', async () => {
      const p = await send<{ plan: CyclePlan; text: string }>('planner', PLANNER_COMMANDS.preview, { policyId: 'prod' });
      return p.plan.waves.reduce((k, w) => k + w.endpoints.length, 0) === 4 ? p : undefined;
    });
    assert.deepEqual(preview.plan.waves.map((w) => `${w.name}:${w.endpoints.map((e) => e.endpointId).join(',')}`), ['tier:critical:db-1', 'tier:high:web-1,web-2,web-3']);
    assert.deepEqual(preview.plan.disruptionBudget?.limits, { a: 1, b: 1, c: 1 });

    const cycle = await send<CycleSummary>('planner', PLANNER_COMMANDS.request, { cycleId: 'real-services', policyId: 'prod' });
    assert.equal(cycle.endpoints, 4);
    const released = async () => (await store.readStream(toCycleStreamName('real-services'), { ifMissing: 'empty' })).filter((e) => e.type === 'EndpointReleased').map((e) => (e.data as { endpointId: string }).endpointId);
    const finish = (endpointId: string) => store.append(toRunStreamName('real-services', endpointId), [{ eventId: `ok-${endpointId}`, type: RunSucceeded.type, data: { cycleId: 'real-services', endpointId, durationMs: 5 }, actor: 'spec' }], 'no-stream');
    await eventually('db wave', async () => (await released()).length === 1);
    await finish('db-1');
    await eventually('web wave: one per cluster', async () => (await released()).length === 3);
    assert.deepEqual((await released()).slice(1), ['web-1', 'web-3'], 'web-2 waits for web-1 (same cluster)');
    await finish('web-1');
    await eventually('web-2 after web-1', async () => (await released()).length === 4);
    await finish('web-2');
    await finish('web-3');
    await eventually('completed', async () => (await send<CycleSummary>('planner', PLANNER_COMMANDS.get, { cycleId: 'real-services' })).status === 'completed');
  });

  it('the planner process stops cleanly on SIGTERM (consumer, tick and connections closed, exit 0)', async () => {
    const planner = children[2]!;
    const exited = new Promise<number | null>((r) => planner.once('exit', (code) => r(code)));
    const t = Date.now();
    planner.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'hung' as const)]);
    assert.equal(code, 0);
    assert.ok(Date.now() - t < 10_000);
  });
});
