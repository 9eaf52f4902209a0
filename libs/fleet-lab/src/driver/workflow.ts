import type { PatchbayError } from '@patchbay/contracts';
import { HostKeyChangedError, PrecheckFailedError, RebootTimeoutError, RemoteCommandError, ValidationFailedError } from './errors.js';
import { quoteArgv } from './quote-argv.js';
import { SshHost, type DriverTarget, type ExecResult, type SshSettings } from './ssh-host.js';

/** Settings of one run of the reference workflow. */
export interface WorkflowOptions {
  username: string;
  privateKey: string | Buffer;
  /** Hosts worked on at once. */
  concurrency: number;
  /** Refuse a host whose key differs from its target's fingerprint (before or after the reboot). Default true. */
  pinHostKeys?: boolean;
  /** The application stopped before patching and validated after. */
  app: { service: string; port: number };
  /** Minimum free space on / before patching (MiB). Default 100. */
  minFreeMb?: number;
  /** From the reboot command until the new boot id is read (ms). Default 120000. */
  rebootTimeoutMs?: number;
  /** Pause between reconnection attempts while a host reboots (ms). Default 150. */
  reconnectIntervalMs?: number;
  /** SSH handshake timeout (ms). Default 20000. */
  connectTimeoutMs?: number;
  /** Called as each host finishes (for progress output). */
  onHostDone?: (outcome: HostOutcome) => void;
}

/** Steps of the reference workflow, in order. */
export type WorkflowStep =
  'connect' | 'boot-id' | 'check-disk' | 'stop-app' | 'apt-update' | 'apt-upgrade' | 'reboot-check' | 'reboot' | 'start-app' | 'validate';

/** What happened on one host. */
export interface HostOutcome {
  id: string;
  host: string;
  port: number;
  status: 'ok' | 'failed';
  rebooted: boolean;
  bootIdBefore?: string;
  bootIdAfter?: string;
  hostKeyFingerprintBefore?: string;
  hostKeyFingerprintAfter?: string;
  failedStep?: WorkflowStep;
  error?: { code: string; message: string };
  durationMs: number;
}

/** Result of a run: outcomes in target order, counts by outcome, wall and controller CPU time. */
export interface WorkflowReport {
  outcomes: HostOutcome[];
  counts: Record<string, number>;
  wallMs: number;
  cpu: { userMs: number; systemMs: number };
}

