import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEFAULT_SCENARIO, FAULT_PACKAGES, hostBehaviour, scenarioSchema, type PackageSpec, type Scenario } from '../scenario.js';
import { ensureBaseImage } from './base-image.js';
import { hasProgram, runCommand, type CommandResult } from './command.js';
import {
  LabAlreadyRunningError,
  LabConfigInvalidError,
  LabFaultUnsupportedError,
  LabHostNotFoundError,
  LabHostUnreachableError,
  LabNeedsRootError,
  LabNotFoundError,
  LabPrerequisiteMissingError,
} from './errors.js';
import { sshFingerprint } from './fingerprint.js';
import { PortForwarder } from './forwarder.js';
import { POWEROFF_MARKER, layerFiles } from './host-files.js';
import { ENTER_SCRIPT, buildLayer } from './layer.js';
import { takeLock } from './lock.js';
import {
  addLoss,
  addNetem,
  addNftLoss,
  bridgeName,
  clearLoss,
  clearNetem,
  clearNftLoss,
  createBridge,
  createHostNetwork,
  hostAddress,
  listNetns,
  networkNames,
  parseSubnet,
  removeBridge,
  removeHostNetwork,
  setLink,
  subnetsInUse,
  validateLossPercent,
} from './network.js';
import { childrenOf, isSameProcess, recordProcess, signalRecorded, type RecordedProcess } from './pids.js';
import { LabRepository } from './repository.js';
import {
  defaultStateDir,
  faultRequestsSchema,
  faultsFile,
  readLabState,
  registerLab,
  registeredLabs,
  runDir,
  unregisterLab,
  writeJsonAtomic,
  writeLabState,
  type FaultRequests,
  type HostState,
  type LabState,
} from './state.js';

/** Debian packages the controller needs for the lab (CI installs these). */
export const LAB_APT_PACKAGES = ['debootstrap', 'dpkg-dev', 'apt-utils', 'iproute2', 'util-linux', 'openssh-client'];
const REQUIRED_PROGRAMS: Array<[string, string]> = [
  ['debootstrap', 'debootstrap'],
  ['dpkg-deb', 'dpkg'],
  ['dpkg-scanpackages', 'dpkg-dev'],
  ['apt-ftparchive', 'apt-utils'],
  ['ip', 'iproute2'],
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['ssh-keygen', 'openssh-client'],
  ['fallocate', 'util-linux'],
];

/** Checks the controller has every program the lab runs; throws a named error with the install command. */
export async function checkLabPrerequisites(programs: Array<[program: string, debianPackage: string]> = REQUIRED_PROGRAMS): Promise<void> {
  const missing: string[] = [];
  for (const [program] of programs) if (!(await hasProgram(program))) missing.push(program);
  if (missing.length > 0) {
    const pkgs = [...new Set(programs.filter(([p]) => missing.includes(p)).map(([, pkg]) => pkg))];
    throw new LabPrerequisiteMissingError(missing, `apt-get update && apt-get install -y ${pkgs.join(' ')}`);
  }
}

/** How to bring a lab up. */
export interface LabOptions {
  /** Number of hosts (1..240). */
  hosts: number;
  /** Packages and host behaviours; defaults to {@link DEFAULT_SCENARIO}. */
  scenario?: Scenario;
  /** Where the lab keeps its state, layer, repository and host upper dirs. */
  stateDir?: string;
  /** Where the Debian base is cached (default `PATCHBAY_LAB_CACHE` or /var/cache/patchbay-lab). */
  cacheDir?: string;
  /** Private /24 for the hosts (default: the first free 10.213.X.0/24, pool set by `PATCHBAY_LAB_SUBNET_POOL`). */
  subnet?: string;
  /** Packages installed at their `installed` version but not published until {@link Lab.publish}. Default: FAULT_PACKAGES. */
  extraInstalled?: PackageSpec[];
  /** How long to wait for every sshd (default 60 s). */
  readyTimeoutMs?: number;
  /** Disk of a host without a quota in the scenario, in MiB (default 1024). */
  defaultDiskMb?: number;
  log?: (line: string) => void;
}

/** A host's SSH host key, for pinning. */
export interface HostKeyInfo {
  publicKey: string;
  fingerprint: string;
}

