import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatchbayError, type CommandRecord, type RunPlan, type WorkflowStep } from '@patchbay/contracts';
import type { RemoteExecutor, RemoteTarget } from '@patchbay/remote';
import {
  cleanupCommands,
  downgradeCommand,
  installCommand,
  interpretPackageResult,
  isSecuritySuite,
  listInstalledCommand,
  listUpgradableCommand,
  managerFromOsRelease,
  packageChanges,
  parseDfFreeMb,
  parseAptUpgradable,
  parseInstalledPackages,
  refreshCommand,
  repairCommands,
  type InstallRequest,
  type ManagerCommand,
  type PackageManager,
} from '../domain/package-commands.js';
import type { PlannedStep, RunState } from '../domain/run-state.js';
import { callHttp, runOnController, runOnEndpoint, type RanCommand } from './command-runner.js';

/**
 * The activities: what each built-in step does on the endpoint (or the controller). Each takes an
 * AbortSignal that fires on the step's timeout or the cycle's abort, runs argv only through the
 * remote port, and returns an outcome; the runner records it. Events that must be stored while a
 * step is still running (RebootIssued before the reboot, the package records) go through `emit`,
 * which resolves only once the event is stored.
 */

/** A step that could not do its job; `code` is stable (recorded in StepFailed and RunFailed). */
export class StepFailure extends PatchbayError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}

/** How an attempt ended: what the runner records as StepSucceeded, StepSkipped or StepFailed. */
export type StepOutcome =
  | { kind: 'succeeded'; commands: CommandRecord[]; detail: Record<string, unknown> }
  | { kind: 'skipped'; reason: string; commands: CommandRecord[] }
  | { kind: 'failed'; code: string; message: string; commands: CommandRecord[] };

/** Stores an event while the step runs (resolves once stored); `suffix` ends its deterministic id. */
export type StepEmit = (type: 'RebootIssued' | 'RebootConfirmed' | 'PackagesRecorded', data: Record<string, unknown>, suffix: string) => Promise<void>;

/** Everything one attempt of one step needs; built by the runner per attempt. */
export interface StepContext {
  remote: RemoteExecutor;
  target: RemoteTarget;
  plan: RunPlan;
  /** The run's state before this attempt (package records, earlier steps' details). */
  state: RunState;
  planned: PlannedStep;
  attempt: number;
  /** This attempt continues one a crash interrupted. */
  resumed: boolean;
  /** Fires on the step timeout or the cycle's abort. */
  signal: AbortSignal;
  /** Epoch ms by which the step must be done. */
  deadline: number;
  emit: StepEmit;
  /** Poll interval while waiting for a rebooting endpoint (ms). */
  rebootPollMs: number;
  /**
   * Leave a marker in the endpoint's `/run` (a tmpfs, empty at every boot) in the same command
   * that reboots, so a resumed run can tell "reboot sent, not yet down" from "never sent". Needs a
   * POSIX shell on the endpoint; without it a resumed run only waits for a new boot id.
   */
  rebootMarker: boolean;
}

/** Name of the marker file of one reboot attempt: hex only, derived from the run, step and attempt. */
export function rebootMarkerName(ctx: Pick<StepContext, 'state' | 'target' | 'planned' | 'attempt'>): string {
  return createHash('sha256').update(`${ctx.state.cycleId}:${ctx.target.endpointId}:${ctx.planned.key}:${ctx.attempt}`).digest('hex').slice(0, 32);
}

/** The reboot command: with a marker, one constant script that writes it and then reboots (the name is a positional argument). */
function rebootArgv(ctx: StepContext): string[] {
  return rebootCommand(ctx.rebootMarker ? rebootMarkerName(ctx) : undefined);
}

/** argv of a reboot, writing the marker `/run/patchbay/reboot-<marker>` first when one is given. */
export function rebootCommand(marker: string | undefined): string[] {
  if (marker === undefined) return ['reboot'];
  // The reboot's output goes nowhere: if the controller dies while the command runs, a write to the
  // closed SSH channel (SIGPIPE) must not kill `reboot` after the marker says it was sent.
  return ['sh', '-c', 'mkdir -p /run/patchbay && : > "/run/patchbay/reboot-$1" && exec reboot </dev/null >/dev/null 2>&1', 'patchbay-reboot', marker];
}

