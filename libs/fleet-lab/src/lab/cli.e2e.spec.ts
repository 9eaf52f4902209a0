import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { Lab } from './lab.js';
import { sshRun } from './lab-ssh.js';
import { isAlive } from './pids.js';
import { readLabState } from './state.js';

const main = join(__dirname, 'main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [main, 'lab', ...args], { encoding: 'utf8', timeout: 180_000 });

function assertNothingLeft(stateDir: string, labId: string, pids: number[]): void {
  assert.deepEqual(pids.filter(isAlive), [], 'no lab process left');
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(stateDir), 'no mounts left');
  assert.ok(!execFileSync('ip', ['netns', 'list']).toString().includes(labId), 'no namespaces left');
  assert.ok(!execFileSync('ip', ['-o', 'link']).toString().includes(`pb${labId}`), 'no links left');
}

describe('lab CLI', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'pb-lab-cli-'));
    dirs.push(d);
    return d;
  };
  after(async () => {
    for (const d of dirs) {
      await Lab.stop(d).catch(() => {});
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('lab up leaves hosts running under a detached supervisor; faults apply; lab down removes everything', async () => {
    const stateDir = tmp();
    const scenarioFile = join(stateDir, 'scenario.yaml');
    writeFileSync(scenarioFile, 'name: cli\napp: { service: demo-app, port: 8081 }\npackages:\n  - { name: pb-cli-tool, installed: "1.0-1", available: "1.1-1" }\n');
    const up = cli('up', '--hosts', '2', '--state-dir', stateDir, '--scenario', scenarioFile);
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stdout, /^host0\t127\.0\.0\.1:\d+\t10\.\d+\.\d+\.10:22$/m);
    const status = await Lab.status(stateDir);
    assert.ok(status.supervisorAlive);
    assert.notEqual(status.supervisorPid, process.pid);
    assert.deepEqual(status.hosts.map((h) => [h.name, h.running]), [['host0', true], ['host1', true]]);
    const twice = cli('up', '--hosts', '1', '--state-dir', stateDir);
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /LAB_ALREADY_RUNNING/);
    const key = readFileSync(status.clientKey);
    const r = await sshRun({ host: '127.0.0.1', port: status.hosts[0]!.port }, { username: 'root', privateKey: key }, 'apt-get update -qq && apt list --upgradable 2>/dev/null | grep pb-cli-tool');
    assert.match(r.stdout, /pb-cli-tool\/bookworm 1\.1-1 all \[upgradable from: 1\.0-1\]/);

    const banner = async (port: number): Promise<number> => {
      const t0 = Date.now();
      await new Promise<void>((res, rej) => {
        const sock = connect({ host: '127.0.0.1', port });
        sock.once('data', () => {
          sock.destroy();
          res();
        });
        sock.once('error', rej);
      });
      return Date.now() - t0;
    };
    const port0 = status.hosts[0]!.port;
    const fast = await banner(port0);
    assert.equal(cli('fault', 'latency', 'host0', '--ms', '400', '--state-dir', stateDir).status, 0);
    await new Promise((res) => setTimeout(res, 800));
    const slow = await banner(port0);
    assert.ok(slow - fast >= 150, `banner ${slow} ms with latency vs ${fast} ms`);
    assert.equal(cli('fault', 'clear-latency', 'host0', '--state-dir', stateDir).status, 0);
    await new Promise((res) => setTimeout(res, 800));
    assert.ok((await banner(port0)) < fast + 100);

    // Loss is applied by the CLI itself (nftables in the host's namespace, or netem): no supervisor round trip.
    const reaches = (host: string): Promise<boolean> =>
      new Promise((res) => {
        const sock = connect({ host, port: 22 });
        const timer = setTimeout(() => done(false), 700);
        const done = (ok: boolean) => {
          clearTimeout(timer);
          sock.destroy();
          res(ok);
        };
        sock.once('connect', () => done(true));
        sock.once('error', () => done(false));
      });
    const addr0 = status.hosts[0]!.address;
    const loss = cli('fault', 'loss', 'host0', '--percent', '100', '--state-dir', stateDir);
    assert.equal(loss.status, 0, loss.stderr);
    assert.match(loss.stdout, /host0: 100 % packet loss \((nftables|netem)\)/);
    assert.equal(await reaches(addr0), false, 'every packet to host0 is dropped');
    assert.equal(await reaches(status.hosts[1]!.address), true, 'host1 is not affected');
    assert.equal(cli('fault', 'clear-loss', 'host0', '--state-dir', stateDir).status, 0);
    assert.equal(await reaches(addr0), true, 'clear-loss lets packets through again');

    const app = `http://${status.hosts[1]!.address}:8081/health`;
    assert.equal((await fetch(app)).status, 200);
    const stop = cli('fault', 'stop-app', 'host1', '--state-dir', stateDir);
    assert.equal(stop.status, 0, stop.stderr);
    await assert.rejects(fetch(app, { signal: AbortSignal.timeout(1000) }));
    assert.equal(cli('fault', 'start-app', 'host1', '--state-dir', stateDir).status, 0);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal((await fetch(app)).status, 200);

    // A reboot is handled by the detached supervisor: the host comes back with a new boot id.
    const boot = status.hosts[0]!.bootId;
    await sshRun({ host: '127.0.0.1', port: status.hosts[0]!.port }, { username: 'root', privateKey: key }, 'reboot');
    let again = boot;
    for (let i = 0; i < 60 && again === boot; i++) {
      await new Promise((res) => setTimeout(res, 200));
      const s = await Lab.status(stateDir);
      if (s.hosts[0]!.running && s.hosts[0]!.power === 'running') again = s.hosts[0]!.bootId;
    }
    assert.notEqual(again, boot);

    const state = (await readLabState(stateDir))!;
    const pids = [state.supervisor.pid, ...state.hosts.flatMap((h) => [h.init?.pid, h.unshare?.pid])].filter((p): p is number => !!p);
    const down = cli('down', '--state-dir', stateDir);
    assert.equal(down.status, 0, down.stderr);
    assertNothingLeft(stateDir, state.labId, pids);
  });

  it('cleanupLeftovers removes what a killed supervisor left behind', async () => {
    const stateDir = tmp();
    const up = cli('up', '--hosts', '1', '--state-dir', stateDir);
    assert.equal(up.status, 0, up.stderr);
    const state = (await readLabState(stateDir))!;
    const hostPids = state.hosts.flatMap((h) => [h.init!.pid, h.unshare!.pid]);
    process.kill(state.supervisor.pid, 'SIGKILL');
    await new Promise((res) => setTimeout(res, 300));
    assert.ok(hostPids.every(isAlive), 'hosts outlive a crashed supervisor');
    const report = await Lab.cleanupLeftovers();
    assert.ok(report.labs.includes(state.labId));
    assertNothingLeft(stateDir, state.labId, [state.supervisor.pid, ...hostPids]);
  });

  it('bad input fails with a stable code', () => {
    const r = cli('up', '--hosts', '0', '--state-dir', tmp());
    assert.equal(r.status, 1);
    assert.match(r.stderr, /LAB_CONFIG_INVALID/);
    const f = cli('fault', 'melt', 'host0', '--state-dir', tmp());
    assert.equal(f.status, 1);
    assert.match(f.stderr, /LAB_CONFIG_INVALID/);
    for (const bad of [['--percent', '0'], ['--percent', '150'], ['--percent', 'x'], []]) {
      const r = cli('fault', 'loss', 'host0', ...bad, '--state-dir', tmp());
      assert.equal(r.status, 1, bad.join(' '));
      assert.match(r.stderr, /LAB_CONFIG_INVALID/);
    }
  });
});
