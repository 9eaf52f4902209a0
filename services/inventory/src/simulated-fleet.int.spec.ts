import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandSubject } from '@patchbay/contracts';
import { DEFAULT_SCENARIO, generateSshKeyPair, SimulatedFleet } from '@patchbay/fleet-lab';
import { NatsBus } from '@patchbay/messaging';
import { loadConfig, startService, type RunningService } from '@patchbay/service-host';
import { NatsServer } from '@patchbay/testing';
import type { RemoteExecutor } from '@patchbay/remote';
import type { HeapRelease } from '@patchbay/telemetry';
import { FactsGatherer } from './facts-gatherer.js';
import { inventoryService } from './index.js';
import type { InventoryService } from './inventory-service.js';
import { INVENTORY_SERVICE, REMOTE_EXECUTOR } from './inventory.module.js';

/**
 * Many endpoints at once (simulated fleet: in-process SSH servers answering as Debian 12 hosts):
 * a CSV import, trust on first use for all, facts from every endpoint with the lab scenario's
 * security and regular updates, and the per-endpoint problems of commands the simulation lacks.
 */
describe('inventory service on a simulated fleet', { timeout: 300_000 }, () => {
  const N = 150;
  let dir: string;
  let nats: NatsServer;
  let fleet: SimulatedFleet;
  let service: RunningService;
  let client: NatsBus;
  const saved = { ...process.env };
  const send = <T>(name: string, payload: unknown) => client.request(commandSubject('inventory', name), { commandId: randomUUID(), actor: 'ops', payload }, { timeoutMs: 240_000 }) as Promise<T>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-inventory-sim-'));
    const keys = generateSshKeyPair();
    writeFileSync(join(dir, 'id_ed25519'), keys.private, { mode: 0o600 });
    fleet = await SimulatedFleet.start({ endpoints: N, scenario: DEFAULT_SCENARIO, clientPublicKey: keys.public, basePort: 26000 });
    nats = await NatsServer.start();
    Object.assign(process.env, { PATCHBAY_INVENTORY_HOST_KEY_POLICY: 'tofu', PATCHBAY_INVENTORY_FACTS_INTERVAL_S: '0', PATCHBAY_INVENTORY_FACTS_CONCURRENCY: '50', PATCHBAY_INVENTORY_REMOTE_PROCESS_CONTROL: 'false' });
    service = await startService(inventoryService, loadConfig({ NATS_URL: nats.url, EVENTSTORE_SQLITE_PATH: join(dir, 'events.db'), LOG_LEVEL: 'silent' }));
    client = await NatsBus.connect({ servers: [nats.url], name: 'inventory-sim-client' });
  });

  after(async () => {
    process.env = saved;
    await client?.close().catch(() => undefined);
    await service?.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    await fleet?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it(`imports ${N} endpoints from CSV, pins every key on first use and gathers facts from all`, async () => {
    const csv = ['endpoint_id,host,port,user,key_ref,groups,labels', ...fleet.endpoints.map((e, i) => `${e.id},${e.host},${e.port},root,file:${join(dir, 'id_ed25519')},sim;wave${i % 3},role=${i % 2 ? 'web' : 'db'}`)].join('\n');
    const imp = await send<{ summary: { registered: number } }>('import', { format: 'csv', fileName: 'sim.csv', content: csv });
    assert.equal(imp.summary.registered, N);

    const r = await send<{ outcomes: Array<{ endpointId: string; ok: boolean; updates?: number; code?: string }> }>('gather-facts', {});
    assert.equal(r.outcomes.length, N);
    assert.deepEqual(r.outcomes.filter((o) => !o.ok), []);
    assert.ok(r.outcomes.every((o) => o.updates === 4), 'every host lists the scenario\'s four updates');
    // No connection is kept between rounds: nothing established to any endpoint's port.
    const ports = new Set(fleet.endpoints.map((e) => e.port));
    const established = execFileSync('ss', ['-Htn', 'state', 'established'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => ports.has(Number(/127\.0\.0\.1:(\d+)\s*$/.exec(l.trim())?.[1])));
    assert.deepEqual(established, [], 'connections left open after facts');

    const list = await send<{ endpoints: Array<{ endpointId: string; pinnedKey?: { fingerprint: string }; facts?: { facts: { updates: Array<{ security: boolean }>; bootId: string } } }> }>('list', {});
    const byId = new Map(list.endpoints.map((e) => [e.endpointId, e]));
    for (const e of fleet.endpoints) {
      const v = byId.get(e.id)!;
      assert.equal(v.pinnedKey?.fingerprint, e.hostKeyFingerprint, `${e.id} pinned the key it presented`);
      assert.equal(v.facts?.facts.updates.filter((u) => u.security).length, 2);
      assert.equal(v.facts?.facts.bootId, e.bootId);
    }
  });

  it('a round that grew the heap ends with a full collection that gives memory back (none when disabled)', async () => {
    const inventory = service.app.get<symbol, InventoryService>(INVENTORY_SERVICE);
    const remote = service.app.get<symbol, RemoteExecutor>(REMOTE_EXECUTOR);
    const released: HeapRelease[] = [];
    const gatherer = new FactsGatherer(inventory, remote, { concurrency: 50, commandTimeoutMs: 10_000, releaseHeapAfterBytes: 1, onHeapReleased: (r) => released.push(r) });
    const outcomes = await gatherer.gather(undefined, true);
    assert.equal(outcomes.filter((o) => o.ok).length, N);
    assert.equal(released.length, 1, 'one release at the end of the round');
    assert.ok(released[0]!.heapAfterBytes < released[0]!.heapBeforeBytes, `heap ${released[0]!.heapBeforeBytes} → ${released[0]!.heapAfterBytes} bytes`);

    const off = new FactsGatherer(inventory, remote, { concurrency: 50, commandTimeoutMs: 10_000, releaseHeapAfterBytes: 0, onHeapReleased: (r) => released.push(r) });
    assert.equal((await off.gather(fleet.endpoints.slice(0, 10).map((e) => e.id), false)).filter((o) => o.ok).length, 10);
    assert.equal(released.length, 1, 'no release when disabled');
  });
});