async function sendReboot(ctx: StepContext, track: Track): Promise<void> {
  try {
    const r = await onEndpoint(ctx, track, rebootArgv(ctx));
    expectExit(r, 0, 'reboot');
  } catch (e) {
    // The endpoint going away under the command is the reboot working.
    if ((e as PatchbayError).code !== 'CONNECTION_LOST') throw e;
  }
}

/** Runs one step; never throws for an expected failure (that is an outcome). */
export async function runStep(ctx: StepContext, work: (ctx: StepContext, track: Track) => Promise<Dispatched> = dispatch): Promise<StepOutcome> {
  const commands: CommandRecord[] = [];
  const track = (r: RanCommand): RanCommand => {
    if (commands.length < 50) commands.push(r.record);
    return r;
  };
  try {
    const result = await work(ctx, track);
    if (result.kind === 'skipped') return { kind: 'skipped', reason: result.reason, commands };
    return { kind: 'succeeded', commands, detail: result.detail };
  } catch (e) {
    const err = e as PatchbayError;
    let code = typeof err?.code === 'string' ? err.code : 'STEP_FAILED';
    // The remote port says CANCELLED for any abort; tell the step timeout apart from the cycle's abort.
    if (code === 'CANCELLED' && Date.now() >= ctx.deadline - 5 && !isCycleAbort(ctx.signal)) code = 'STEP_TIMEOUT';
    if (code === 'REMOTE_TIMEOUT' && Date.now() >= ctx.deadline - 5) code = 'STEP_TIMEOUT';
    return { kind: 'failed', code, message: String(err?.message ?? e).slice(0, 2000), commands };
  }
}

/** Reason given to the controller that aborts a run because its cycle was aborted. */
export const CYCLE_ABORT_REASON = 'cycle-aborted';
function isCycleAbort(signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason as { kind?: string } | undefined)?.kind === CYCLE_ABORT_REASON;
}

/** Keeps a command's record for the step's event (bounded to 50 per attempt). */
export type Track = (r: RanCommand) => RanCommand;
/** What a step's work returns before it is turned into an outcome. */
export type Dispatched = { kind: 'done'; detail: Record<string, unknown> } | { kind: 'skipped'; reason: string };

const remaining = (ctx: StepContext): number => Math.max(1, ctx.deadline - Date.now());

async function onEndpoint(ctx: StepContext, track: Track, cmd: ManagerCommand | readonly string[], capture?: number): Promise<RanCommand> {
  const c: ManagerCommand = Array.isArray(cmd) ? { argv: [...(cmd as string[])] } : (cmd as ManagerCommand);
  return track(await runOnEndpoint(ctx.remote, ctx.target, c.argv, { timeoutMs: remaining(ctx), signal: ctx.signal, ...(c.env ? { env: c.env } : {}), ...(capture ? { captureStdout: capture } : {}) }));
}

function expectExit(r: RanCommand, expected: number, what: string): void {
  if (r.exitCode !== expected) {
    const why = (r.stderr.trim().split('\n').pop() || r.stdout.trim().split('\n').pop() || '').slice(0, 500);
    throw new StepFailure('COMMAND_FAILED', `${what}: exit ${r.exitCode ?? `signal ${r.record.signal ?? '?'}`} (expected ${expected})${why ? `: ${why}` : ''}`, { exitCode: r.exitCode });
  }
}

