import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'ssh2';
import { DEFAULT_SCENARIO, scenarioSchema } from '../scenario.js';
import { FdLimitTooLowError, SimulatedFleetConfigError } from './errors.js';
import { SimulatedFleet } from './fleet.js';
import { generateSshKeyPair, sshFingerprint } from './host-keys.js';

const clientKey = generateSshKeyPair();
const otherKey = generateSshKeyPair();
const basePort = (): number => 21_000 + Math.floor(Math.random() * 9_000);

interface Session {
  client: Client;
  fingerprint: string;
  exec(cmd: string, env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
  closed: Promise<void>;
}

function connect(port: number, opts: { username?: string; privateKey?: string } = {}): Promise<Session> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let fingerprint = '';
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.once('error', reject);
    client.once('ready', () => {
      client.on('error', () => undefined);
      resolve({
        client,
        fingerprint,
        closed,
        exec: (cmd, env) =>
          new Promise((res, rej) =>
            client.exec(cmd, { env }, (e, s) => {
              if (e) return rej(e);
              let stdout = '';
              let stderr = '';
              let code: number | null = null;
              s.on('data', (d: Buffer) => (stdout += d));
              s.stderr.on('data', (d: Buffer) => (stderr += d));
              s.on('exit', (c: number) => (code = c));
              s.on('close', () => res({ code, stdout, stderr }));
            }),
          ),
      });
    });
    client.connect({
      host: '127.0.0.1',
      port,
      username: opts.username ?? 'root',
      privateKey: opts.privateKey ?? clientKey.private,
      readyTimeout: 5000,
      hostVerifier: (key: Buffer) => {
        fingerprint = sshFingerprint(key);
        return true;
      },
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('simulated fleet: SSH endpoints (int)', () => {
  let fleet: SimulatedFleet;
  before(async () => {
    const scenario = scenarioSchema.parse({
      ...DEFAULT_SCENARIO,
      defaults: { rebootDelayMs: 300 },
      hosts: { '1': { rebootMode: 'new-host-key' }, '2': { rebootMode: 'never' } },
    });
    fleet = await SimulatedFleet.start({ endpoints: 4, scenario, clientPublicKey: clientKey.public, basePort: basePort(), shutdownDelayMs: 20 });
  });
  after(async () => fleet?.stop());

  it('gives every simulated endpoint its own port and presents the advertised host key', async () => {
    const ports = new Set(fleet.endpoints.map((e) => e.port));
    assert.equal(ports.size, 4);
    const s = await connect(fleet.endpoints[0]!.port);
    assert.equal(s.fingerprint, fleet.endpoints[0]!.hostKeyFingerprint);
    assert.match(s.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    const r = await s.exec('hostname');
    assert.deepEqual(r, { code: 0, stdout: 'sim-00000\n', stderr: '' });
    s.client.end();
  });

  it('accepts only the configured key and known users on the simulated fleet', async () => {
    const before = fleet.counters.authFailures;
    await assert.rejects(connect(fleet.endpoints[0]!.port, { privateKey: otherKey.private }), /authentication methods failed/);
    await assert.rejects(connect(fleet.endpoints[0]!.port, { username: 'mallory' }), /authentication methods failed/);
    assert.ok(fleet.counters.authFailures > before);
    const s = await connect(fleet.endpoints[0]!.port, { username: 'patchbay' });
    assert.equal((await s.exec('id -u')).stdout, '1000\n');
    s.client.end();
  });

  it('honours env requests, stderr and exit status on the exec channel', async () => {
    const s = await connect(fleet.endpoints[3]!.port);
    const r = await s.exec('env', { DEBIAN_FRONTEND: 'noninteractive' });
    assert.match(r.stdout, /^DEBIAN_FRONTEND=noninteractive$/m);
    assert.deepEqual(await s.exec('nosuchcmd'), { code: 127, stdout: '', stderr: 'bash: nosuchcmd: command not found\n' });
    assert.equal((await s.exec('cat /etc/nope')).code, 1);
    s.client.end();
  });

  it('a simulated reboot drops the sessions, refuses connections, then comes back with a new boot id', async () => {
    const ep = fleet.endpoints[0]!;
    const s = await connect(ep.port);
    const bootBefore = (await s.exec('cat /proc/sys/kernel/random/boot_id')).stdout.trim();
    assert.equal((await s.exec('systemctl reboot')).code, 0);
    await s.closed;
    await assert.rejects(connect(ep.port), /ECONNREFUSED/);
    await sleep(500);
    const again = await connect(ep.port);
    const bootAfter = (await again.exec('cat /proc/sys/kernel/random/boot_id')).stdout.trim();
    assert.notEqual(bootAfter, bootBefore);
    assert.equal(again.fingerprint, s.fingerprint, 'normal reboots keep the host key');
    assert.equal((await again.exec('systemctl is-active patchbay-demo-app')).code, 3, 'the app is stopped after boot');
    assert.deepEqual(ep.machine.bootHistory, [bootBefore, bootAfter]);
    again.client.end();
  });

  it('new-host-key mode presents a different host key after the simulated reboot', async () => {
    const ep = fleet.endpoints[1]!;
    const s = await connect(ep.port);
    await s.exec('reboot');
    await s.closed;
    await sleep(500);
    const again = await connect(ep.port);
    assert.notEqual(again.fingerprint, s.fingerprint);
    assert.equal(again.fingerprint, ep.hostKeyFingerprint);
    again.client.end();
  });

  it('never mode keeps refusing connections after the simulated reboot', async () => {
    const ep = fleet.endpoints[2]!;
    const s = await connect(ep.port);
    await s.exec('shutdown -r now');
    await s.closed;
    await sleep(600);
    await assert.rejects(connect(ep.port), /ECONNREFUSED/);
    assert.equal(ep.phase, 'down');
  });
});

describe('simulated fleet: bad options (int)', () => {
  it('throws FdLimitTooLowError when ulimit -n cannot hold the listeners', async () => {
    await assert.rejects(
      SimulatedFleet.start({ endpoints: 10, clientPublicKey: clientKey.public, fdHeadroom: 100_000_000 }),
      (e: unknown) => e instanceof FdLimitTooLowError && e.code === 'FD_LIMIT_TOO_LOW' && /ulimit -n/.test(e.message),
    );
  });

  it('throws SimulatedFleetConfigError for a bad endpoint count, scenario or key', async () => {
    const isConfig = (e: unknown): boolean => e instanceof SimulatedFleetConfigError && e.code === 'SIM_FLEET_CONFIG';
    await assert.rejects(SimulatedFleet.start({ endpoints: 0, clientPublicKey: clientKey.public }), isConfig);
    await assert.rejects(SimulatedFleet.start({ endpoints: 1, clientPublicKey: clientKey.public, scenario: { name: 'x', packages: 'no' } }), isConfig);
    await assert.rejects(SimulatedFleet.start({ endpoints: 1, clientPublicKey: 'not a key', basePort: basePort() }), isConfig);
  });
});
