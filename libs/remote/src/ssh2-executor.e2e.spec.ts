import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_SCENARIO, Lab, scenarioSchema, type LabHost } from '@patchbay/fleet-lab';
import { Client } from 'ssh2';
import { RemoteError } from './errors.js';
import { pinnedHostKeys, sshCryptoBackend } from './host-key.js';
import type { RemoteTarget } from './port.js';
import { Ssh2RemoteExecutor } from './ssh2-executor.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejectsWith(p: Promise<unknown>, code: string): Promise<RemoteError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RemoteError, `expected a RemoteError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

/** Pids of processes on the host whose command line is exactly `args` (read inside the host, not over SSH). */
async function pidsOf(host: LabHost, args: string): Promise<number[]> {
  const r = await host.exec(['ps', '-eo', 'pid=,args=']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null && m[2] === args)
    .map((m) => Number(m[1]));
}

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('Ssh2RemoteExecutor against real lab hosts', () => {
  const scenario = scenarioSchema.parse({
    name: 'remote-e2e',
    packages: DEFAULT_SCENARIO.packages,
    defaults: { rebootDelayMs: 500 },
    hosts: { '1': { rebootMode: 'new-host-key' } },
  });
  let stateDir: string;
  let lab: Lab;
  let ex: Ssh2RemoteExecutor;
  const pins: Record<string, string> = {};
  const target = (i: number, user: 'root' | 'patchbay' = 'root'): RemoteTarget => ({
    endpointId: lab.hosts[i]!.name,
    host: lab.hosts[i]!.host,
    port: lab.hosts[i]!.port,
    user,
    keyRef: `file:${lab.clientKeyPath}`,
  });

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'pb-remote-e2e-'));
    lab = await Lab.up({ hosts: 2, scenario, stateDir });
    for (const h of lab.hosts) pins[h.name] = (await h.hostKey()).fingerprint;
    ex = new Ssh2RemoteExecutor({ hostKeyVerifier: pinnedHostKeys(pins), stopGraceMs: 1_000 });
  });
  after(async () => {
    await ex?.close();
    await lab?.down();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('uses the native crypto binding', () => {
    assert.equal(sshCryptoBackend(), 'native');
  });

  it('runs as root, and as the automation user with sudo: true (or the target default)', async () => {
    assert.equal((await ex.run(target(0), ['id', '-u'])).stdoutTail, '0\n');
    assert.equal((await ex.run(target(0, 'patchbay'), ['id', '-un'])).stdoutTail, 'patchbay\n');
    assert.equal((await ex.run(target(0, 'patchbay'), ['id', '-u'], { sudo: true })).stdoutTail, '0\n');
    assert.equal((await ex.run({ ...target(0, 'patchbay'), sudo: true }, ['id', '-u'])).stdoutTail, '0\n');
    const env = await ex.run(target(0, 'patchbay'), ['printenv', 'PB_X'], { sudo: true, env: { PB_X: "$(id) 'x'" } });
    assert.equal(env.stdoutTail, "$(id) 'x'\n", 'env values arrive verbatim, through sudo');
  });

  it('captures real apt output: update, then the upgradable list', async () => {
    const update = await ex.run(target(0, 'patchbay'), ['apt-get', 'update'], { sudo: true, timeoutMs: 60_000 });
    assert.equal(update.exitCode, 0, update.stderrTail);
    const list = await ex.run(target(0, 'patchbay'), ['apt', 'list', '--upgradable'], { sudo: true, captureStdout: 1 << 20 });
    assert.equal(list.exitCode, 0);
    const lines = (list.stdout ?? '').split('\n').filter((l) => l.includes('[upgradable from:'));
    assert.ok(lines.length >= 3, list.stdout);
    for (const l of lines) assert.match(l, /^[a-z0-9.+-]+\/\S+ \S+ \S+ \[upgradable from: \S+\]$/);
    assert.match(list.stderrTail, /does not have a stable CLI interface/);
  });

  it('feeds stdin and keeps large output as tail, count and exact digest', async () => {
    const echoed = await ex.run(target(0), ['cat'], { stdin: 'line one\nline two\n' });
    assert.equal(echoed.stdoutTail, 'line one\nline two\n');
    const r = await ex.run(target(0), ['seq', '1', '200000'], { tailLines: 3, outputCapBytes: 4096, captureStdout: 10 });
    const full = Array.from({ length: 200_000 }, (_, i) => `${i + 1}\n`).join('');
    assert.equal(r.stdoutBytes, Buffer.byteLength(full));
    assert.equal(r.stdoutTail, '199998\n199999\n200000\n');
    assert.equal(r.stdout, full.slice(0, 10));
    assert.equal(r.truncated, true);
    const expected = createHash('sha256').update(createHash('sha256').update(full).digest()).update(createHash('sha256').update('').digest()).digest('hex');
    assert.equal(r.digest, expected);
    const bad = await ex.run(target(0), ['sh', '-c', 'echo oops >&2; exit 3']);
    assert.deepEqual([bad.exitCode, bad.stderrTail], [3, 'oops\n']);
    const killed = await ex.run(target(0), ['sh', '-c', 'kill -TERM $$']);
    assert.deepEqual([killed.exitCode, killed.signal], [null, 'TERM']);
  });

  for (const [user, sudo, secs] of [
    ['root', false, '30.101'],
    ['patchbay', true, '30.102'],
  ] as const) {
    it(`a timed-out \`sleep 30\` (${user}${sudo ? ' with sudo' : ''}) is stopped after 1 s and no longer runs on the host`, async () => {
      const host = lab.hosts[0]!;
      const started = Date.now();
      await rejectsWith(ex.run(target(0, user), ['sleep', secs], { timeoutMs: 1_000, sudo }), 'REMOTE_TIMEOUT');
      const took = Date.now() - started;
      // Under 2 s: the controller stopped it, not the remote backstop (deadline + 1 s).
      assert.ok(took >= 1_000 && took < 1_900, `stopped after ${took} ms`);
      assert.deepEqual(await pidsOf(host, `sleep ${secs}`), [], 'the remote sleep is gone');
    });
  }

  it('12 commands at once on one connection each get their own output', async () => {
    const t = target(0, 'patchbay');
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => ex.run(t, ['sh', '-c', 'sleep 0.3; echo "$1"', 'sh', String(i)])));
    assert.deepEqual(
      results.map((r) => r.stdoutTail),
      Array.from({ length: 12 }, (_, i) => `${i}\n`),
    );
  });

  it('cancellation stops the remote process too', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    await rejectsWith(ex.run(target(0, 'patchbay'), ['sleep', '30.103'], { sudo: true, signal: ac.signal }), 'CANCELLED');
    assert.deepEqual(await pidsOf(lab.hosts[0]!, 'sleep 30.103'), []);
  });

  it('why: closing the channel alone leaves the remote process running', async () => {
    const host = lab.hosts[0]!;
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({ host: host.host, port: host.port, username: 'root', privateKey: readFileSync(lab.clientKeyPath) });
    });
    try {
      await new Promise<void>((resolve, reject) =>
        client.exec('sleep 30.104', (err, ch) => {
          if (err) return reject(err);
          ch.end();
          setTimeout(() => {
            ch.close();
            resolve();
          }, 300);
        }),
      );
      await sleep(500);
      const pids = await pidsOf(host, 'sleep 30.104');
      assert.equal(pids.length, 1, 'sshd did not stop it');
      await host.exec(['kill', String(pids[0])]);
    } finally {
      client.end();
    }
  });

  it('if the controller goes away mid-command, the remote deadline still ends the process', async () => {
    const host = lab.hosts[0]!;
    const run = ex.run(target(0), ['sleep', '30.105'], { timeoutMs: 1_500 });
    await sleep(300);
    await ex.close(host.name);
    await rejectsWith(run, 'CONNECTION_LOST');
    assert.equal((await pidsOf(host, 'sleep 30.105')).length, 1, 'still running right after the drop');
    // Deadline = timeout + 1 s after the exec; allow the poll interval on top.
    const gone = await waitUntil('the backstop ends sleep', async () => (await pidsOf(host, 'sleep 30.105')).length === 0, 4_000);
    assert.ok(gone < 4_000);
  });

  it('a reboot drops running commands and is confirmed by a new boot id', async () => {
    const host = lab.hosts[0]!;
    const t = target(0);
    const oldBoot = await ex.readBootId(t);
    assert.equal(oldBoot, await host.bootId());
    const long = rejectsWith(ex.run(t, ['sleep', '60']), 'CONNECTION_LOST');
    const reboot = await ex.run(t, ['reboot']);
    assert.equal(reboot.exitCode, 0);
    const started = Date.now();
    const newBoot = await ex.waitForNewBootId(t, oldBoot, { timeoutMs: 30_000 });
    const took = Date.now() - started;
    await long;
    assert.notEqual(newBoot, oldBoot);
    assert.equal(newBoot, await host.bootId());
    assert.ok(took < 10_000, `back after ${took} ms`);
    assert.equal((await ex.run(t, ['true'])).exitCode, 0);
  });

  it('a host back with a new host key is refused through the verifier', async () => {
    const host = lab.hosts[1]!;
    const t = target(1);
    const before = (await host.hostKey()).fingerprint;
    const oldBoot = await ex.readBootId(t);
    await ex.run(t, ['reboot']);
    const e = await rejectsWith(ex.waitForNewBootId(t, oldBoot, { timeoutMs: 30_000 }), 'HOST_KEY_REJECTED');
    const after = (await host.hostKey()).fingerprint;
    assert.notEqual(after, before);
    assert.equal(e.details['sha256Fingerprint'], after);
    await rejectsWith(ex.run(t, ['true']), 'HOST_KEY_REJECTED');
  });

  it('a wrong key is AUTH_FAILED on a real sshd', async () => {
    const keyFile = join(stateDir, 'wrong-key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    pins['host0-wrong-key'] = pins[lab.hosts[0]!.name]!;
    await rejectsWith(ex.run({ ...target(0), endpointId: 'host0-wrong-key', keyRef: `file:${keyFile}` }, ['true']), 'AUTH_FAILED');
  });
});