async function hook(ctx: StepContext, track: Track, h: { kind: 'command'; on: 'controller' | 'endpoint'; argv: string[] } | { kind: 'http'; method: string; url: string; headers: Record<string, string>; body?: string | undefined; expectStatus: number[] }): Promise<Record<string, unknown>> {
  if (h.kind === 'command') {
    const r = h.on === 'controller' ? track(await runOnController(h.argv, { timeoutMs: remaining(ctx), signal: ctx.signal })) : await onEndpoint(ctx, track, h.argv);
    expectExit(r, 0, `${h.on} hook ${h.argv[0]}`);
    return { on: h.on };
  }
  const r = await callHttp({ method: h.method, url: h.url, headers: h.headers, ...(h.body !== undefined ? { body: h.body } : {}) }, { timeoutMs: remaining(ctx), signal: ctx.signal });
  track({ exitCode: null, stdout: r.body, stderr: r.error ?? '', record: r.record });
  if (r.status === null) throw new StepFailure('HOOK_FAILED', `${h.method} ${h.url} failed: ${r.error ?? 'no answer'}`);
  if (!h.expectStatus.includes(r.status)) throw new StepFailure('HOOK_FAILED', `${h.method} ${h.url} answered ${r.status}, expected ${h.expectStatus.join(' or ')}`, { status: r.status });
  return { status: r.status };
}

type Check =
  | { kind: 'command'; on: 'controller' | 'endpoint'; argv: string[]; expectExitCode: number; expectOutput?: string | undefined }
  | { kind: 'http'; url: string; expectStatus: number[]; expectBodyContains?: string | undefined }
  | { kind: 'tcp'; host?: string | undefined; port: number };

/** One evaluation of a check: passes, or throws `CHECK_FAILED` saying why. */
async function checkOnce(ctx: StepContext, track: Track, check: Check, perTryMs: number): Promise<Record<string, unknown>> {
  const timeoutMs = Math.min(perTryMs, remaining(ctx));
  switch (check.kind) {
    case 'command': {
      const r =
        check.on === 'controller'
          ? track(await runOnController(check.argv, { timeoutMs, signal: ctx.signal }))
          : track(await runOnEndpoint(ctx.remote, ctx.target, check.argv, { timeoutMs, signal: ctx.signal }));
      if (r.exitCode !== check.expectExitCode) throw new StepFailure('CHECK_FAILED', `${check.argv[0]} exited ${r.exitCode}, expected ${check.expectExitCode}`);
      if (check.expectOutput !== undefined && !r.stdout.includes(check.expectOutput)) throw new StepFailure('CHECK_FAILED', `${check.argv[0]} output does not contain ${JSON.stringify(check.expectOutput)}`);
      return { exitCode: r.exitCode };
    }
    case 'http': {
      const r = await callHttp({ method: 'GET', url: check.url }, { timeoutMs, signal: ctx.signal });
      track({ exitCode: null, stdout: r.body, stderr: r.error ?? '', record: r.record });
      if (r.status === null) throw new StepFailure('CHECK_FAILED', `GET ${check.url} failed: ${r.error ?? 'no answer'}`);
      if (!check.expectStatus.includes(r.status)) throw new StepFailure('CHECK_FAILED', `GET ${check.url} answered ${r.status}, expected ${check.expectStatus.join(' or ')}`);
      if (check.expectBodyContains !== undefined && !r.body.includes(check.expectBodyContains)) throw new StepFailure('CHECK_FAILED', `GET ${check.url} body does not contain ${JSON.stringify(check.expectBodyContains)}`);
      return { status: r.status };
    }
    case 'tcp': {
      // From the endpoint's own view: bash's /dev/tcp, host and port as positional arguments (never interpolated).
      const host = check.host ?? '127.0.0.1';
      const r = track(await runOnEndpoint(ctx.remote, ctx.target, ['bash', '-c', 'exec 3<>"/dev/tcp/$1/$2"', 'tcp-check', host, String(check.port)], { timeoutMs, signal: ctx.signal }));
      if (r.exitCode !== 0) throw new StepFailure('CHECK_FAILED', `nothing accepts TCP connections on ${host}:${check.port} (seen from the endpoint)`);
      return { host, port: check.port };
    }
    default:
      throw new TypeError('unknown check');
  }
}

