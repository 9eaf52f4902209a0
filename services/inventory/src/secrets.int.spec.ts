import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandSubject } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { DEFAULT_SCENARIO, Lab } from '@patchbay/fleet-lab';
import { NatsBus } from '@patchbay/messaging';
import { NatsServer } from '@patchbay/testing';

/**
 * The service as its own process with debug logs: a private key handed over in an environment
 * variable (`env:` key reference) and an inventory password must appear in no event and in no log
 * line, while the key is really used to log in.
 */
describe('secrets never reach events or logs', { timeout: 180_000 }, () => {
  let dir: string;
  let nats: NatsServer;
  let lab: Lab;
  let child: ChildProcess;
  let client: NatsBus;
  let logs = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-inventory-secrets-'));
    nats = await NatsServer.start();
    lab = await Lab.up({ hosts: 1, scenario: DEFAULT_SCENARIO, stateDir: join(dir, 'lab') });
    child = spawn(process.execPath, [join(__dirname, 'main.js')], {
      env: {
        PATH: process.env['PATH'],
        NATS_URL: nats.url,
        EVENTSTORE_SQLITE_PATH: join(dir, 'events.db'),
        LOG_LEVEL: 'debug',
        PATCHBAY_INVENTORY_HOST_KEY_POLICY: 'tofu',
        PATCHBAY_INVENTORY_FACTS_INTERVAL_S: '0',
        PATCHBAY_LAB_KEY: readFileSync(lab.clientKeyPath, 'utf8'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    client = await NatsBus.connect({ servers: [nats.url], name: 'secrets-int-client' });
    for (let i = 0; i < 100 && !logs.includes('service ready'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(logs.includes('service ready'), logs);
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await lab?.down().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports with a password and an env: key, gathers facts with that key; neither the password nor the key is in any event or log line', async () => {
    const send = (name: string, payload: unknown) => client.request(commandSubject('inventory', name), { commandId: randomUUID(), actor: 'ops', payload }, { timeoutMs: 60_000 });
    const content = `[lab]\nh0 ansible_host=127.0.0.1 ansible_port=${lab.hosts[0]!.port} ansible_password=Sup3rSecretPassw0rd ansible_become_pass=An0therSecret\n[lab:vars]\npatchbay_key_ref=env:PATCHBAY_LAB_KEY\n`;
    await send('import', { format: 'ansible-ini', fileName: 'lab.ini', content });
    const r = (await send('gather-facts', { endpointIds: ['h0'] })) as { outcomes: Array<{ ok: boolean }> };
    assert.equal(r.outcomes[0]!.ok, true, 'the key from the environment logged in');
    // A wrong reference is reported by name, never with material.
    await send('set-ssh-identity', { endpointId: 'h0', ssh: { host: '127.0.0.1', port: lab.hosts[0]!.port, user: 'root', keyRef: 'env:NO_SUCH_KEY' } });
    const failed = (await send('gather-facts', { endpointIds: ['h0'] })) as { outcomes: Array<{ ok: boolean; code?: string }> };
    assert.equal(failed.outcomes[0]!.code, 'SECRET_UNAVAILABLE');

    const store = SqliteEventStore.open(join(dir, 'events.db'), { readOnly: true });
    let events: string;
    try {
      events = JSON.stringify(await store.readAll(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    } finally {
      await store.close();
    }
    assert.ok(events.includes('env:PATCHBAY_LAB_KEY'), 'the reference is stored');
    assert.ok(events.includes('FactsGathered') && events.includes('SECRET_UNAVAILABLE'));
    const keyLines = readFileSync(lab.clientKeyPath, 'utf8').split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    assert.ok(keyLines.length > 0);
    // The child writes its log lines asynchronously; wait for the lines this test caused.
    const expected = ['SECRET_UNAVAILABLE', 'host key pinned on first use', 'inventory imported'];
    for (let i = 0; i < 100 && !expected.every((x) => logs.includes(x)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(logs.includes('SECRET_UNAVAILABLE') && logs.includes('host key pinned on first use') && logs.includes('inventory imported'), `the failure and decisions are logged: ${logs}`);
    for (const [where, text] of [['events', events], ['logs', logs]] as const) {
      assert.ok(!text.includes('Sup3rSecretPassw0rd') && !text.includes('An0therSecret'), `an inventory password leaked into ${where}`);
      assert.ok(!text.includes('PRIVATE KEY'), `key material leaked into ${where}`);
      for (const l of keyLines) assert.ok(!text.includes(l), `a line of the private key leaked into ${where}`);
    }
  });
});
