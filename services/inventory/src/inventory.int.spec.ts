import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { commandSubject, toEndpointStreamName, type RecordedEvent } from '@patchbay/contracts';
import { DEFAULT_SCENARIO, Lab } from '@patchbay/fleet-lab';
import { NatsBus } from '@patchbay/messaging';
import { loadConfig, startService, type RunningService } from '@patchbay/service-host';
import { NatsServer } from '@patchbay/testing';
import type { FactsGatherer } from './facts-gatherer.js';
import { inventoryService } from './index.js';
import { FACTS_GATHERER } from './inventory.module.js';

/**
 * The inventory service booted as it runs in production (startService: NestJS on the NATS
 * transport, SQLite event store), driven only through NATS commands, against real lab hosts
 * reached over real SSH through libs/remote.
 */
describe('inventory service on the real lab', { timeout: 300_000 }, () => {
  let dir: string;
  let nats: NatsServer;
  let lab: Lab;
  let service: RunningService;
  let client: NatsBus;
  const saved = { ...process.env };

  const send = async <T = Record<string, unknown>>(name: string, payload: unknown, commandId: string = randomUUID()): Promise<T> =>
    client.request(commandSubject('inventory', name), { commandId, actor: 'test-operator', payload }, { timeoutMs: 120_000 }) as Promise<T>;
  const rejects = async (name: string, payload: unknown, code: string) => {
    await assert.rejects(send(name, payload), (e: Error & { code?: string }) => {
      assert.equal(e.code, code, e.message);
      return true;
    });
  };
  const stream = (id: string): Promise<RecordedEvent[]> => service.store.readStream(toEndpointStreamName(id), { ifMissing: 'empty' });
  const types = async (id: string) => (await stream(id)).map((e) => e.type);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-inventory-int-'));
    nats = await NatsServer.start();
    lab = await Lab.up({ hosts: 2, scenario: { ...DEFAULT_SCENARIO, hosts: { '0': { rebootMode: 'new-host-key' } } }, stateDir: join(dir, 'lab') });
    process.env['PATCHBAY_INVENTORY_HOST_KEY_POLICY'] = 'explicit';
    process.env['PATCHBAY_INVENTORY_FACTS_INTERVAL_S'] = '0';
    process.env['PATCHBAY_INVENTORY_FACTS_TIMEOUT_MS'] = '60000';
    service = await startService(inventoryService, loadConfig({ NATS_URL: nats.url, EVENTSTORE_SQLITE_PATH: join(dir, 'events.db'), LOG_LEVEL: 'silent' }));
    client = await NatsBus.connect({ servers: [nats.url], name: 'inventory-int-client' });
  });

  after(async () => {
    process.env = saved;
    await client?.close().catch(() => undefined);
    await service?.close().catch(() => undefined);
    await lab?.down().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const inventory = () => {
    const [h0, h1] = lab.hosts;
    return `# the lab
[web]
lab-web ansible_host=127.0.0.1 ansible_port=${h0!.port} ansible_user=root patchbay_host_key_policy=tofu

[db]
lab-db ansible_host=127.0.0.1 ansible_port=${h1!.port} ansible_user=patchbay ansible_become=true

[lab:children]
web
db

[all:vars]
patchbay_key_ref=file:${lab.clientKeyPath}
ansible_password=do-not-store-me
role=lab
`;
  };

  it('imports an Ansible inventory pointing at the lab, all or nothing, and re-imports without events', async () => {
    const bad = inventory().replace('role=lab', 'role=two words');
    await rejects('import', { format: 'ansible-ini', fileName: 'lab.ini', content: bad }, 'INVALID_LABEL');
    assert.deepEqual(await types('lab-web'), [], 'nothing stored from the bad file');

    const r = await send<{ summary: Record<string, number>; eventsAppended: number }>('import', { format: 'ansible-ini', fileName: 'lab.ini', content: inventory() });
    assert.deepEqual(r.summary, { endpoints: 2, registered: 2, updated: 0, unchanged: 0, retired: 0 });
    assert.equal(r.eventsAppended, 2);
    const web = (await stream('lab-web'))[0]!;
    assert.equal(web.type, 'EndpointRegistered');
    assert.deepEqual((web.data as { labels: unknown }).labels, { 'group.lab': 'true', 'group.web': 'true', role: 'lab' });
    assert.equal(web.metadata.actor, 'test-operator');
    assert.match(web.metadata.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/, 'the trace of the command is in the event');
    const all = JSON.stringify(await service.store.readAll(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    assert.ok(!all.includes('do-not-store-me'), 'the inventory password is in no event');
    assert.ok(!all.includes('PRIVATE KEY') && !all.includes(readFileSync(lab.clientKeyPath, 'utf8').split('\n')[1]!), 'no key material in events');

    const again = await send<{ eventsAppended: number; summary: { unchanged: number } }>('import', { format: 'ansible-ini', fileName: 'lab.ini', content: inventory() });
    assert.equal(again.eventsAppended, 0);
    assert.equal(again.summary.unchanged, 2);
    assert.equal((await service.store.readAll({ categories: ['endpoint'] })).length, 2, 're-import appended nothing');
  });

  it('pins the first host key under trust-on-first-use and gathers real facts (updates classified, reboot required)', async () => {
    const r = await send<{ outcomes: Array<{ endpointId: string; ok: boolean; code?: string }> }>('gather-facts', { endpointIds: ['lab-web'], refresh: true });
    assert.deepEqual(r.outcomes.map((o) => [o.endpointId, o.ok, o.code]), [['lab-web', true, undefined]]);
    const events = await stream('lab-web');
    const pinned = events.find((e) => e.type === 'HostKeyPinned')!;
    assert.deepEqual(pinned.data, {
      endpointId: 'lab-web',
      key: { algorithm: 'ssh-ed25519', fingerprint: (await lab.hosts[0]!.hostKey()).fingerprint },
      decidedBy: 'tofu',
      reason: 'first contact; host-key policy allows trust on first use',
    });
    const view = await send<{ facts: { facts: { os: { id: string }; packageManager: string; updates: Array<{ name: string; from: string; to: string; security: boolean }>; rebootRequired: boolean; bootId: string; disks: unknown[]; uptimeSeconds: number; services: { names: string[] } } } }>('get', { endpointId: 'lab-web' });
    const facts = view.facts.facts;
    assert.equal(facts.os.id, 'debian');
    assert.equal(facts.packageManager, 'apt');
    assert.equal(facts.bootId, await lab.hosts[0]!.bootId());
    assert.ok(facts.disks.length > 0 && facts.uptimeSeconds >= 0 && facts.services.names.includes('sshd'));
    const byName = Object.fromEntries(facts.updates.map((u) => [u.name, u]));
    assert.deepEqual(byName['pb-openssl-demo'], { name: 'pb-openssl-demo', from: '1.0.0-1', to: '1.0.1-1', arch: 'all', origin: 'Debian-Security:bookworm-security', security: true });
    assert.equal(byName['pb-tools']?.security, false);
    assert.equal(facts.rebootRequired, false);

    // The lab's security update asks for a reboot in its postinst; facts must say so.
    await lab.hosts[0]!.exec(['apt-get', 'install', '-y', '-q', 'pb-openssl-demo']);
    await send('gather-facts', { endpointIds: ['lab-web'] });
    const after = await send<{ facts: { facts: { rebootRequired: boolean; updates: Array<{ name: string }> } } }>('get', { endpointId: 'lab-web' });
    assert.equal(after.facts.facts.rebootRequired, true);
    assert.ok(!after.facts.facts.updates.some((u) => u.name === 'pb-openssl-demo'));
  });

  it('without trust-on-first-use the key waits for an operator; accept-host-key with the fingerprint lets facts through (sudo user)', async () => {
    const first = await send<{ outcomes: Array<{ ok: boolean; code?: string }> }>('gather-facts', { endpointIds: ['lab-db'] });
    assert.equal(first.outcomes[0]!.ok, false);
    assert.equal(first.outcomes[0]!.code, 'HOST_KEY_REJECTED');
    const fp = (await lab.hosts[1]!.hostKey()).fingerprint;
    assert.deepEqual(await types('lab-db'), ['EndpointRegistered', 'HostKeyPending', 'FactsGatheringFailed']);
    assert.deepEqual((await stream('lab-db'))[1]!.data, { endpointId: 'lab-db', key: { algorithm: 'ssh-ed25519', fingerprint: fp } });

    await rejects('accept-host-key', { endpointId: 'lab-db', fingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', reason: 'typo' }, 'HOST_KEY_NOT_PRESENTED');
    const accepted = await send<{ pinnedKey: { fingerprint: string } }>('accept-host-key', { endpointId: 'lab-db', fingerprint: fp, reason: 'compared with the console' });
    assert.equal(accepted.pinnedKey.fingerprint, fp);
    const pinned = (await stream('lab-db')).at(-1)!;
    assert.equal(pinned.type, 'HostKeyPinned');
    assert.equal((pinned.data as { decidedBy: string }).decidedBy, 'operator');
    assert.equal(pinned.metadata.actor, 'test-operator');

    const second = await send<{ outcomes: Array<{ ok: boolean; updates?: number }> }>('gather-facts', { endpointIds: ['lab-db'], refresh: true });
    assert.equal(second.outcomes[0]!.ok, true, JSON.stringify(second));
    assert.equal(second.outcomes[0]!.updates, 4, 'apt-get update ran through sudo -n as the patchbay user');
  });

  it('a changed host key is refused and raised as HostKeyMismatchDetected (lab reboot mode new-host-key)', async () => {
    const h0 = lab.hosts[0]!;
    const oldKey = (await h0.hostKey()).fingerprint;
    const oldBoot = await h0.bootId();
    await h0.exec(['reboot']);
    for (let i = 0; i < 200 && (h0.power !== 'running' || (await h0.bootId().catch(() => oldBoot)) === oldBoot); i++) await new Promise((r) => setTimeout(r, 100));
    await h0.waitForSsh();
    const newKey = (await h0.hostKey()).fingerprint;
    assert.notEqual(newKey, oldKey, 'the lab host came back with a new key');
    // The connection from before the reboot is gone; the next one sees the new key.
    const r = await send<{ outcomes: Array<{ ok: boolean; code?: string }> }>('gather-facts', { endpointIds: ['lab-web'] });
    assert.equal(r.outcomes[0]!.ok, false);
    assert.equal(r.outcomes[0]!.code, 'HOST_KEY_REJECTED');
    const events = await stream('lab-web');
    const mismatch = events.find((e) => e.type === 'HostKeyMismatchDetected')!;
    assert.deepEqual(mismatch.data, { endpointId: 'lab-web', pinned: { algorithm: 'ssh-ed25519', fingerprint: oldKey }, presented: { algorithm: 'ssh-ed25519', fingerprint: newKey } });
    assert.equal(events.at(-1)!.type, 'FactsGatheringFailed');
    assert.equal(events.filter((e) => e.type === 'FactsGathered').length, 2, 'no facts were taken over the refused connection');
    // Asking again does not repeat the mismatch event.
    await send('gather-facts', { endpointIds: ['lab-web'] });
    assert.equal((await stream('lab-web')).filter((e) => e.type === 'HostKeyMismatchDetected').length, 1);
  });

  it('an unreachable endpoint is recorded with its code and does not disturb the service', async () => {
    await send('register', { endpointId: 'nowhere', ssh: { host: '127.0.0.1', port: 1, user: 'root', keyRef: `file:${lab.clientKeyPath}` } });
    const r = await send<{ outcomes: Array<{ ok: boolean; code?: string }> }>('gather-facts', { endpointIds: ['nowhere'] });
    assert.deepEqual(r.outcomes.map((o) => [o.ok, o.code]), [[false, 'HOST_UNREACHABLE']]);
    assert.deepEqual(await types('nowhere'), ['EndpointRegistered', 'FactsGatheringFailed']);
    // Other services ask the inventory before they talk to an endpoint.
    const fake = { algorithm: 'ssh-ed25519', fingerprint: 'SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' };
    assert.deepEqual(await send('verify-host-key', { endpointId: 'nowhere', key: fake }), { decision: 'reject' });
    await send('accept-host-key', { endpointId: 'nowhere', fingerprint: fake.fingerprint, reason: 'test' });
    assert.deepEqual(await send('verify-host-key', { endpointId: 'nowhere', key: fake }), { decision: 'accept' });
    assert.deepEqual(await types('nowhere'), ['EndpointRegistered', 'FactsGatheringFailed', 'HostKeyPending', 'HostKeyPinned']);
    // wait: false replies at once; the outcome arrives as an event.
    assert.deepEqual(await send('gather-facts', { endpointIds: ['nowhere'], wait: false }), { started: true, outcomes: [] });
    for (let i = 0; i < 100 && (await types('nowhere')).length < 5; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await types('nowhere')).at(-1), 'FactsGatheringFailed');
    const health = await client.request(commandSubject('inventory', 'system.health'), { commandId: randomUUID(), actor: 't', payload: {} });
    assert.equal((health as { status: string }).status, 'ok');
  });

  it('an odd host (no os-release, fact commands failing) gives facts with recorded problems, not a crash', async () => {
    const h1 = lab.hosts[1]!;
    await h1.exec(['mv', '/etc/os-release', '/etc/os-release.away']);
    await h1.exec(['mv', '/usr/lib/os-release', '/usr/lib/os-release.away']);
    try {
      const r = await send<{ outcomes: Array<{ ok: boolean; problems?: number }> }>('gather-facts', { endpointIds: ['lab-db'] });
      assert.equal(r.outcomes[0]!.ok, true);
      const v = await send<{ facts: { facts: { packageManager: string; updatesKnown: boolean; bootId: string; problems: Array<{ source: string; code: string }> } } }>('get', { endpointId: 'lab-db' });
      assert.equal(v.facts.facts.packageManager, 'unknown');
      assert.equal(v.facts.facts.updatesKnown, false);
      assert.equal(v.facts.facts.bootId, await h1.bootId(), 'the rest of the facts are still there');
      assert.deepEqual(v.facts.facts.problems.filter((p) => p.source === 'os-release').map((p) => p.code), ['FACTS_COMMAND_FAILED']);
    } finally {
      await h1.exec(['mv', '/usr/lib/os-release.away', '/usr/lib/os-release']);
      await h1.exec(['mv', '/etc/os-release.away', '/etc/os-release']);
    }
  });

  it('the fact schedule gathers from every active endpoint on its interval', async () => {
    const count = async () => (await stream('lab-db')).filter((e) => e.type === 'FactsGathered').length;
    const before = await count();
    const gatherer = service.app.get<symbol, FactsGatherer>(FACTS_GATHERER);
    const rounds: number[] = [];
    gatherer.start(1, (outcomes) => rounds.push(outcomes.length));
    try {
      for (let i = 0; i < 100 && rounds.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await gatherer.stop();
    }
    assert.ok(rounds.length >= 1, 'a scheduled round ran');
    assert.equal(rounds[0], 3, 'lab-web, lab-db and nowhere were tried');
    assert.equal(await count(), before + rounds.length);
  });

  it('labels, SSH identity and retirement over NATS; a retried command appends nothing twice; bad payloads are VALIDATION_FAILED', async () => {
    const id = randomUUID();
    const a = await send<{ eventsAppended: number; labels: Record<string, string> }>('update-labels', { endpointId: 'lab-db', set: { tier: 'gold' }, remove: ['role'] }, id);
    assert.equal(a.eventsAppended, 1);
    const b = await send<{ eventsAppended: number }>('update-labels', { endpointId: 'lab-db', set: { tier: 'gold' }, remove: ['role'] }, id);
    assert.equal(b.eventsAppended, 0, 'the retry changed nothing');
    await rejects('set-ssh-identity', { endpointId: 'lab-db', ssh: { host: '127.0.0.1', port: 22, user: 'root', keyRef: '-----BEGIN OPENSSH PRIVATE KEY-----' } }, 'VALIDATION_FAILED');
    await rejects('update-labels', { endpointId: 'lab-db', set: { tier: 'not valid!' } }, 'VALIDATION_FAILED');
    await rejects('retire', { endpointId: 'ghost', reason: 'x' }, 'ENDPOINT_NOT_FOUND');
    await send('retire', { endpointId: 'nowhere', reason: 'decommissioned' });
    const list = await send<{ endpoints: Array<{ endpointId: string }> }>('list', {});
    assert.deepEqual(list.endpoints.map((e) => e.endpointId), ['lab-db', 'lab-web']);
    const withRetired = await send<{ endpoints: Array<{ endpointId: string; status: string }> }>('list', { includeRetired: true });
    assert.equal(withRetired.endpoints.find((e) => e.endpointId === 'nowhere')?.status, 'retired');
  });

  it('a changed file appends only the differences and retires hosts that disappeared when asked', async () => {
    const changed = inventory().replace(/\[db\]\nlab-db[^\n]*\n/, '[db]\n').replace('role=lab', 'role=lab2');
    const r = await send<{ summary: Record<string, number>; eventsAppended: number }>('import', { format: 'ansible-ini', fileName: 'lab.ini', content: changed, retireMissing: true });
    assert.deepEqual(r.summary, { endpoints: 1, registered: 0, updated: 1, unchanged: 0, retired: 1 });
    assert.equal(r.eventsAppended, 2);
    assert.equal((await types('lab-db')).at(-1), 'EndpointRetired');
    assert.equal((await types('lab-web')).filter((t) => t === 'EndpointLabelsChanged').length, 1);
  });
});
