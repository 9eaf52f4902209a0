import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_SCENARIO, scenarioSchema } from '../scenario.js';
import { SimulatedFleet } from '../sim/fleet.js';
import { generateSshKeyPair } from '../sim/host-keys.js';

const run = promisify(execFile);
const MAIN = join(__dirname, 'main.js');

describe('ssh2 driver CLI with a simulated fleet in a child process (int)', () => {
  it('prints wall time, outcome counts and controller CPU for a simulated fleet', async () => {
    const { stdout } = await run(
      process.execPath,
      [MAIN, '--fleet', 'sim', '--endpoints', '6', '--concurrency', '3', '--reboot-delay-ms', '200', '--apt-latency-ms', '10', '--user', 'patchbay'],
      {
        timeout: 60_000,
      },
    );
    assert.match(stdout, /^fleet: simulated, 6 endpoints in a child process/m);
    assert.match(stdout, /^wall time: \d+\.\d\d s$/m);
    assert.match(stdout, /^outcomes: ok-rebooted=6$/m);
    assert.match(stdout, /^controller CPU: user \d+\.\d\d s \+ system \d+\.\d\d s = \d+\.\d\d s, max RSS \d+ MiB$/m);
    assert.match(stdout, /^fleet process: CPU .*"reboots":6/m);
  });

  it('exits 1 and lists failures when simulated hosts fail', async () => {
    await assert.rejects(
      run(process.execPath, [MAIN, '--fleet', 'sim', '--endpoints', '3', '--failure-rate', '1'], { timeout: 60_000 }),
      (e: { code?: number; stdout?: string }) =>
        e.code === 1 &&
        /failed at boot-id: \[REMOTE_COMMAND_FAILED\]/.test(e.stdout ?? '') &&
        /outcomes: failed:boot-id:REMOTE_COMMAND_FAILED=3/.test(e.stdout ?? ''),
    );
  });

  it('--fleet hosts drives any list of targets (here a simulated fleet served by the test)', async () => {
    const key = generateSshKeyPair();
    const scenario = scenarioSchema.parse({ ...DEFAULT_SCENARIO, defaults: { rebootDelayMs: 200 } });
    const fleet = await SimulatedFleet.start({ endpoints: 3, scenario, clientPublicKey: key.public, basePort: 21_000 + Math.floor(Math.random() * 9_000) });
    const dir = await mkdtemp(join(tmpdir(), 'pb-driver-'));
    try {
      await writeFile(join(dir, 'targets.json'), JSON.stringify(fleet.targets()));
      await writeFile(join(dir, 'id'), key.private, { mode: 0o600 });
      const { stdout } = await run(
        process.execPath,
        [MAIN, '--fleet', 'hosts', '--targets', join(dir, 'targets.json'), '--identity', join(dir, 'id'), '--json'],
        { timeout: 60_000 },
      );
      assert.match(stdout, /^outcomes: ok-rebooted=3$/m);
      assert.equal(fleet.counters.reboots, 3);
      await writeFile(join(dir, 'bad.json'), JSON.stringify([{ host: 'x' }]));
      await assert.rejects(
        run(process.execPath, [MAIN, '--fleet', 'hosts', '--targets', join(dir, 'bad.json'), '--identity', join(dir, 'id')]),
        (e: { code?: number; stderr?: string }) => e.code === 2 && /\[DRIVER_USAGE\] targets\[0\] needs host/.test(e.stderr ?? ''),
      );
    } finally {
      await fleet.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad usage with a stable code and exit 2', async () => {
    await assert.rejects(
      run(process.execPath, [MAIN, '--fleet', 'cloud']),
      (e: { code?: number; stderr?: string }) => e.code === 2 && /\[DRIVER_USAGE\]/.test(e.stderr ?? ''),
    );
    await assert.rejects(
      run(process.execPath, [MAIN, '--fleet', 'sim']),
      (e: { code?: number; stderr?: string }) => e.code === 2 && /needs --endpoints/.test(e.stderr ?? ''),
    );
  });
});