async function detectManager(ctx: StepContext, track: Track, wanted: 'auto' | PackageManager): Promise<PackageManager> {
  if (wanted !== 'auto') return wanted;
  const known = ctx.state.packages.manager as PackageManager | undefined;
  if (known) return known;
  const r = await onEndpoint(ctx, track, ['cat', '/etc/os-release'], 16_384);
  expectExit(r, 0, 'reading /etc/os-release');
  const pm = managerFromOsRelease(r.stdout);
  if (!pm) throw new StepFailure('PACKAGE_MANAGER_UNKNOWN', 'cannot tell the package manager from /etc/os-release; set params.manager');
  return pm;
}

async function listInstalled(ctx: StepContext, track: Track, pm: PackageManager): Promise<{ packages: Record<string, string>; unclean: string[] }> {
  const r = await onEndpoint(ctx, track, listInstalledCommand(pm), 8 * 1024 * 1024);
  expectExit(r, 0, 'listing installed packages');
  return parseInstalledPackages(r.stdout);
}

/**
 * Checks the package database after an interrupted attempt (`dpkg --audit` lists packages left
 * unpacked or half-configured) and, when it finds any, finishes them with `dpkg --configure -a`,
 * waiting while a lock is held (the interrupted apt may still be running on the endpoint).
 */
async function repairPackages(ctx: StepContext, track: Track, pm: PackageManager, force = false): Promise<Record<string, unknown>> {
  const { audit, repair } = repairCommands(pm);
  let findings = force;
  if (audit && !force) {
    const a = await onEndpoint(ctx, track, audit);
    // 127: no such program (not a dpkg system); otherwise output or a failing exit means work is left.
    if (a.exitCode === 127) return { audited: false };
    findings = a.stdout.trim().length > 0 || a.exitCode !== 0;
  }
  if (!repair || !findings) return { audited: true, findings };
  for (let i = 0; ; i++) {
    const r = await onEndpoint(ctx, track, repair);
    if (r.exitCode === 0) return { audited: !force, findings: true, repaired: true };
    const o = interpretPackageResult(pm, r.exitCode, r.stdout, r.stderr);
    if (!o.lockBusy || i >= 60) expectExit(r, 0, 'dpkg --configure -a');
    await sleep(Math.min(2000, remaining(ctx)), undefined, { signal: ctx.signal });
  }
}

/**
 * Refreshes the package index, waiting while another process holds the lists lock (apt's
 * `DPkg::Lock::Timeout` covers the dpkg lock only; an apt left running by a crashed attempt, or
 * unattended-upgrades, holds the lists lock for a while).
 */
async function refreshIndex(ctx: StepContext, track: Track, pm: PackageManager): Promise<void> {
  for (let i = 0; ; i++) {
    const r = await onEndpoint(ctx, track, refreshCommand(pm));
    if (r.exitCode === 0) return;
    if (!interpretPackageResult(pm, r.exitCode, r.stdout, r.stderr).lockBusy || i >= 60) expectExit(r, 0, 'refreshing the package index');
    await sleep(Math.min(2000, remaining(ctx)), undefined, { signal: ctx.signal });
  }
}

function installRequest(plan: RunPlan, step: Extract<WorkflowStep, { type: 'patch' }>): InstallRequest {
  if (plan.packages.length > 0) return { kind: 'packages', packages: plan.packages };
  if (step.params.scope === 'list') return { kind: 'names', names: step.params.packages ?? [] };
  return step.params.scope === 'all' ? { kind: 'all' } : { kind: 'security' };
}

