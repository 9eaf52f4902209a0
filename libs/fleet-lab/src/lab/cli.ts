import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { PatchbayError } from '@patchbay/contracts';
import { scenarioSchema, type Scenario } from '../scenario.js';
import { LabAlreadyRunningError, LabConfigInvalidError, LabFaultUnsupportedError, LabHostNotFoundError, LabNotFoundError } from './errors.js';
import { Lab, execInHost, fillDisk, freeDisk, requestForwarderLatency } from './lab.js';
import { addLoss, addNetem, addNftLoss, clearLoss, clearNetem, clearNftLoss, setLink, validateLossPercent } from './network.js';
import { isSameProcess } from './pids.js';
import { defaultStateDir, readLabState } from './state.js';

/** Reads a scenario from a YAML or JSON file and validates it. */
export async function loadLabScenario(path: string): Promise<Scenario> {
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(path, 'utf8'));
  } catch (e) {
    throw new LabConfigInvalidError(`cannot read scenario ${path}: ${(e as Error).message}`, { path });
  }
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) throw new LabConfigInvalidError(`invalid scenario ${path}: ${parsed.error.message}`, { path });
  return parsed.data;
}

/** Faults the CLI can inject into a running lab (each has its undo). */
export const FAULT_KINDS = ['cut', 'restore', 'latency', 'clear-latency', 'loss', 'clear-loss', 'fill-disk', 'free-disk', 'kill-sshd', 'start-sshd', 'stop-app', 'start-app'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Applies a fault to a host of the lab recorded in `stateDir`, from any process (the supervisor
 * applies forwarder latency when the kernel has no netem).
 */
export async function applyFault(stateDir: string, host: string, kind: FaultKind, opts: { ms?: number; lossPercent?: number; leaveMb?: number } = {}): Promise<string> {
  if (opts.lossPercent !== undefined && (kind !== 'latency' || opts.lossPercent !== 0)) validateLossPercent(opts.lossPercent);
  if (kind === 'loss' && opts.lossPercent === undefined) throw new LabConfigInvalidError('fault loss needs --percent <1-100>');
  const state = await readLabState(resolve(stateDir));
  if (!state) throw new LabNotFoundError(stateDir);
  const h = state.hosts.find((x) => x.name === host || String(x.index) === host);
  if (!h) throw new LabHostNotFoundError(host);
  const app = state.scenario.app.service;
  switch (kind) {
    case 'cut':
      await setLink(h.veth, false);
      return `${h.name}: network cut`;
    case 'restore':
      await setLink(h.veth, true);
      return `${h.name}: network restored`;
    case 'latency': {
      const ms = opts.ms ?? 100;
      const loss = opts.lossPercent ?? 0;
      try {
        await addNetem(h.veth, ms, loss);
        return `${h.name}: +${ms} ms${loss > 0 ? `, ${loss} % loss` : ''} (netem)`;
      } catch (e) {
        if (!(e instanceof LabFaultUnsupportedError)) throw e;
        if (loss > 0) await addNftLoss(h.netns, loss);
        await requestForwarderLatency(state.stateDir, h.index, ms);
        return `${h.name}: +${ms} ms on 127.0.0.1:${h.port} (forwarder; no netem in this kernel)${loss > 0 ? `, ${loss} % loss (nftables)` : ''}`;
      }
    }
    case 'clear-latency':
      await clearNetem(h.veth);
      await clearNftLoss(h.netns);
      await requestForwarderLatency(state.stateDir, h.index, 0);
      return `${h.name}: latency cleared`;
    case 'loss': {
      const how = await addLoss(h, opts.lossPercent!);
      return `${h.name}: ${opts.lossPercent} % packet loss (${how})`;
    }
    case 'clear-loss':
      await clearLoss(h);
      return `${h.name}: packet loss cleared`;
    case 'fill-disk':
      await fillDisk(h, opts.leaveMb ?? 1);
      return `${h.name}: disk filled`;
    case 'free-disk':
      await freeDisk(h);
      return `${h.name}: disk freed`;
    case 'kill-sshd':
      await execInHost(h.init, ['/bin/bash', '-c', 'kill -KILL "$(cat /run/patchbay/ssh.pid)"; rm -f /run/patchbay/ssh.pid']);
      return `${h.name}: sshd killed`;
    case 'start-sshd':
      await execInHost(h.init, ['patchbay-service', 'start', 'ssh']);
      return `${h.name}: sshd started`;
    case 'stop-app':
      await execInHost(h.init, ['patchbay-service', 'stop', app]);
      return `${h.name}: ${app} stopped`;
    case 'start-app':
      await execInHost(h.init, ['patchbay-service', 'start', app]);
      return `${h.name}: ${app} started`;
    default: {
      const never: never = kind;
      throw new LabConfigInvalidError(`unknown fault ${String(never)}`);
    }
  }
}

function fail(e: unknown): never {
  if (e instanceof PatchbayError) {
    process.stderr.write(`error ${e.code}: ${e.message}\n`);
  } else {
    process.stderr.write(`error: ${(e as Error).message}\n`);
  }
  process.exit(1);
}

/**
 * Adds `lab up|down|status|cleanup|fault` to a commander program. `lab up` starts a detached
 * supervisor (it keeps the hosts running and reboots them) and returns once every host answers.
 */
export function registerLabCommands(program: Command): Command {
  const lab = program.command('lab').description('a fleet of real Debian hosts on this machine');

  lab
    .command('up')
    .description('bring up N hosts and leave them running under a detached supervisor')
    .requiredOption('--hosts <n>', 'number of hosts', (v) => Number(v))
    .option('--scenario <file>', 'scenario (YAML or JSON)')
    .option('--state-dir <dir>', 'lab state directory', defaultStateDir())
    .option('--subnet <cidr>', 'private /24 for the hosts')
    .option('--timeout <s>', 'seconds to wait for the hosts', (v) => Number(v), 300)
    .action(async (o: { hosts: number; scenario?: string; stateDir: string; subnet?: string; timeout: number }) => {
      try {
        if (!Number.isInteger(o.hosts) || o.hosts < 1) throw new LabConfigInvalidError('--hosts must be a positive integer', { hosts: o.hosts });
        if (o.scenario) await loadLabScenario(o.scenario);
        const stateDir = resolve(o.stateDir);
        const previous = await readLabState(stateDir).catch(() => undefined);
        if (previous && previous.status !== 'down' && isSameProcess(previous.supervisor)) throw new LabAlreadyRunningError(stateDir, previous.supervisor.pid);
        await mkdir(stateDir, { recursive: true });
        const args = [join(__dirname, 'main.js'), 'lab', 'supervise', '--hosts', String(o.hosts), '--state-dir', stateDir];
        if (o.scenario) args.push('--scenario', resolve(o.scenario));
        if (o.subnet) args.push('--subnet', o.subnet);
        const logFd = openSync(join(stateDir, 'supervisor.log'), 'a');
        const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd] });
        closeSync(logFd);
        child.unref();
        let exited = false;
        child.once('exit', () => (exited = true));
        const deadline = Date.now() + o.timeout * 1000;
        for (;;) {
          const state = await readLabState(stateDir).catch(() => undefined);
          if (state && state.supervisor.pid === child.pid) {
            if (state.status === 'up') {
              const status = await Lab.status(stateDir);
              process.stdout.write(`lab ${status.labId} up in ${status.upSeconds?.toFixed(1)} s (supervisor pid ${status.supervisorPid}, client key ${status.clientKey})\n`);
              for (const h of status.hosts) process.stdout.write(`${h.name}\t127.0.0.1:${h.port}\t${h.address}:22\n`);
              process.exit(0);
            }
            if (state.status === 'failed') throw new Error(`lab failed: ${state.error ?? 'see supervisor.log'}`);
          }
          if (exited) {
            const logText = await readFile(join(stateDir, 'supervisor.log'), 'utf8').catch(() => '');
            throw new Error(`supervisor exited: ${logText.trim().split('\n').slice(-3).join(' | ')}`);
          }
          if (Date.now() > deadline) throw new Error(`lab not up after ${o.timeout} s; see ${join(stateDir, 'supervisor.log')}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      } catch (e) {
        fail(e);
      }
    });

  lab
    .command('supervise', { hidden: true })
    .requiredOption('--hosts <n>', 'number of hosts', (v) => Number(v))
    .option('--scenario <file>')
    .option('--state-dir <dir>', 'lab state directory', defaultStateDir())
    .option('--subnet <cidr>')
    .action(async (o: { hosts: number; scenario?: string; stateDir: string; subnet?: string }) => {
      try {
        const scenario = o.scenario ? await loadLabScenario(o.scenario) : undefined;
        const running = await Lab.up({ hosts: o.hosts, scenario, stateDir: o.stateDir, subnet: o.subnet, log: (l) => process.stdout.write(`${new Date().toISOString()} ${l}\n`) });
        running.watchFaultRequests();
        let stopping = false;
        const stop = () => {
          if (stopping) return;
          stopping = true;
          void running.down().finally(() => process.exit(0));
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        process.on('SIGHUP', () => {});
      } catch (e) {
        fail(e);
      }
    });

  lab
    .command('down')
    .description('stop every host and remove mounts, namespaces and processes of the lab')
    .option('--state-dir <dir>', 'lab state directory', defaultStateDir())
    .action(async (o: { stateDir: string }) => {
      try {
        const r = await Lab.stop(o.stateDir);
        process.stdout.write(`lab down (${r.killed.length} leftover processes, ${r.unmounted.length} mounts, ${r.netns.length} namespaces removed after the supervisor)\n`);
      } catch (e) {
        fail(e);
      }
    });

  lab
    .command('status')
    .description('show the hosts of a lab')
    .option('--state-dir <dir>', 'lab state directory', defaultStateDir())
    .option('--json', 'print JSON')
    .action(async (o: { stateDir: string; json?: boolean }) => {
      try {
        const s = await Lab.status(o.stateDir);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
          return;
        }
        process.stdout.write(`lab ${s.labId} ${s.status} (supervisor ${s.supervisorPid} ${s.supervisorAlive ? 'running' : 'gone'}), subnet ${s.subnet}\n`);
        for (const h of s.hosts) process.stdout.write(`${h.name}\t127.0.0.1:${h.port}\t${h.address}\t${h.power}\tboots=${h.boots}\t${h.bootId ?? ''}\n`);
      } catch (e) {
        fail(e);
      }
    });

  lab
    .command('cleanup')
    .description('remove leftovers of labs whose supervisor died')
    .action(async () => {
      try {
        const r = await Lab.cleanupLeftovers();
        process.stdout.write(`${JSON.stringify(r)}\n`);
      } catch (e) {
        fail(e);
      }
    });

  lab
    .command('fault')
    .description(`inject or undo a fault: ${FAULT_KINDS.join(', ')}`)
    .argument('<kind>', FAULT_KINDS.join('|'))
    .argument('<host>', 'host name or index')
    .option('--state-dir <dir>', 'lab state directory', defaultStateDir())
    .option('--ms <n>', 'latency in milliseconds', (v) => Number(v))
    .option('--loss <percent>', 'packet loss with latency (netem, else nftables)', (v) => Number(v))
    .option('--percent <n>', 'packet loss of fault loss, 1-100', (v) => Number(v))
    .option('--leave-mb <n>', 'MiB left free by fill-disk', (v) => Number(v))
    .action(async (kind: string, host: string, o: { stateDir: string; ms?: number; loss?: number; percent?: number; leaveMb?: number }) => {
      try {
        if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new LabConfigInvalidError(`unknown fault ${kind}; one of ${FAULT_KINDS.join(', ')}`, { kind });
        const state = await readLabState(resolve(o.stateDir));
        if (state && !isSameProcess(state.supervisor)) throw new LabNotFoundError(o.stateDir);
        process.stdout.write(`${await applyFault(o.stateDir, host, kind as FaultKind, { ms: o.ms, lossPercent: kind === 'loss' ? o.percent : o.loss, leaveMb: o.leaveMb })}\n`);
      } catch (e) {
        fail(e);
      }
    });

  return lab;
}
