import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

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