async function patch(ctx: StepContext, track: Track, step: Extract<WorkflowStep, { type: 'patch' }>): Promise<Dispatched> {
  const pm = await detectManager(ctx, track, step.params.manager);
  const detail: Record<string, unknown> = { manager: pm };
  if (ctx.resumed) detail['repair'] = await repairPackages(ctx, track, pm);
  // The versions before the first attempt are the ones a rollback returns to: never overwrite them.
  if (!ctx.state.packages.before) {
    const before = await listInstalled(ctx, track, pm);
    await ctx.emit('PackagesRecorded', { when: 'before', manager: pm, packages: before.packages }, 'packages-before');
    ctx.state.packages.before = before.packages;
  }
  await refreshIndex(ctx, track, pm);
  let request = installRequest(ctx.plan, step);
  if (request.kind === 'security' && pm === 'apt') {
    // apt has no security-only upgrade: pick the upgradable packages whose candidate comes from a security suite.
    const list = await onEndpoint(ctx, track, listUpgradableCommand(pm)!, 4 * 1024 * 1024);
    expectExit(list, 0, 'listing upgradable packages');
    const security = parseAptUpgradable(list.stdout).filter((p) => p.suites.some(isSecuritySuite));
    detail['securityUpdates'] = security.map((p) => `${p.name}=${p.version}`).slice(0, 500);
    request = { kind: 'packages', packages: security.map((p) => ({ name: p.name, to: p.version })) };
  }
  const install = installCommand(pm, request);
  if (install) {
    let r = await onEndpoint(ctx, track, install);
    let o = interpretPackageResult(pm, r.exitCode, r.stdout, r.stderr);
    if (!o.ok && o.interrupted) {
      detail['repair'] = await repairPackages(ctx, track, pm, true);
      r = await onEndpoint(ctx, track, install);
      o = interpretPackageResult(pm, r.exitCode, r.stdout, r.stderr);
    }
    if (!o.ok) {
      const code = o.lockBusy ? 'PACKAGE_LOCK_BUSY' : 'PATCH_FAILED';
      throw new StepFailure(code, `${install.argv[0]} ${install.argv.find((a) => ['install', 'upgrade', 'update', 'patch'].includes(a)) ?? ''} failed with exit ${r.exitCode}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 500)}`);
    }
    if (o.counts) detail['counts'] = o.counts;
    if (o.rebootNeeded) detail['rebootNeeded'] = true;
  } else detail['nothingToInstall'] = true;
  const after = await listInstalled(ctx, track, pm);
  await ctx.emit('PackagesRecorded', { when: 'after', manager: pm, packages: after.packages }, 'packages-after');
  detail['changes'] = packageChanges(ctx.state.packages.before ?? {}, after.packages).slice(0, 500);
  if (after.unclean.length > 0) throw new StepFailure('PATCH_INCOMPLETE', `packages not fully installed: ${after.unclean.slice(0, 20).join(', ')}`, { unclean: after.unclean.slice(0, 100) });
  return { kind: 'done', detail };
}

/** Reinstalls the versions recorded before the patch (packages the patch changed). */
async function rollbackPackages(ctx: StepContext, track: Track): Promise<Dispatched> {
  const before = ctx.state.packages.before;
  const pm = (ctx.state.packages.manager ?? 'apt') as PackageManager;
  if (!before) throw new StepFailure('ROLLBACK_IMPOSSIBLE', 'no package versions were recorded before the patch');
  const current = await listInstalled(ctx, track, pm);
  const changed = packageChanges(before, current.packages).filter((c) => c.from !== undefined);
  const cmd = downgradeCommand(pm, changed.map((c) => ({ name: c.name, version: c.from! })));
  if (cmd) {
    await refreshIndex(ctx, track, pm);
    const r = await onEndpoint(ctx, track, cmd);
    const o = interpretPackageResult(pm, r.exitCode, r.stdout, r.stderr);
    if (!o.ok) throw new StepFailure('ROLLBACK_FAILED', `reinstalling the recorded versions failed with exit ${r.exitCode}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 500)}`);
  }
  const after = await listInstalled(ctx, track, pm);
  await ctx.emit('PackagesRecorded', { when: 'after-rollback', manager: pm, packages: after.packages }, 'packages-after-rollback');
  const still = packageChanges(before, after.packages).filter((c) => c.from !== undefined);
  if (still.length > 0) throw new StepFailure('ROLLBACK_FAILED', `still not at the recorded versions: ${still.map((c) => `${c.name} ${c.to ?? '(removed)'} (was ${c.from})`).slice(0, 20).join(', ')}`);
  return { kind: 'done', detail: { restored: changed.map((c) => ({ name: c.name, version: c.from })) } };
}