/** Name of an outcome in the counts: `ok-rebooted`, `ok`, or `failed:<step>:<code>`. */
export function outcomeKey(o: HostOutcome): string {
  if (o.status === 'ok') return o.rebooted ? 'ok-rebooted' : 'ok';
  return `failed:${o.failedStep}:${o.error?.code ?? 'UNKNOWN'}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class StepFailure extends Error {
  constructor(
    readonly step: WorkflowStep,
    readonly error: PatchbayError,
  ) {
    super(error.message);
  }
}

/**
 * The reference workflow against a list of hosts over ssh2: one persistent connection per host,
 * no state kept anywhere but in memory. Per host: read the boot id, check free disk, stop the
 * app, `apt-get update` and `upgrade`, reboot if /run/reboot-required exists and wait for a new
 * boot id (reconnecting every ~150 ms once the host drops the connection), start the app, and
 * validate that it is active and listening. This is the floor Patchbay's orchestration is
 * measured against, so it does nothing beyond that.
 */
export async function runReferenceWorkflow(targets: readonly DriverTarget[], options: WorkflowOptions): Promise<WorkflowReport> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const outcomes: HostOutcome[] = new Array(targets.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency, targets.length)) }, async () => {
    while (next < targets.length) {
      const i = next++;
      const outcome = await patchHost(targets[i]!, options);
      outcomes[i] = outcome;
      options.onHostDone?.(outcome);
    }
  });
  await Promise.all(workers);
  const cpu = process.cpuUsage(cpu0);
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[outcomeKey(o)] = (counts[outcomeKey(o)] ?? 0) + 1;
  return { outcomes, counts, wallMs: performance.now() - t0, cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 } };
}

/** Runs the reference workflow on one host; never throws, failures become the outcome. */
export async function patchHost(target: DriverTarget, options: WorkflowOptions): Promise<HostOutcome> {
  const started = performance.now();
  const settings: SshSettings = {
    username: options.username,
    privateKey: options.privateKey,
    pinHostKeys: options.pinHostKeys ?? true,
    connectTimeoutMs: options.connectTimeoutMs ?? 20_000,
  };
  const sudo = options.username === 'root' ? [] : ['sudo', '-n'];
  const outcome: HostOutcome = { id: target.id, host: target.host, port: target.port, status: 'failed', rebooted: false, durationMs: 0 };
  let ssh: SshHost | undefined;
  const run = async (step: WorkflowStep, argv: string[], okCodes: readonly number[] = [0]): Promise<ExecResult> => {
    const r = await ssh!.exec(argv);
    if (r.exitCode === null || !okCodes.includes(r.exitCode)) throw new StepFailure(step, new RemoteCommandError(step, quoteArgv(argv), r.exitCode, r.stderr));
    return r;
  };
  try {
    try {
      ssh = await SshHost.connect(target, settings);
    } catch (e) {
      throw new StepFailure('connect', e as PatchbayError);
    }
    outcome.hostKeyFingerprintBefore = ssh.hostKeyFingerprint;
    const bootId = (await run('boot-id', ['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim();
    outcome.bootIdBefore = bootId;

    const df = await run('check-disk', ['df', '-P', '/']);
    const freeMb = Number(df.stdout.trim().split('\n')[1]?.split(/\s+/)[3]) / 1024;
    const minFreeMb = options.minFreeMb ?? 100;
    if (!Number.isFinite(freeMb))
      throw new StepFailure('check-disk', new PrecheckFailedError('check-disk', 'cannot read free space from df -P', { output: df.stdout }));
    if (freeMb < minFreeMb)
      throw new StepFailure(
        'check-disk',
        new PrecheckFailedError('check-disk', `only ${freeMb.toFixed(0)} MiB free on /, need ${minFreeMb}`, { freeMb, minFreeMb }),
      );

    await run('stop-app', [...sudo, 'systemctl', 'stop', options.app.service]);
    const apt = [...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get'];
    await run('apt-update', [...apt, '-q', 'update']);
    await run('apt-upgrade', [...apt, '-q', '-y', '-o', 'Dpkg::Options::=--force-confold', 'upgrade']);

    const needsReboot = (await run('reboot-check', ['test', '-e', '/run/reboot-required'], [0, 1])).exitCode === 0;
    if (needsReboot) {
      ssh = await rebootAndWait(ssh, target, settings, bootId, sudo, options);
      outcome.rebooted = true;
    }
    outcome.hostKeyFingerprintAfter = ssh.hostKeyFingerprint;
    outcome.bootIdAfter = needsReboot ? (await run('boot-id', ['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim() : bootId;

    await run('start-app', [...sudo, 'systemctl', 'start', options.app.service]);
    const active = await ssh.exec(['systemctl', 'is-active', options.app.service]);
    if (active.exitCode !== 0 || active.stdout.trim() !== 'active') {
      throw new StepFailure(
        'validate',
        new ValidationFailedError(`${options.app.service} is ${active.stdout.trim() || 'unknown'} after start`, { exitCode: active.exitCode }),
      );
    }
    const listening = await run('validate', ['ss', '-Hltn', 'sport', '=', `:${options.app.port}`]);
    if (listening.stdout.trim() === '')
      throw new StepFailure('validate', new ValidationFailedError(`nothing listens on port ${options.app.port}`, { port: options.app.port }));
    outcome.status = 'ok';
  } catch (e) {
    if (!(e instanceof StepFailure)) throw e;
    outcome.failedStep = e.step;
    outcome.error = { code: e.error.code ?? 'UNEXPECTED', message: e.error.message };
  } finally {
    ssh?.end();
    outcome.durationMs = performance.now() - started;
  }
  return outcome;
}

/**
 * Sends the reboot, waits until the host drops the connection, then reconnects every
 * `reconnectIntervalMs` until the host answers with a different boot id.
 */
async function rebootAndWait(
  ssh: SshHost,
  target: DriverTarget,
  settings: SshSettings,
  bootId: string,
  sudo: string[],
  options: WorkflowOptions,
): Promise<SshHost> {
  const timeoutMs = options.rebootTimeoutMs ?? 120_000;
  const interval = options.reconnectIntervalMs ?? 150;
  const deadline = performance.now() + timeoutMs;
  const r = await ssh.exec([...sudo, 'systemctl', 'reboot']);
  // A reboot may cut the channel before the exit status arrives; that is success too.
  if (r.exitCode !== null && r.exitCode !== 0)
    throw new StepFailure('reboot', new RemoteCommandError('reboot', quoteArgv([...sudo, 'systemctl', 'reboot']), r.exitCode, r.stderr));
  let timer: NodeJS.Timeout | undefined;
  const dropped = await Promise.race([ssh.closed.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
  clearTimeout(timer);
  ssh.end();
  if (!dropped) throw new StepFailure('reboot', new RebootTimeoutError(target.host, target.port, timeoutMs, 'the host never dropped the connection'));
  let lastError: string | undefined;
  while (performance.now() < deadline) {
    try {
      const fresh = await SshHost.connect(target, {
        ...settings,
        connectTimeoutMs: Math.min(settings.connectTimeoutMs, Math.max(1000, deadline - performance.now())),
      });
      const now = await fresh.exec(['cat', '/proc/sys/kernel/random/boot_id']);
      if (now.exitCode === 0 && now.stdout.trim() !== bootId) return fresh;
      lastError = now.exitCode === 0 ? 'boot id unchanged' : now.stderr.trim();
      fresh.end();
    } catch (e) {
      if (e instanceof HostKeyChangedError) throw new StepFailure('reboot', e);
      lastError = (e as Error).message;
    }
    await sleep(interval);
  }
  throw new StepFailure('reboot', new RebootTimeoutError(target.host, target.port, timeoutMs, lastError));
}