const HOST_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs a command inside a running host's namespaces and root (no SSH involved). */
export async function execInHost(init: RecordedProcess | undefined, argv: string[], opts: { allowFailure?: boolean } = {}): Promise<CommandResult> {
  if (!init || !isSameProcess(init)) throw new LabHostUnreachableError('a stopped host', 0);
  return runCommand(['nsenter', '-t', String(init.pid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--', '/usr/bin/env', HOST_PATH, ...argv], opts);
}

/** Resolves once `address:port` answers with an SSH banner, or rejects after `timeoutMs`. */
export async function waitForSshBanner(address: string, port: number, timeoutMs: number, name = address): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const s = connect({ host: address, port });
      const finish = (v: boolean) => {
        s.destroy();
        done(v);
      };
      s.setTimeout(1000, () => finish(false));
      s.once('data', (d: Buffer) => finish(d.toString().startsWith('SSH-')));
      s.once('error', () => finish(false));
      s.once('close', () => finish(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new LabHostUnreachableError(name, timeoutMs);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One lab host as callers see it. */
export class LabHost {
  constructor(
    private readonly lab: Lab,
    /** Recorded state (kept current by the lab). */
    readonly state: HostState,
    readonly forwarder: PortForwarder,
  ) {}

  get index(): number {
    return this.state.index;
  }
  get name(): string {
    return this.state.name;
  }
  /** The host's own address in the lab subnet (sshd on 22, the app on the scenario's port). */
  get address(): string {
    return this.state.address;
  }
  /** Port on 127.0.0.1 forwarded to the host's sshd. */
  get port(): number {
    return this.state.port;
  }
  /** Always 127.0.0.1 (with {@link port}); {@link address} reaches the host directly. */
  get host(): string {
    return '127.0.0.1';
  }
  /** URL of the application's health endpoint. */
  get appUrl(): string {
    return `http://${this.state.address}:${this.lab.scenario.app.port}/health`;
  }
  get power(): HostState['power'] {
    return this.state.power;
  }

  /** The boot id of the current (or last) boot, as the host sees it in /proc. */
  async bootId(): Promise<string> {
    return (await readFile(join(this.state.dir, 'boot_id'), 'utf8')).trim();
  }

  /** The host's ed25519 host key and its SHA256 fingerprint (changes in `new-host-key` reboot mode). */
  async hostKey(): Promise<HostKeyInfo> {
    const publicKey = (await readFile(join(this.state.diskMount, 'upper/etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).trim();
    return { publicKey, fingerprint: sshFingerprint(publicKey) };
  }

  /** known_hosts lines for both ways of reaching the host. */
  async knownHostsLines(): Promise<string[]> {
    const key = (await this.hostKey()).publicKey.split(/\s+/).slice(0, 2).join(' ');
    return [`[127.0.0.1]:${this.port} ${key}`, `${this.address} ${key}`];
  }

  /** Runs argv inside the host (through its namespaces, not SSH). */
  exec(argv: string[], opts: { allowFailure?: boolean } = {}): Promise<CommandResult> {
    return execInHost(this.state.init, argv, opts);
  }

  /** Waits until the host's sshd answers (on its own address). */
  waitForSsh(timeoutMs = 30_000): Promise<void> {
    return waitForSshBanner(this.address, 22, timeoutMs, this.name);
  }

  /** Hard reset: ends the host's PID 1 now; the lab boots it again per its reboot mode. */
  reset(): Promise<void> {
    return this.lab.runtime(this.index).kill(false);
  }

  /** Boots a host that is off (reboot mode `never`, or powered off) and waits for its sshd. */
  async powerOn(timeoutMs = 30_000): Promise<void> {
    await this.lab.runtime(this.index).boot();
    await this.waitForSsh(timeoutMs);
    this.state.power = 'running';
    await this.lab.save();
  }

  /** Partition: the host's link goes down both ways. */
  cutNetwork(): Promise<void> {
    return setLink(this.state.veth, false);
  }
  /** Undoes {@link cutNetwork}. */
  restoreNetwork(): Promise<void> {
    return setLink(this.state.veth, true);
  }

  /**
   * Adds latency (and loss) with tc netem on the host's veth. Where the kernel has no netem, the
   * delay is added by the 127.0.0.1 forwarder instead (both directions; the host's own address is
   * not delayed) and loss, if asked for, by nftables in the host's namespace ({@link addLoss}).
   */
  async addLatency(delayMs: number, lossPercent = 0): Promise<'netem' | 'forwarder'> {
    if (lossPercent > 0) validateLossPercent(lossPercent);
    try {
      await addNetem(this.state.veth, delayMs, lossPercent);
      return 'netem';
    } catch (e) {
      if (!(e instanceof LabFaultUnsupportedError)) throw e;
      if (lossPercent > 0) await addNftLoss(this.state.netns, lossPercent);
      this.forwarder.delayMs = Math.round(delayMs / 2);
      return 'forwarder';
    }
  }
  /** Undoes {@link addLatency} (its loss included). */
  async clearLatency(): Promise<void> {
    this.forwarder.delayMs = 0;
    await clearNetem(this.state.veth);
    await clearNftLoss(this.state.netns);
  }

  /**
   * Drops `percent` % (1–100) of the host's packets, on every path to it (its own address and the
   * 127.0.0.1 forwarder): tc netem where the kernel has it, else nftables in the host's namespace,
   * where each direction is drawn on its own. Throws `LAB_FAULT_UNSUPPORTED` when neither works.
   */
  addLoss(percent: number): Promise<'netem' | 'nftables'> {
    return addLoss(this.state, percent);
  }
  /** Undoes {@link addLoss} (a netem delay stays). */
  clearLoss(): Promise<void> {
    return clearLoss(this.state);
  }

  /** Fills the host's disk so only `leaveMb` MiB stay free. */
  fillDisk(leaveMb = 1): Promise<void> {
    return fillDisk(this.state, leaveMb);
  }
  /** Undoes {@link fillDisk}. */
  freeDisk(): Promise<void> {
    return freeDisk(this.state);
  }
  /** Kills the listening sshd (existing sessions live on); {@link startSshd} brings it back. */
  async killSshd(): Promise<void> {
    await this.exec(['/bin/bash', '-c', 'kill -KILL "$(cat /run/patchbay/ssh.pid)"; rm -f /run/patchbay/ssh.pid']);
  }
  /** Starts sshd again and resolves once it answers. */
  async startSshd(): Promise<void> {
    await this.exec(['patchbay-service', 'start', 'ssh']);
    await this.waitForSsh(10_000);
  }
  /** Stops the application service (as `systemctl stop` would). */
  async stopApp(): Promise<void> {
    await this.exec(['patchbay-service', 'stop', this.lab.scenario.app.service]);
  }
  /** Starts the application again and resolves once its health endpoint answers 200. */
  async startApp(): Promise<void> {
    await this.exec(['patchbay-service', 'start', this.lab.scenario.app.service]);
    await this.waitForApp(10_000);
  }

  /** Resolves once the application's health endpoint answers 200. */
  async waitForApp(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(this.appUrl, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new LabHostUnreachableError(`${this.name} (application)`, timeoutMs);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Fills a host's disk quota (a file next to its upper dir on the same tmpfs). */
export async function fillDisk(host: HostState, leaveMb = 1): Promise<void> {
  const fill = join(host.diskMount, 'fill');
  const s = await statfs(host.diskMount);
  const have = existsSync(fill) ? statSync(fill).size : 0;
  const free = s.bavail * s.bsize + have;
  const size = Math.max(0, free - leaveMb * 1024 * 1024);
  await rm(fill, { force: true });
  if (size > 0) await runCommand(['fallocate', '-l', String(size), fill]);
}

/** Undoes {@link fillDisk}. */
export async function freeDisk(host: HostState): Promise<void> {
  await rm(join(host.diskMount, 'fill'), { force: true });
}

/** Supervises one host: boots it, notices its PID 1 ending, and boots it again per reboot mode. */
class HostRuntime {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private rebootTimer?: NodeJS.Timeout;
  private expectStop = false;

  constructor(
    private readonly lab: Lab,
    readonly state: HostState,
  ) {}

  /** Boots the host (no-op when it is already running). */
  async boot(): Promise<void> {
    if (this.child) return;
    clearTimeout(this.rebootTimer);
    this.expectStop = false;
    const l = this.lab;
    const log = openSync(join(this.state.dir, 'console.log'), 'a');
    const child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${this.state.netns}`,
        'unshare', '--mount', '--pid', '--uts', '--ipc', '--fork', '--kill-child',
        join(l.stateDir, 'enter.sh'), this.state.dir, l.layerDir, l.baseDir, l.repo.dir, this.state.name,
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.child = child;
    this.exited = new Promise((done) => child.once('exit', () => done()));
    child.once('exit', () => this.onExit(child));
    this.state.power = 'starting';
    this.state.unshare = child.pid ? recordProcess(child.pid) : undefined;
    this.state.init = undefined;
    this.state.boots += 1;
    // The namespace's PID 1 is unshare's only child; record it so a later cleanup can SIGKILL it.
    for (let i = 0; i < 200 && child.exitCode === null && child.pid; i++) {
      const kids = childrenOf(child.pid);
      if (kids.length > 0) {
        this.state.init = recordProcess(kids[0]!);
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await l.save();
  }

  private onExit(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.state.unshare = undefined;
    this.state.init = undefined;
    if (this.expectStop || this.lab.stopping) {
      this.state.power = 'off';
      void this.lab.save();
      return;
    }
    void this.afterShutdown();
  }

  private async afterShutdown(): Promise<void> {
    const behaviour = hostBehaviour(this.lab.scenario, this.state.index);
    const poweroff = join(this.state.diskMount, 'upper', POWEROFF_MARKER);
    if (existsSync(poweroff) || behaviour.rebootMode === 'never') {
      await rm(poweroff, { force: true });
      this.state.power = 'off';
      await this.lab.save();
      return;
    }
    this.state.power = 'rebooting';
    if (behaviour.rebootMode === 'new-host-key') {
      // The host is down, so its upper dir is not mounted: removing the keys there is safe, and
      // init makes new ones at the next boot.
      const sshDir = join(this.state.diskMount, 'upper/etc/ssh');
      for (const f of await readdir(sshDir).catch(() => [] as string[])) {
        if (f.startsWith('ssh_host_')) await rm(join(sshDir, f), { force: true });
      }
    }
    await this.lab.save();
    const delay = behaviour.rebootMode === 'slow' ? behaviour.slowRebootDelayMs : behaviour.rebootDelayMs;
    this.rebootTimer = setTimeout(() => {
      if (this.lab.stopping) return;
      void this.boot()
        .then(() => waitForSshBanner(this.state.address, 22, 60_000, this.state.name))
        .then(async () => {
          if (this.state.power === 'starting') this.state.power = 'running';
          await this.lab.save();
        })
        .catch((e) => this.lab.log(`boot of ${this.state.name} failed: ${(e as Error).message}`));
    }, delay);
  }

  /** SIGKILLs the namespace's PID 1 (everything in it goes too); `stay` keeps the host off. */
  async kill(stay: boolean): Promise<void> {
    clearTimeout(this.rebootTimer);
    if (stay) this.expectStop = true;
    const child = this.child;
    if (!child) return;
    if (!signalRecorded(this.state.init, 'SIGKILL')) signalRecorded(this.state.unshare, 'SIGKILL');
    const exited = this.exited;
    const timer = setTimeout(() => signalRecorded(this.state.unshare, 'SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  stopTimers(): void {
    clearTimeout(this.rebootTimer);
  }
}

/**
 * A fleet of real Debian hosts on this machine: each with its own mount/PID/UTS/IPC and network
 * namespaces, sshd, boot id, application and a local apt repository with the scenario's updates.
 */
export class Lab {
  readonly hosts: LabHost[] = [];
  private readonly runtimes: HostRuntime[] = [];
  stopping = false;
  private saving: Promise<void> = Promise.resolve();
  private faultPoll?: NodeJS.Timeout;

  private constructor(
    readonly state: LabState,
    readonly scenario: Scenario,
    readonly repo: LabRepository,
    private readonly logFn: (line: string) => void,
  ) {}

  get stateDir(): string {
    return this.state.stateDir;
  }
  get labId(): string {
    return this.state.labId;
  }
  get baseDir(): string {
    return this.state.baseDir;
  }
  get layerDir(): string {
    return this.state.layerDir;
  }
  /** Path of the lab's client private key (authorised for root and `patchbay` on every host). */
  get clientKeyPath(): string {
    return this.state.clientKey;
  }
  /** The client private key (OpenSSH format), e.g. for ssh2's `privateKey`. */
  clientPrivateKey(): Promise<Buffer> {
    return readFile(this.state.clientKey);
  }
  /** Seconds from the start of {@link Lab.up} to every sshd answering. */
  get upSeconds(): number | undefined {
    return this.state.upSeconds;
  }

  /** Writes a progress line to the caller's log. */
  log(line: string): void {
    this.logFn(line);
  }

  /** @internal The supervisor of host `index`. */
  runtime(index: number): HostRuntime {
    const r = this.runtimes[index];
    if (!r) throw new LabHostNotFoundError(index);
    return r;
  }

  /** A host by index or name. */
  host(which: number | string): LabHost {
    const h = typeof which === 'number' ? this.hosts[which] : this.hosts.find((x) => x.name === which);
    if (!h) throw new LabHostNotFoundError(which);
    return h;
  }

  /** Persists the state (writes are serialised). */
  save(): Promise<void> {
    this.saving = this.saving.then(() => writeLabState(this.state)).catch((e) => this.log(`saving lab state failed: ${(e as Error).message}`));
    return this.saving;
  }

  /**
   * Brings up `hosts` real hosts and resolves once every sshd answers. Builds (once, cached) the
   * Debian base, then per lab: the client key, the apt repository, the lab layer and the network.
   */
  static async up(options: LabOptions): Promise<Lab> {
    const started = Date.now();
    if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > 240) {
      throw new LabConfigInvalidError('hosts must be an integer from 1 to 240', { hosts: options.hosts });
    }
    const parsed = scenarioSchema.safeParse(options.scenario ?? DEFAULT_SCENARIO);
    if (!parsed.success) throw new LabConfigInvalidError(`invalid scenario: ${parsed.error.message}`);
    const scenario = parsed.data;
    const log = options.log ?? (() => {});
    const uid = process.getuid?.() ?? 0;
    if (uid !== 0) throw new LabNeedsRootError(uid);
    await checkLabPrerequisites();
    // Labs whose process died (a killed test run) still hold namespaces and mounts: clear them first.
    await Lab.cleanupLeftovers().catch((e) => log(`cleanup of earlier labs failed: ${(e as Error).message}`));
    const stateDir = resolve(options.stateDir ?? defaultStateDir());
    await mkdir(stateDir, { recursive: true });
    const previous = await readLabState(stateDir).catch(() => undefined);
    if (previous && previous.status !== 'down' && isSameProcess(previous.supervisor) && previous.supervisor.pid !== process.pid) {
      throw new LabAlreadyRunningError(stateDir, previous.supervisor.pid);
    }
    if (previous && previous.status !== 'down') await Lab.cleanupLeftovers({ stateDir });

    const basePromise = ensureBaseImage({ cacheDir: options.cacheDir, log });
    const labId = randomBytes(3).toString('hex');
    const prefix = await allocateSubnet(labId, stateDir, options.subnet);
    const supervisor = recordProcess(process.pid)!;
    const repo = new LabRepository(join(stateDir, 'repo'));
    const state: LabState = {
      version: 1,
      labId,
      stateDir,
      status: 'starting',
      supervisor,
      subnet: `${prefix}.0/24`,
      bridge: bridgeName(labId),
      gateway: `${prefix}.1`,
      baseDir: '',
      layerDir: join(stateDir, 'layer'),
      repoDir: repo.dir,
      clientKey: join(stateDir, 'client/id_ed25519'),
      scenario,
      startedAt: new Date(started).toISOString(),
      hosts: [],
    };
    const lab = new Lab(state, scenario, repo, log);
    await lab.save();
    try {
      for (const d of ['hosts', 'client']) await rm(join(stateDir, d), { recursive: true, force: true });
      await rm(repo.dir, { recursive: true, force: true });
      await mkdir(join(stateDir, 'client'), { recursive: true });
      await writeFile(join(stateDir, 'enter.sh'), ENTER_SCRIPT);
      await chmod(join(stateDir, 'enter.sh'), 0o755);
      const extra = options.extraInstalled ?? FAULT_PACKAGES;
      const names = new Set(scenario.packages.map((p) => p.name));
      const installed = [...scenario.packages, ...extra.filter((p) => !names.has(p.name))];
      const [base] = await Promise.all([
        basePromise,
        runCommand(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `patchbay-lab-${labId}`, '-f', state.clientKey]),
        repo.build(installed, scenario.packages),
      ]);
      state.baseDir = base.rootDir;
      const clientPub = await readFile(`${state.clientKey}.pub`, 'utf8');
      const layerStart = Date.now();
      await buildLayer({
        baseDir: base.rootDir,
        layerDir: state.layerDir,
        scratchDir: join(stateDir, 'layer-build'),
        files: layerFiles(scenario.app, clientPub),
        initialDebsDir: repo.initialDir,
      });
      log(`layer built in ${Date.now() - layerStart} ms`);

      await createBridge(state.bridge, prefix);
      const hostStates: HostState[] = [];
      for (let i = 0; i < options.hosts; i++) {
        const names = networkNames(labId, i);
        const dir = join(stateDir, 'hosts', `host${i}`);
        const quota = hostBehaviour(scenario, i).diskQuotaMb ?? options.defaultDiskMb ?? 1024;
        hostStates.push({
          index: i,
          name: `host${i}`,
          address: hostAddress(prefix, i),
          port: 0,
          netns: names.netns,
          veth: names.veth,
          dir,
          diskMount: join(dir, 'disk'),
          diskMb: quota,
          power: 'off',
          boots: 0,
        });
      }
      // Record every resource before making it, so a crash half-way can still be cleaned up.
      state.hosts = hostStates;
      await lab.save();
      await Promise.all(
        hostStates.map(async (h) => {
          await createHostNetwork(state.bridge, prefix, h.index, { netns: h.netns, veth: h.veth });
          await mkdir(join(h.dir, 'merged'), { recursive: true });
          await mkdir(h.diskMount, { recursive: true });
          await runCommand(['mount', '-t', 'tmpfs', '-o', `size=${h.diskMb}m,mode=0755`, 'lab-disk', h.diskMount]);
          await mkdir(join(h.diskMount, 'upper'), { recursive: true });
          await mkdir(join(h.diskMount, 'work'), { recursive: true });
          const forwarder = new PortForwarder({ host: h.address, port: 22 });
          h.port = await forwarder.listen(0);
          const runtime = new HostRuntime(lab, h);
          lab.runtimes[h.index] = runtime;
          lab.hosts[h.index] = new LabHost(lab, h, forwarder);
          await runtime.boot();
        }),
      );
      const timeout = options.readyTimeoutMs ?? 60_000;
      await Promise.all(lab.hosts.map((h) => h.waitForSsh(timeout)));
      for (const h of hostStates) h.power = 'running';
      state.status = 'up';
      state.upSeconds = (Date.now() - started) / 1000;
      await lab.save();
      log(`lab ${labId}: ${options.hosts} hosts up in ${state.upSeconds.toFixed(1)} s`);
      return lab;
    } catch (e) {
      state.error = (e as Error).message;
      await lab.down().catch(() => {});
      state.status = 'failed';
      await writeLabState(state).catch(() => {});
      throw e;
    }
  }

  /**
   * Publishes the available version of a package (adding it or replacing the published one). Hosts
   * see it after their next `apt-get update`.
   */
  async publish(spec: PackageSpec): Promise<void> {
    await this.repo.publish(spec);
  }

  /**
   * Connection details of every host, e.g. to write an inventory: the forwarded 127.0.0.1 port,
   * the host's own address, the lab's client key and the pinned host key fingerprint.
   */
  async inventory(username: 'root' | 'patchbay' = 'root'): Promise<LabInventoryEntry[]> {
    return Promise.all(
      this.hosts.map(async (h) => ({
        name: h.name,
        host: '127.0.0.1',
        port: h.port,
        address: h.address,
        username,
        privateKeyPath: this.clientKeyPath,
        hostKeyFingerprint: (await h.hostKey()).fingerprint,
      })),
    );
  }

  /** Withdraws every published version of a package. */
  async unpublish(name: string): Promise<void> {
    await this.repo.unpublish(name);
  }

  /** Applies latency requests written by other processes (the CLI) to the forwarders. */
  watchFaultRequests(intervalMs = 500): void {
    const tick = async () => {
      const f = faultsFile(this.stateDir);
      if (existsSync(f)) {
        try {
          const req = faultRequestsSchema.parse(JSON.parse(await readFile(f, 'utf8')));
          for (const h of this.hosts) h.forwarder.delayMs = req.latencyMs[String(h.index)] ?? 0;
        } catch {
          /* being rewritten; next tick */
        }
      }
      this.faultPoll = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
  }

  /** Stops every host and removes everything the lab made: mounts, namespaces, veths, bridge, files. */
  async down(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.faultPoll);
    this.state.status = 'stopping';
    await this.save();
    for (const r of this.runtimes) r?.stopTimers();
    await Promise.all(this.hosts.map((h) => h?.forwarder.close()));
    await Promise.all(this.runtimes.map((r) => r?.kill(true)));
    await cleanupResources(this.state);
    this.state.status = 'down';
    await this.save();
    await unregisterLab(this.labId);
  }

  /** A lab's recorded state with liveness, for `lab status`. */
  static async status(stateDir = defaultStateDir()): Promise<LabStatus> {
    const state = await readLabState(resolve(stateDir));
    if (!state) throw new LabNotFoundError(stateDir);
    const alive = isSameProcess(state.supervisor);
    const hosts = await Promise.all(
      state.hosts.map(async (h) => ({
        name: h.name,
        address: h.address,
        port: h.port,
        power: alive ? h.power : ('off' as const),
        running: isSameProcess(h.init),
        boots: h.boots,
        bootId: (await readFile(join(h.dir, 'boot_id'), 'utf8').catch(() => '')).trim() || undefined,
      })),
    );
    return { stateDir: state.stateDir, labId: state.labId, status: state.status, supervisorPid: state.supervisor.pid, supervisorAlive: alive, subnet: state.subnet, clientKey: state.clientKey, upSeconds: state.upSeconds, hosts };
  }

  /**
   * Stops the lab recorded in `stateDir` from another process: asks its supervisor to end (it takes
   * the lab down), then removes whatever is left from the recorded state.
   */
  static async stop(stateDir = defaultStateDir(), timeoutMs = 30_000): Promise<CleanupReport> {
    const dir = resolve(stateDir);
    const state = await readLabState(dir);
    if (!state) throw new LabNotFoundError(dir);
    if (state.supervisor.pid !== process.pid && signalRecorded(state.supervisor, 'SIGTERM')) {
      const deadline = Date.now() + timeoutMs;
      while (isSameProcess(state.supervisor) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    }
    return Lab.cleanupLeftovers({ stateDir: dir, force: true });
  }

  /**
   * Removes what earlier labs left behind when their supervising process died (crash, SIGKILL):
   * recorded host processes (by pid and start time, never by name), mounts under their state
   * directory, their network namespaces, veths and bridge. Labs whose supervisor still runs are
   * left alone unless `force` is given for that one `stateDir`.
   */
  static async cleanupLeftovers(opts: { stateDir?: string; force?: boolean } = {}): Promise<CleanupReport> {
    const report: CleanupReport = { labs: [], killed: [], unmounted: [], netns: [] };
    const targets = new Map<string, { labId?: string; stateDir: string }>();
    if (opts.stateDir) targets.set(resolve(opts.stateDir), { stateDir: resolve(opts.stateDir) });
    else for (const e of await registeredLabs()) targets.set(e.stateDir, { labId: e.labId, stateDir: e.stateDir });
    for (const t of targets.values()) {
      const state = await readLabState(t.stateDir).catch(() => undefined);
      if (!state) {
        if (t.labId) await unregisterLab(t.labId);
        continue;
      }
      if (state.status === 'down' && !(await hasLeftovers(state))) {
        await unregisterLab(state.labId);
        continue;
      }
      const supervisorAlive = isSameProcess(state.supervisor) && state.supervisor.pid !== process.pid;
      if (supervisorAlive && !opts.force) continue;
      if (state.supervisor.pid === process.pid && !opts.force && state.status !== 'down') continue;
      const r = await cleanupResources(state);
      report.labs.push(state.labId);
      report.killed.push(...r.killed);
      report.unmounted.push(...r.unmounted);
      report.netns.push(...r.netns);
      state.status = 'down';
      await writeLabState(state).catch(() => {});
      await unregisterLab(state.labId);
    }
    return report;
  }
}

/** One host's connection details (see {@link Lab.inventory}). */
export interface LabInventoryEntry {
  name: string;
  host: string;
  port: number;
  address: string;
  username: string;
  privateKeyPath: string;
  hostKeyFingerprint: string;
}

/** What {@link Lab.status} reports. */
export interface LabStatus {
  stateDir: string;
  labId: string;
  status: LabState['status'];
  supervisorPid: number;
  supervisorAlive: boolean;
  subnet: string;
  clientKey: string;
  upSeconds?: number;
  hosts: Array<{ name: string; address: string; port: number; power: HostState['power']; running: boolean; boots: number; bootId?: string }>;
}

/** What a cleanup removed. */
export interface CleanupReport {
  labs: string[];
  killed: number[];
  unmounted: string[];
  netns: string[];
}

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/mounts', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[1];
    if (!mp) continue;
    const decoded = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (decoded === dir || decoded.startsWith(`${dir}/`)) out.push(decoded);
  }
  // Deepest first so nested mounts come off before their parents.
  return out.sort((a, b) => b.length - a.length);
}

async function hasLeftovers(state: LabState): Promise<boolean> {
  if (state.hosts.some((h) => isSameProcess(h.init) || isSameProcess(h.unshare))) return true;
  if ((await mountsUnder(state.stateDir)).length > 0) return true;
  const ns = await listNetns();
  return ns.some((n) => n.startsWith(`pblab-${state.labId}-`));
}

/** Removes a lab's machine resources from its recorded state; safe to repeat. */
async function cleanupResources(state: LabState): Promise<{ killed: number[]; unmounted: string[]; netns: string[] }> {
  const killed: number[] = [];
  for (const h of state.hosts) {
    for (const p of [h.init, h.unshare]) if (signalRecorded(p, 'SIGKILL')) killed.push(p!.pid);
  }
  const deadline = Date.now() + 5000;
  while (state.hosts.some((h) => isSameProcess(h.init) || isSameProcess(h.unshare)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const h of state.hosts) {
    h.init = undefined;
    h.unshare = undefined;
    h.power = 'off';
  }
  const unmounted: string[] = [];
  for (const mp of await mountsUnder(state.stateDir)) {
    const r = await runCommand(['umount', mp], { allowFailure: true });
    if (r.code !== 0) await runCommand(['umount', '-l', mp], { allowFailure: true });
    unmounted.push(mp);
  }
  const netns: string[] = [];
  const existing = new Set(await listNetns());
  await Promise.all(
    state.hosts.map(async (h) => {
      if (existing.has(h.netns)) netns.push(h.netns);
      await removeHostNetwork({ netns: h.netns, veth: h.veth });
    }),
  );
  // A crash between recording the lab and recording its hosts leaves namespaces named after the lab id.
  for (const n of existing) {
    if (n.startsWith(`pblab-${state.labId}-`) && !netns.includes(n)) {
      await runCommand(['ip', 'netns', 'del', n], { allowFailure: true });
      netns.push(n);
    }
  }
  await removeBridge(state.bridge);
  for (const d of ['hosts', 'layer', 'layer-build', 'repo', 'client']) {
    await rm(join(state.stateDir, d), { recursive: true, force: true });
  }
  return { killed, unmounted, netns };
}

/** Picks the lab's /24 (the given one, or the first free one in the pool) and registers the lab. */
async function allocateSubnet(labId: string, stateDir: string, requested?: string): Promise<string> {
  await mkdir(runDir(), { recursive: true });
  const release = await takeLock(join(runDir(), 'subnet.lock'));
  try {
    const taken = new Set([...(await subnetsInUse()), ...(await registeredLabs()).map((e) => e.subnet.replace(/\.0\/24$/, ''))]);
    let prefix: string;
    if (requested) {
      prefix = parseSubnet(requested);
      if (taken.has(prefix)) throw new LabConfigInvalidError(`subnet ${requested} is already in use`, { subnet: requested });
    } else {
      const pool = process.env.PATCHBAY_LAB_SUBNET_POOL ?? '10.213';
      if (!/^\d{1,3}\.\d{1,3}$/.test(pool)) throw new LabConfigInvalidError(`PATCHBAY_LAB_SUBNET_POOL must look like 10.213, got ${pool}`);
      const free = Array.from({ length: 256 }, (_, c) => `${pool}.${c}`).find((p) => !taken.has(p));
      if (!free) throw new LabConfigInvalidError(`no free /24 left in ${pool}.0.0/16`);
      prefix = parseSubnet(`${free}.0/24`);
    }
    await registerLab({ labId, stateDir, subnet: `${prefix}.0/24` });
    return prefix;
  } finally {
    await release();
  }
}

/** Writes a latency request for a lab supervised by another process (the CLI's supervisor applies it). */
export async function requestForwarderLatency(stateDir: string, index: number, delayMs: number): Promise<void> {
  const f = faultsFile(stateDir);
  const current: FaultRequests = existsSync(f) ? faultRequestsSchema.parse(JSON.parse(await readFile(f, 'utf8'))) : { latencyMs: {} };
  if (delayMs > 0) current.latencyMs[String(index)] = Math.round(delayMs / 2);
  else delete current.latencyMs[String(index)];
  await writeJsonAtomic(f, current);
}