function effectiveRebootMode(plan: RunPlan, step: Extract<WorkflowStep, { type: 'reboot' }>): 'never' | 'if-required' | 'always' {
  if (plan.rebootPolicy === 'never') return 'never';
  if (plan.rebootPolicy === 'if-required') return 'if-required';
  return step.params.mode;
}

async function reboot(ctx: StepContext, track: Track, step: Extract<WorkflowStep, { type: 'reboot' }>): Promise<Dispatched> {
  const mode = effectiveRebootMode(ctx.plan, step);
  if (mode === 'never') return { kind: 'skipped', reason: 'the cycle policy never reboots' };
  if (mode === 'if-required') {
    const patchAsked = Object.values(ctx.state.steps).some((s) => s.detail?.['rebootNeeded'] === true);
    const r = await onEndpoint(ctx, track, ['test', '-e', '/run/reboot-required']);
    if (r.exitCode !== 0 && !patchAsked) return { kind: 'skipped', reason: 'no reboot required (/run/reboot-required is absent)' };
  }
  const bootIdBefore = await ctx.remote.readBootId(ctx.target, { timeoutMs: Math.min(30_000, remaining(ctx)), signal: ctx.signal });
  // Stored before the command is sent: whatever happens next, a resumed run knows a reboot may have been issued.
  await ctx.emit('RebootIssued', { bootIdBefore }, 'reboot-issued');
  const issued = Date.now();
  await sendReboot(ctx, track);
  return confirmReboot(ctx, bootIdBefore, issued, step);
}

/**
 * Resumes a reboot step whose RebootIssued is stored but not confirmed. A changed boot id confirms
 * it. The same boot id with the marker present means the command was sent and the endpoint is not
 * down yet: wait. The same boot id without the marker means the command never reached this boot:
 * send it now, still once for this boot. Without markers the run only waits.
 */
export async function resumeReboot(ctx: StepContext, track: Track, bootIdBefore: string, issuedAt: number, step: Extract<WorkflowStep, { type: 'reboot' }>): Promise<Dispatched> {
  let current: string | undefined;
  try {
    current = await ctx.remote.readBootId(ctx.target, { timeoutMs: Math.min(15_000, remaining(ctx)), signal: ctx.signal });
  } catch (e) {
    if ((e as PatchbayError).code === 'CANCELLED' || (e as PatchbayError).code === 'HOST_KEY_REJECTED') throw e;
    // Down or unreachable: it is rebooting; wait below.
  }
  let resend = false;
  if (current !== undefined && current === bootIdBefore && ctx.rebootMarker) {
    try {
      const marker = await onEndpoint(ctx, track, ['test', '-e', `/run/patchbay/reboot-${rebootMarkerName(ctx)}`]);
      resend = marker.exitCode === 1;
    } catch (e) {
      const code = (e as PatchbayError).code;
      if (code === 'CANCELLED' || code === 'HOST_KEY_REJECTED') throw e;
      // The endpoint went away while we looked: it is going down, so the reboot was sent. Wait.
    }
  }
  if (resend) {
    await sendReboot(ctx, track);
    issuedAt = Date.now();
  }
  const r = await confirmReboot(ctx, bootIdBefore, issuedAt, step);
  return r.kind === 'done' ? { kind: 'done', detail: { ...r.detail, resumed: true, resent: resend } } : r;
}

/** Waits for a boot id other than `bootIdBefore` (the reboot step's return timeout counts from the issue). */
export async function confirmReboot(ctx: StepContext, bootIdBefore: string, issuedAt: number, step: Extract<WorkflowStep, { type: 'reboot' }>): Promise<Dispatched> {
  const timeoutMs = Math.max(1000, Math.min(issuedAt + step.params.returnTimeoutSeconds * 1000, ctx.deadline) - Date.now());
  const started = Date.now();
  const bootIdAfter = await ctx.remote.waitForNewBootId(ctx.target, bootIdBefore, { timeoutMs, pollIntervalMs: ctx.rebootPollMs, signal: ctx.signal });
  await ctx.emit('RebootConfirmed', { bootIdBefore, bootIdAfter, waitedMs: Date.now() - started }, 'reboot-confirmed');
  return { kind: 'done', detail: { bootIdBefore, bootIdAfter } };
}

