// Diagnostic companion of bench/cycle-vs-ansible.mjs: the floor's commands (the same ones the
// bare ssh2 driver runs, over its SshHost) on a fresh lab, with the time of every step per host,
// grouped like Patchbay's workflow steps so the two can be compared step by step.
//   ./node_modules/.bin/node bench/cycle/floor-steps.mjs [--hosts 20]
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_SCENARIO, Lab, SshHost } from '@patchbay/fleet-lab';

const args = process.argv.slice(2);
const i = args.indexOf('--hosts');
const N = i < 0 ? 20 : Number(args[i + 1]);
const work = mkdtempSync(join(tmpdir(), 'pb-floor-steps-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function host(target, settings, app) {
  const t = {};
  const t0 = performance.now();
  const mark = async (step, fn) => {
    const s = performance.now();
    const r = await fn();
    t[step] = (t[step] ?? 0) + (performance.now() - s) / 1000;
    return r;
  };
  let ssh = await mark('connect', () => SshHost.connect(target, settings));
  const bootId = (await mark('boot-id', () => ssh.exec(['cat', '/proc/sys/kernel/random/boot_id']))).stdout.trim();
  await mark('disk', () => ssh.exec(['df', '-P', '/']));
  await mark('stop-app', () => ssh.exec(['systemctl', 'stop', app.service]));
  await mark('patch', () => ssh.exec(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', 'update']));
  await mark('patch', () => ssh.exec(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', '-y', '-o', 'Dpkg::Options::=--force-confold', 'upgrade']));
  const needs = (await mark('reboot', () => ssh.exec(['test', '-e', '/run/reboot-required']))).exitCode === 0;
  if (needs) {
    ssh = await mark('reboot', async () => {
      await ssh.exec(['systemctl', 'reboot']);
      await ssh.closed;
      t['reboot:until-drop'] = (performance.now() - t0) / 1000;
      ssh.end();
      for (;;) {
        try {
          const fresh = await SshHost.connect(target, settings);
          const now = await fresh.exec(['cat', '/proc/sys/kernel/random/boot_id']);
          if (now.exitCode === 0 && now.stdout.trim() !== bootId) return fresh;
          fresh.end();
        } catch {
          /* still down */
        }
        await sleep(150);
      }
    });
  }
  await mark('start-app', () => ssh.exec(['systemctl', 'start', app.service]));
  await mark('validate', () => ssh.exec(['systemctl', 'is-active', app.service]));
  await mark('validate', () => ssh.exec(['ss', '-Hltn', 'sport', '=', `:${app.port}`]));
  ssh.end();
  t.total = (performance.now() - t0) / 1000;
  return t;
}

const lab = await Lab.up({ hosts: N, scenario: DEFAULT_SCENARIO, stateDir: join(work, 'lab'), log: () => undefined });
try {
  const key = join(work, 'key');
  writeFileSync(key, await lab.clientPrivateKey());
  chmodSync(key, 0o600);
  const settings = { username: 'root', privateKey: await lab.clientPrivateKey(), pinHostKeys: false, connectTimeoutMs: 20_000 };
  const t0 = performance.now();
  const per = await Promise.all(lab.hosts.map((h) => host({ id: h.name, host: h.address, port: 22 }, settings, DEFAULT_SCENARIO.app)));
  const wall = (performance.now() - t0) / 1000;
  const steps = Object.keys(per[0]);
  process.stdout.write(`floor steps, ${N} fresh lab hosts, wall ${wall.toFixed(2)} s\n`);
  for (const s of steps) process.stdout.write(`  ${s.padEnd(18)} median ${median(per.map((p) => p[s] ?? 0)).toFixed(3)} s, max ${Math.max(...per.map((p) => p[s] ?? 0)).toFixed(3)} s\n`);
} finally {
  await lab.down();
  rmSync(work, { recursive: true, force: true });
}