async function dispatch(ctx: StepContext, track: Track): Promise<Dispatched> {
  const step = ctx.planned.step;
  if (ctx.planned.key === 'rollback.packages') return rollbackPackages(ctx, track);
  switch (step.type) {
    case 'check-disk': {
      const r = await onEndpoint(ctx, track, ['df', '-P', '-k', step.params.path], 16_384);
      expectExit(r, 0, `df ${step.params.path}`);
      const freeMb = parseDfFreeMb(r.stdout);
      if (freeMb === undefined) throw new StepFailure('OUTPUT_UNPARSEABLE', `cannot read the free space from df output`);
      if (freeMb < step.params.minFreeMb) throw new StepFailure('DISK_LOW', `${step.params.path} has ${freeMb} MiB free, the step needs ${step.params.minFreeMb} MiB`, { freeMb });
      return { kind: 'done', detail: { freeMb } };
    }
    case 'stop-service':
    case 'start-service': {
      const verb = step.type === 'stop-service' ? 'stop' : 'start';
      const r = await onEndpoint(ctx, track, ['systemctl', verb, step.params.service]);
      expectExit(r, 0, `systemctl ${verb} ${step.params.service}`);
      return { kind: 'done', detail: { service: step.params.service } };
    }
    case 'snapshot':
    case 'drain':
    case 'rejoin':
      return { kind: 'done', detail: await hook(ctx, track, step.params.hook as Parameters<typeof hook>[2]) };
    case 'patch':
      return patch(ctx, track, step);
    case 'reboot':
      return reboot(ctx, track, step);
    case 'wait-for': {
      const intervalMs = step.params.intervalSeconds * 1000;
      let last: unknown;
      let tries = 0;
      for (;;) {
        tries++;
        try {
          const d = await checkOnce(ctx, track, step.params.check as Check, Math.max(2000, intervalMs * 2));
          return { kind: 'done', detail: { ...d, tries } };
        } catch (e) {
          if ((e as PatchbayError).code === 'CANCELLED' || ctx.signal.aborted) throw e;
          last = e;
        }
        if (Date.now() + intervalMs >= ctx.deadline) {
          throw new StepFailure('WAIT_TIMEOUT', `not ready after ${tries} tries: ${(last as Error)?.message ?? ''}`);
        }
        await sleep(intervalMs, undefined, { signal: ctx.signal });
      }
    }
    case 'validate':
      return { kind: 'done', detail: await checkOnce(ctx, track, step.params.check as Check, remaining(ctx)) };
    case 'cleanup': {
      const pm = (ctx.state.packages.manager as PackageManager | undefined) ?? (await detectManager(ctx, track, 'auto'));
      for (const c of cleanupCommands(pm, step.params)) expectExit(await onEndpoint(ctx, track, c), 0, c.argv.slice(0, 2).join(' '));
      if (step.params.paths.length > 0) expectExit(await onEndpoint(ctx, track, ['rm', '-rf', '--', ...step.params.paths]), 0, 'removing cleanup paths');
      return { kind: 'done', detail: { manager: pm } };
    }
    case 'custom': {
      const r =
        step.params.on === 'controller'
          ? track(await runOnController(step.params.argv, { timeoutMs: remaining(ctx), signal: ctx.signal }))
          : await onEndpoint(ctx, track, step.params.argv);
      expectExit(r, step.params.expectExitCode, `${step.params.argv[0]}`);
      return { kind: 'done', detail: {} };
    }
    default: {
      const never: never = step;
      throw new StepFailure('STEP_TYPE_UNKNOWN', `unknown step type ${(never as { type: string }).type}`);
    }
  }
}
