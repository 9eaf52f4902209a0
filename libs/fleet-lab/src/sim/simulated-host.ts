import type { HostBehaviour, PackageSpec, Scenario } from '../scenario.js';
import { compareDebianVersions } from './debian-version.js';
import { ShellSyntaxError } from './errors.js';
import { parseCommandList } from './shell-words.js';

/** Where the simulated repository lives; like the real lab, one flat archive per suite. */
export const SIM_REPOSITORY_URI = 'file:/srv/repo';
const SOURCES = { security: `${SIM_REPOSITORY_URI}/security ./`, regular: `${SIM_REPOSITORY_URI}/regular ./` };

/** Packages every simulated host has besides the scenario's, versions as on Debian 12. */
export const BASE_PACKAGES: Readonly<Record<string, string>> = {
  apt: '2.6.2',
  'base-files': '12.4+deb12u11',
  bash: '5.2.15-2+b8',
  coreutils: '9.1-1',
  dpkg: '1.21.23',
  iproute2: '6.1.0-3',
  libc6: '2.36-9+deb12u14',
  'openssh-server': '1:9.2p1-2+deb12u10',
  procps: '2:4.0.2-3',
  python3: '3.11.2-1+b1',
  sudo: '1.9.13p3-1+deb12u1',
  systemd: '252.38-1~deb12u1',
  'util-linux': '2.38.1-5+deb12u3',
};

const OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;
const KERNEL_RELEASE = '6.1.0-28-amd64';
const REBOOT_REQUIRED_TEXT = '*** System restart required ***\n';
const KIB = 1024;

/** What the controller sees of one command: its output, exit status, and what it does to the host. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** How long the command takes (apt latency, sleep); the server waits this long before answering. */
  latencyMs: number;
  /** The command asked the host to reboot; the server drops the sessions once it has answered. */
  reboot: boolean;
}

/** Per-call facts the host cannot know by itself. */
export interface CommandContext {
  /** Login user of the SSH session; anything but `root` needs `sudo` for privileged commands. */
  readonly user: string;
  /** Environment from the session's `env` requests. */
  readonly env: Readonly<Record<string, string>>;
  readonly nowMs: number;
  /** Uniform [0, 1); seeded by the fleet so failure injection is reproducible. */
  readonly random: () => number;
  /** Latency of commands other than apt-get (ms). */
  readonly commandLatencyMs?: number;
}

interface Mount {
  source: string;
  fstype: string;
  target: string;
  sizeKb: number;
  usedKb: number;
  inodes: number;
  inodesUsed: number;
}

type ServiceState = 'active' | 'inactive' | 'failed';

interface Invocation {
  argv: string[];
  env: Record<string, string>;
  root: boolean;
  ctx: CommandContext;
  depth: number;
}

const out = (stdout: string, exitCode = 0, stderr = ''): CommandResult => ({ stdout, stderr, exitCode, latencyMs: 0, reboot: false });
const err = (stderr: string, exitCode: number): CommandResult => out('', exitCode, stderr);

/**
 * One simulated Debian 12 host: its packages, services, /run, disk and boot id, and an
 * interpreter for the commands Patchbay sends. Pure state and logic: no timers and no sockets; the
 * fleet applies latency, reboots and connections around it.
 */
export class SimulatedHost {
  readonly hostname: string;
  bootId: string;
  bootedAtMs: number;
  /** Boot ids this host has had, oldest first. */
  readonly bootHistory: string[] = [];
  /** Reboot commands accepted during each boot id (the driver should reboot each boot at most once). */
  readonly rebootRequestsByBootId = new Map<string, number>();
  readonly installed = new Map<string, string>();
  /** Packages whose postinst failed: dpkg leaves them unpacked but half-configured. */
  readonly halfConfigured = new Set<string>();
  readonly services = new Map<string, ServiceState>();
  /** /run/reboot-required.pkgs, or null when /run/reboot-required does not exist. */
  rebootRequiredPkgs: string[] | null = null;
  commandsServed = 0;
  private readonly catalogue: Map<string, PackageSpec>;
  private readonly mounts: Mount[];

  constructor(
    readonly index: number,
    private readonly scenario: Scenario,
    readonly behaviour: HostBehaviour,
    bootId: string,
    bootedAtMs: number,
  ) {
    this.hostname = `sim-${String(index).padStart(5, '0')}`;
    this.catalogue = new Map(scenario.packages.map((p) => [p.name, p]));
    for (const [name, version] of Object.entries(BASE_PACKAGES)) this.installed.set(name, version);
    for (const p of scenario.packages) if (p.installed !== undefined) this.installed.set(p.name, p.installed);
    const rootUsedKb = 1_843_200 + (index % 97) * 1024;
    const rootFreeKb = (behaviour.diskQuotaMb ?? 8192) * KIB;
    this.mounts = [
      { source: '/dev/vda1', fstype: 'ext4', target: '/', sizeKb: rootUsedKb + rootFreeKb, usedKb: rootUsedKb, inodes: 655_360, inodesUsed: 48_213 },
      { source: 'udev', fstype: 'devtmpfs', target: '/dev', sizeKb: 1_000_000, usedKb: 0, inodes: 250_000, inodesUsed: 312 },
      { source: 'tmpfs', fstype: 'tmpfs', target: '/run', sizeKb: 201_388, usedKb: 504, inodes: 251_735, inodesUsed: 520 },
      { source: 'tmpfs', fstype: 'tmpfs', target: '/dev/shm', sizeKb: 1_006_924, usedKb: 0, inodes: 251_731, inodesUsed: 1 },
      { source: '/dev/vda15', fstype: 'vfat', target: '/boot/efi', sizeKb: 126_678, usedKb: 10_900, inodes: 0, inodesUsed: 0 },
    ];
    this.bootId = bootId;
    this.bootedAtMs = bootedAtMs;
    this.boot(bootId, bootedAtMs, true);
  }

  /**
   * A fresh boot: new boot id, empty /run. The application service comes up stopped (it is started
   * by the workflow, as on the lab hosts); ssh and cron are running.
   */
  boot(bootId: string, nowMs: number, firstBoot = false): void {
    this.bootId = bootId;
    this.bootedAtMs = nowMs;
    this.bootHistory.push(bootId);
    this.rebootRequiredPkgs = null;
    this.services.set('ssh', 'active');
    this.services.set('cron', 'active');
    this.services.set(this.scenario.app.service, firstBoot ? 'active' : 'inactive');
  }

  /** Runs one exec request's command line. Never throws: errors become shell-like output. */
  run(commandLine: string, ctx: CommandContext): CommandResult {
    this.commandsServed++;
    let list;
    try {
      list = parseCommandList(commandLine);
    } catch (e) {
      if (e instanceof ShellSyntaxError) return err(`bash: -c: line 1: ${e.message} (simulated shell runs simple commands joined by ; && ||)\n`, 2);
      throw e;
    }
    return this.runList(list, ctx, 0);
  }

  private runList(list: ReturnType<typeof parseCommandList>, ctx: CommandContext, depth: number): CommandResult {
    const total = out('');
    let last = 0;
    for (const item of list) {
      if ((item.connector === '&&' && last !== 0) || (item.connector === '||' && last === 0)) continue;
      const r = this.runSimple({ argv: item.argv, env: { ...ctx.env }, root: ctx.user === 'root', ctx, depth });
      total.stdout += r.stdout;
      total.stderr += r.stderr;
      total.latencyMs += r.latencyMs;
      total.reboot ||= r.reboot;
      last = r.exitCode;
    }
    total.exitCode = last;
    return total;
  }

  private runSimple(inv: Invocation): CommandResult {
    // Leading NAME=value words are assignments for this command only.
    while (inv.argv.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(inv.argv[0]!)) {
      const a = inv.argv[0]!;
      const eq = a.indexOf('=');
      inv.env[a.slice(0, eq)] = a.slice(eq + 1);
      inv.argv = inv.argv.slice(1);
    }
    if (inv.argv.length === 0) return out('');
    const name = commandName(inv.argv[0]!);
    const args = inv.argv.slice(1);
    const latency = inv.ctx.commandLatencyMs ?? 0;
    const withLatency = (r: CommandResult): CommandResult => ({ ...r, latencyMs: r.latencyMs + latency });

    const failureRate = this.behaviour.commandFailureRate;
    if (failureRate > 0 && !BUILTINS.has(name) && inv.ctx.random() < failureRate) return withLatency(transientFailure(name, args));

    switch (name) {
      case 'sudo':
        return this.sudo(inv, args);
      case 'env':
        return this.envCommand(inv, args);
      case 'sh':
      case 'bash':
      case 'dash':
        return this.nestedShell(inv, name, args);
      case 'true':
      case ':':
        return out('');
      case 'false':
        return out('', 1);
      case 'echo':
        return args[0] === '-n' ? out(args.slice(1).join(' ')) : out(args.join(' ') + '\n');
      case 'sleep': {
        const s = Number(args[0]);
        if (!Number.isFinite(s) || s < 0) return err(`sleep: invalid time interval '${args[0] ?? ''}'\n`, 1);
        return { ...out(''), latencyMs: s * 1000 };
      }
      case 'test':
        return out('', this.test(args));
      case '[':
        if (args[args.length - 1] !== ']') return err("bash: [: missing `]'\n", 2);
        return out('', this.test(args.slice(0, -1)));
      case 'cat':
        return withLatency(this.cat(args, inv.ctx));
      case 'hostname':
        return withLatency(out(`${this.hostname}\n`));
      case 'whoami':
        return withLatency(out(`${inv.root ? 'root' : inv.ctx.user}\n`));
      case 'id':
        return withLatency(this.id(inv, args));
      case 'uname':
        return withLatency(this.uname(args));
      case 'df':
        return withLatency(this.df(args));
      case 'dpkg-query':
        return withLatency(this.dpkgQuery(args));
      case 'apt-get':
        return this.aptGet(inv, args, false);
      case 'apt':
        return this.apt(inv, args);
      case 'systemctl':
        return withLatency(this.systemctl(inv, args));
      case 'reboot':
        return withLatency(this.reboot(inv));
      case 'shutdown':
        return withLatency(this.shutdown(inv, args));
      case 'ss':
        return withLatency(this.ss(args));
      case 'curl':
        return withLatency(this.curl(args));
      case 'nc':
        return withLatency(this.nc(args));
      default:
        return withLatency(err(`bash: ${inv.argv[0]}: command not found\n`, 127));
    }
  }

  private sudo(inv: Invocation, args: string[]): CommandResult {
    let i = 0;
    for (; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--') {
        i++;
        break;
      }
      if (a === '-u') {
        if (args[i + 1] !== 'root') return err(`sudo: unknown user ${args[i + 1] ?? ''}\n`, 1);
        i++;
        continue;
      }
      if (/^-[nEHS]+$/.test(a) || a === '--non-interactive' || a === '--preserve-env') continue;
      if (a.startsWith('-')) return err(`sudo: invalid option -- '${a.replace(/^-+/, '')}'\nusage: sudo -h | -K | -k | -V\n`, 1);
      break;
    }
    const rest = args.slice(i);
    if (rest.length === 0) return err('usage: sudo -h | -K | -k | -V\nusage: sudo -v [-ABknS] [-g group] [-h host] [-p prompt] [-u user]\n', 1);
    // The simulated sudoers grants the login user NOPASSWD: ALL, like the lab's automation account.
    return this.runSimple({ ...inv, argv: rest, root: true });
  }

  private envCommand(inv: Invocation, args: string[]): CommandResult {
    let i = 0;
    const env = { ...inv.env };
    if (args[0] === '-i' || args[0] === '-') {
      for (const k of Object.keys(env)) delete env[k];
      i++;
    }
    for (; i < args.length && /^[^=]+=/.test(args[i]!); i++) {
      const a = args[i]!;
      const eq = a.indexOf('=');
      env[a.slice(0, eq)] = a.slice(eq + 1);
    }
    if (i >= args.length) {
      return out(
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
      );
    }
    return this.runSimple({ ...inv, argv: args.slice(i), env });
  }

  private nestedShell(inv: Invocation, name: string, args: string[]): CommandResult {
    if (args[0] !== '-c' || args.length < 2) return err(`${name}: simulated shell supports only \`${name} -c <command>\`\n`, 2);
    if (inv.depth > 4) return err(`${name}: nesting too deep\n`, 2);
    let list;
    try {
      list = parseCommandList(args[1]!);
    } catch (e) {
      if (e instanceof ShellSyntaxError) return err(`${name}: 1: ${e.message}\n`, 2);
      throw e;
    }
    return this.runList(list, { ...inv.ctx, env: inv.env, user: inv.root ? 'root' : inv.ctx.user }, inv.depth + 1);
  }

  // ---- files -------------------------------------------------------------------------------

  /** Contents of a file, or undefined when it does not exist. Directories answer `null`. */
  private readFile(path: string, ctx: CommandContext): string | null | undefined {
    const p = path.replace(/^\/var\/run\//, '/run/');
    switch (p) {
      case '/etc/os-release':
      case '/usr/lib/os-release':
        return OS_RELEASE;
      case '/etc/debian_version':
        return '12.11\n';
      case '/etc/hostname':
        return `${this.hostname}\n`;
      case '/proc/sys/kernel/random/boot_id':
        return `${this.bootId}\n`;
      case '/proc/uptime': {
        const up = Math.max(0, ctx.nowMs - this.bootedAtMs) / 1000;
        return `${up.toFixed(2)} ${(up * 1.9).toFixed(2)}\n`;
      }
      case '/run/reboot-required':
        return this.rebootRequiredPkgs ? REBOOT_REQUIRED_TEXT : undefined;
      case '/run/reboot-required.pkgs':
        return this.rebootRequiredPkgs ? this.rebootRequiredPkgs.map((n) => `${n}\n`).join('') : undefined;
      case '/':
      case '/etc':
      case '/run':
      case '/proc':
      case '/tmp':
      case '/var':
      case '/root':
        return null;
      default:
        return undefined;
    }
  }

  private cat(args: string[], ctx: CommandContext): CommandResult {
    const r = out('');
    for (const f of args) {
      const c = this.readFile(f, ctx);
      if (c === undefined) {
        r.stderr += `cat: ${f}: No such file or directory\n`;
        r.exitCode = 1;
      } else if (c === null) {
        r.stderr += `cat: ${f}: Is a directory\n`;
        r.exitCode = 1;
      } else r.stdout += c;
    }
    return r;
  }

  /** `test` / `[` with the unary file and string operators scripts use; 0 true, 1 false, 2 error. */
  private test(args: string[]): number {
    if (args[0] === '!') {
      const r = this.test(args.slice(1));
      return r === 2 ? 2 : 1 - r;
    }
    const ctx: CommandContext = { user: 'root', env: {}, nowMs: 0, random: () => 0 };
    if (args.length === 0) return 1;
    if (args.length === 1) return args[0] !== '' ? 0 : 1;
    if (args.length === 2) {
      const [op, path] = args as [string, string];
      const c = this.readFile(path, ctx);
      switch (op) {
        case '-e':
          return c !== undefined ? 0 : 1;
        case '-f':
          return typeof c === 'string' ? 0 : 1;
        case '-d':
          return c === null ? 0 : 1;
        case '-s':
          return typeof c === 'string' && c.length > 0 ? 0 : 1;
        case '-r':
          return c !== undefined ? 0 : 1;
        case '-n':
          return path !== '' ? 0 : 1;
        case '-z':
          return path === '' ? 0 : 1;
        default:
          return 2;
      }
    }
    if (args.length === 3) {
      const [a, op, b] = args as [string, string, string];
      if (op === '=' || op === '==') return a === b ? 0 : 1;
      if (op === '!=') return a !== b ? 0 : 1;
    }
    return 2;
  }

  private id(inv: Invocation, args: string[]): CommandResult {
    const uid = inv.root ? 0 : 1000;
    const name = inv.root ? 'root' : inv.ctx.user;
    if (args[0] === '-u') return out(args[1] === '-n' ? `${name}\n` : `${uid}\n`);
    if (args[0] === '-un' || (args[0] === '-n' && args[1] === '-u')) return out(`${name}\n`);
    return out(`uid=${uid}(${name}) gid=${uid}(${name}) groups=${uid}(${name})${inv.root ? '' : ',27(sudo)'}\n`);
  }

  private uname(args: string[]): CommandResult {
    const parts = { s: 'Linux', n: this.hostname, r: KERNEL_RELEASE, v: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)', m: 'x86_64', o: 'GNU/Linux' };
    if (args.length === 0) return out('Linux\n');
    if (args.includes('-a')) return out(`${parts.s} ${parts.n} ${parts.r} ${parts.v} ${parts.m} ${parts.o}\n`);
    const picked: string[] = [];
    for (const a of args) {
      for (const f of a.replace(/^-/, '')) {
        const v = (parts as Record<string, string>)[f];
        if (v === undefined) return err(`uname: invalid option -- '${f}'\n`, 1);
        picked.push(v);
      }
    }
    return out(picked.join(' ') + '\n');
  }

  // ---- disk --------------------------------------------------------------------------------

  /** Free space of the root file system in KiB. */
  get rootFreeKb(): number {
    const root = this.mounts[0]!;
    return root.sizeKb - root.usedKb;
  }

  private df(args: string[]): CommandResult {
    let blockSize = 1024;
    let human = false;
    let posix = false;
    let showType = false;
    let output: string[] | undefined;
    const paths: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-P' || a === '--portability') posix = true;
      else if (a === '-k') blockSize = 1024;
      else if (a === '-h' || a === '--human-readable') human = true;
      else if (a === '-T' || a === '--print-type') showType = true;
      else if (a === '-l' || a === '--local') continue;
      else if (a.startsWith('-B') || a.startsWith('--block-size=')) {
        const v = a.startsWith('-B') ? a.slice(2) || args[++i] || '' : a.slice('--block-size='.length);
        const bs = parseBlockSize(v);
        if (bs === undefined) return err(`df: invalid -B argument '${v}'\n`, 1);
        blockSize = bs;
      } else if (a === '--output') output = ['source', 'fstype', 'itotal', 'iused', 'iavail', 'ipcent', 'size', 'used', 'avail', 'pcent', 'file', 'target'];
      else if (a.startsWith('--output=')) {
        output = a.slice('--output='.length).split(',');
        const bad = output.find((f) => !DF_FIELDS.has(f));
        if (bad !== undefined) return err(`df: option --output: field '${bad}' unknown\nTry 'df --help' for more information.\n`, 1);
      } else if (a.startsWith('-') && a !== '-') {
        return err(`df: invalid option -- '${a.replace(/^-+/, '')}'\nTry 'df --help' for more information.\n`, 1);
      } else paths.push(a);
    }
    const rows: { m: Mount; file: string }[] = [];
    let exitCode = 0;
    let stderr = '';
    if (paths.length === 0) for (const m of this.mounts) rows.push({ m, file: '-' });
    for (const p of paths) {
      const m = this.mountOf(p);
      if (m === undefined) {
        stderr += `df: ${p}: No such file or directory\n`;
        exitCode = 1;
      } else rows.push({ m, file: p });
    }
    const fmt = (kb: number): string =>
      human ? humanSize(kb * 1024) : String(Math.ceil((kb * 1024) / blockSize)) + (blockSize === 1048576 && !posix ? 'M' : '');
    const sizeHeader = human
      ? 'Size'
      : blockSize === 1024
        ? posix
          ? '1024-blocks'
          : '1K-blocks'
        : blockSize === 1048576
          ? posix
            ? '1048576-blocks'
            : '1M-blocks'
          : `${blockSize}-blocks`;
    const pct = (used: number, total: number): string => (total === 0 ? '-' : `${Math.ceil((used * 100) / total)}%`);
    const cell = (f: string, m: Mount, file: string): string => {
      switch (f) {
        case 'source':
          return m.source;
        case 'fstype':
          return m.fstype;
        case 'itotal':
          return String(m.inodes);
        case 'iused':
          return String(m.inodesUsed);
        case 'iavail':
          return String(m.inodes - m.inodesUsed);
        case 'ipcent':
          return pct(m.inodesUsed, m.inodes);
        case 'size':
          return fmt(m.sizeKb);
        case 'used':
          return fmt(m.usedKb);
        case 'avail':
          return fmt(m.sizeKb - m.usedKb);
        case 'pcent':
          return pct(m.usedKb, m.sizeKb);
        case 'file':
          return file;
        default:
          return m.target;
      }
    };
    let fields: string[];
    let headers: string[];
    if (output) {
      fields = output;
      headers = output.map((f) => (f === 'size' ? sizeHeader : DF_HEADERS[f]!));
    } else if (posix) {
      fields = ['source', 'size', 'used', 'avail', 'pcent', 'target'];
      headers = ['Filesystem', sizeHeader, 'Used', 'Available', 'Capacity', 'Mounted on'];
    } else {
      fields = showType ? ['source', 'fstype', 'size', 'used', 'avail', 'pcent', 'target'] : ['source', 'size', 'used', 'avail', 'pcent', 'target'];
      headers = fields.map((f) => (f === 'size' ? sizeHeader : f === 'avail' ? (human ? 'Avail' : 'Available') : DF_HEADERS[f]!));
    }
    const table = [headers, ...rows.map((r) => fields.map((f) => cell(f, r.m, r.file)))];
    const leftAligned = new Set(['source', 'fstype', 'file', 'target']);
    const widths = fields.map((f, c) => Math.max(f === 'source' ? 14 : 0, ...table.map((row) => row[c]!.length)));
    const lines = table.map((row) =>
      row
        .map((v, c) => {
          const last = c === row.length - 1;
          if (leftAligned.has(fields[c]!)) return last ? v : v.padEnd(widths[c]!);
          return v.padStart(widths[c]!);
        })
        .join(' '),
    );
    return out(rows.length > 0 ? lines.join('\n') + '\n' : '', exitCode, stderr);
  }

  private mountOf(path: string): Mount | undefined {
    if (!path.startsWith('/')) path = `/root/${path}`;
    const known = [
      '/',
      '/etc',
      '/var',
      '/var/cache/apt/archives',
      '/var/lib',
      '/tmp',
      '/usr',
      '/home',
      '/root',
      '/opt',
      '/srv',
      '/run',
      '/dev',
      '/dev/shm',
      '/boot',
      '/boot/efi',
      '/proc',
    ];
    const norm = path.length > 1 ? path.replace(/\/+$/, '') : path;
    if (!known.includes(norm) && this.readFile(norm, { user: 'root', env: {}, nowMs: 0, random: () => 0 }) === undefined) return undefined;
    let best: Mount | undefined;
    for (const m of this.mounts) {
      if (norm === m.target || norm.startsWith(m.target === '/' ? '/' : `${m.target}/`)) {
        if (!best || m.target.length > best.target.length) best = m;
      }
    }
    return best;
  }

  // ---- packages ----------------------------------------------------------------------------

  private dpkgQuery(args: string[]): CommandResult {
    let format = '${Package}\t${Version}\n';
    let show = false;
    const names: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-W' || a === '--show') show = true;
      else if (a === '-f' || a === '--showformat') format = args[++i] ?? '';
      else if (a.startsWith('-f') && a.length > 2) format = a.slice(a[2] === '=' ? 3 : 2);
      else if (a.startsWith('--showformat=')) format = a.slice('--showformat='.length);
      else if (a.startsWith('-')) return err(`dpkg-query: error: unknown option ${a}\n\nUse --help for help about querying packages.\n`, 2);
      else names.push(a);
    }
    if (!show) return err('dpkg-query: error: need an action option\n\nUse --help for help about querying packages.\n', 2);
    const all = [...this.installed.keys()].sort();
    const r = out('');
    const selected: string[] = [];
    if (names.length === 0) selected.push(...all);
    for (const n of names) {
      if (this.installed.has(n)) selected.push(n);
      else {
        r.stderr += `dpkg-query: no packages found matching ${n}\n`;
        r.exitCode = 1;
      }
    }
    const fmt = unescapeDpkgFormat(format);
    for (const n of selected) {
      const half = this.halfConfigured.has(n);
      const fields: Record<string, string> = {
        Package: n,
        'binary:Package': n,
        Version: this.installed.get(n)!,
        Architecture: this.catalogue.has(n) ? 'all' : 'amd64',
        Status: half ? 'install ok half-configured' : 'install ok installed',
        'db:Status-Abbrev': half ? 'iF ' : 'ii ',
        'db:Status-Status': half ? 'half-configured' : 'installed',
      };
      r.stdout += fmt.replace(/\$\{([^}:]+(?::[^};]+)?)(?:;-?\d+)?\}/g, (_, f: string) => fields[f] ?? '');
    }
    return r;
  }

  /** Packages an `upgrade` would change now, with their candidate versions. */
  upgradable(): PackageSpec[] {
    return [...this.catalogue.values()]
      .filter((p) => {
        const cur = this.installed.get(p.name);
        return cur !== undefined && compareDebianVersions(p.available, cur) > 0;
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  private suiteOf(p: PackageSpec): string {
    return p.classification === 'security' ? 'bookworm-security' : 'bookworm';
  }

  private apt(inv: Invocation, args: string[]): CommandResult {
    const warning = '\nWARNING: apt does not have a stable CLI interface. Use with caution in scripts.\n\n';
    const sub = args.find((a) => !a.startsWith('-'));
    if (sub === 'list') {
      const flags = args.filter((a) => a.startsWith('-'));
      const patterns = args.filter((a) => !a.startsWith('-') && a !== 'list');
      let lines: string[];
      if (flags.includes('--upgradable')) {
        lines = this.upgradable().map((p) => `${p.name}/${this.suiteOf(p)} ${p.available} all [upgradable from: ${this.installed.get(p.name)}]`);
      } else if (flags.includes('--installed')) {
        lines = [...this.installed.keys()].sort().map((n) => {
          const spec = this.catalogue.get(n);
          const upg = spec && compareDebianVersions(spec.available, this.installed.get(n)!) > 0;
          return `${n}/bookworm,now ${this.installed.get(n)} ${spec ? 'all' : 'amd64'} [installed${upg ? `,upgradable to: ${spec!.available}` : ''}]`;
        });
      } else {
        lines = [...new Set([...this.installed.keys(), ...this.catalogue.keys()])].sort().map((n) => {
          const spec = this.catalogue.get(n);
          const cur = this.installed.get(n);
          const ver = spec?.available ?? cur!;
          const suite = spec ? this.suiteOf(spec) : 'bookworm';
          const status = cur === undefined ? '' : cur === ver ? ' [installed]' : ` [upgradable from: ${cur}]`;
          return `${n}/${suite}${cur === ver ? ',now' : ''} ${ver} ${spec ? 'all' : 'amd64'}${status}`;
        });
      }
      if (patterns.length > 0) lines = lines.filter((l) => patterns.some((p) => globMatch(p, l.slice(0, l.indexOf('/')))));
      return { ...out('Listing...\n' + lines.map((l) => l + '\n').join(''), 0, warning), latencyMs: Math.round(this.behaviour.aptLatencyMs / 10) };
    }
    if (sub === 'update' || sub === 'upgrade' || sub === 'full-upgrade' || sub === 'install') {
      const r = this.aptGet(inv, args, true);
      return { ...r, stderr: warning + r.stderr };
    }
    return err(`E: Invalid operation ${sub ?? ''}\n`, 100);
  }

  private aptGet(inv: Invocation, args: string[], viaApt: boolean): CommandResult {
    let yes = false;
    let quiet = 0;
    let simulate = false;
    let withNew = false;
    let onlyUpgrade = false;
    let sub: string | undefined;
    const pkgs: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-y' || a === '--yes' || a === '--assume-yes') yes = true;
      else if (a === '-q' || a === '--quiet') quiet = Math.max(quiet, 1);
      else if (a === '-qq' || a.startsWith('--quiet=') || a.startsWith('-q=')) quiet = 2;
      else if (a === '-s' || a === '--simulate' || a === '--dry-run' || a === '--just-print') simulate = true;
      else if (a === '--with-new-pkgs') withNew = true;
      else if (a === '--only-upgrade') onlyUpgrade = true;
      else if (a === '-o' || a === '--option') i++;
      else if (a.startsWith('-o') || a.startsWith('--option=')) continue;
      else if (
        [
          '--no-install-recommends',
          '--allow-downgrades',
          '--fix-missing',
          '-f',
          '--fix-broken',
          '--allow-change-held-packages',
          '-V',
          '--verbose-versions',
        ].includes(a)
      )
        continue;
      else if (a.startsWith('-'))
        return err(`E: Command line option '${a.replace(/^-+/, '')}' [from ${a}] is not understood in combination with the other options.\n`, 100);
      else if (sub === undefined) sub = a;
      else pkgs.push(a);
    }
    const apt = this.behaviour.aptLatencyMs;
    switch (sub) {
      case 'update': {
        if (!inv.root)
          return err(
            'E: Could not open lock file /var/lib/apt/lists/lock - open (13: Permission denied)\nE: Unable to lock directory /var/lib/apt/lists/\n',
            100,
          );
        const lines = quiet >= 2 ? '' : `Hit:1 ${SOURCES.security} InRelease\nHit:2 ${SOURCES.regular} InRelease\nReading package lists...\n`;
        const tail =
          viaApt && quiet < 2
            ? `Building dependency tree...\nReading state information...\n${this.upgradable().length === 0 ? 'All packages are up to date.' : `${this.upgradable().length} packages can be upgraded. Run 'apt list --upgradable' to see them.`}\n`
            : '';
        return { ...out(lines + tail), latencyMs: apt };
      }
      case 'upgrade':
      case 'dist-upgrade':
      case 'full-upgrade':
      case 'install': {
        if (!inv.root && !simulate) {
          return err(
            'E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?\n',
            100,
          );
        }
        const r = this.installPackages(sub, pkgs, { yes, quiet, simulate, withNew: withNew || sub !== 'upgrade' || viaApt, onlyUpgrade, env: inv.env });
        return { ...r, latencyMs: r.latencyMs + apt };
      }
      case undefined:
        return err('E: No operation specified\n', 100);
      default:
        return err(`E: Invalid operation ${sub}\n`, 100);
    }
  }

  private installPackages(
    sub: string,
    requested: string[],
    o: { yes: boolean; quiet: number; simulate: boolean; withNew: boolean; onlyUpgrade: boolean; env: Record<string, string> },
  ): CommandResult {
    let stdout = 'Reading package lists...\nBuilding dependency tree...\nReading state information...\n';
    const stderrNotes: string[] = [];
    const upgrade: PackageSpec[] = [];
    const fresh: PackageSpec[] = [];
    const keptBack: string[] = [];
    const additional = new Set<string>();
    const planned = new Map<string, string>(this.installed);
    const want = (p: PackageSpec, explicit: boolean): boolean => {
      const cur = this.installed.get(p.name);
      if (cur !== undefined && compareDebianVersions(p.available, cur) <= 0) return true;
      if (p.dependsOn) {
        const dep = this.catalogue.get(p.dependsOn.name);
        const depCur = planned.get(p.dependsOn.name);
        const depOk = depCur !== undefined && compareDebianVersions(depCur, p.dependsOn.version) >= 0;
        if (!depOk) {
          if (!dep || compareDebianVersions(dep.available, p.dependsOn.version) < 0) return false;
          if (depCur === undefined && !o.withNew && !explicit) return false;
          if (!want(dep, false)) return false;
          if (explicit) additional.add(dep.name);
        }
      }
      if (!upgrade.includes(p) && !fresh.includes(p)) (cur === undefined ? fresh : upgrade).push(p);
      planned.set(p.name, p.available);
      return true;
    };
    if (sub === 'install') {
      for (const raw of requested) {
        const name = raw.replace(/[=:].*$/, '');
        const spec = this.catalogue.get(name);
        if (!spec) {
          if (this.installed.has(name)) {
            stdout += `${name} is already the newest version (${this.installed.get(name)}).\n`;
            continue;
          }
          return out(stdout, 100, `E: Unable to locate package ${raw}\n`);
        }
        const cur = this.installed.get(name);
        if (cur === undefined && o.onlyUpgrade) {
          stdout += `Skipping ${name}, it is not installed and only upgrades are requested.\n`;
          continue;
        }
        if (cur !== undefined && compareDebianVersions(spec.available, cur) <= 0) {
          stdout += `${name} is already the newest version (${cur}).\n`;
          continue;
        }
        if (!want(spec, true)) return out(stdout, 100, `E: Unable to correct problems, you have held broken packages.\n`);
      }
    } else {
      stdout += 'Calculating upgrade...\n';
      for (const p of this.upgradable()) if (!want(p, false)) keptBack.push(p.name);
    }
    const notUpgraded = this.upgradable().filter((p) => !upgrade.includes(p)).length;
    const list = (title: string, names: string[]): string => (names.length === 0 ? '' : `${title}\n  ${[...names].sort().join(' ')}\n`);
    stdout += list('The following packages have been kept back:', keptBack);
    stdout += list('The following additional packages will be installed:', [...additional]);
    stdout += list(
      'The following NEW packages will be installed:',
      fresh.map((p) => p.name),
    );
    stdout += list(
      'The following packages will be upgraded:',
      upgrade.map((p) => p.name),
    );
    stdout += `${upgrade.length} upgraded, ${fresh.length} newly installed, 0 to remove and ${notUpgraded} not upgraded.\n`;
    const todo = orderByDependency([...upgrade, ...fresh]);
    if (todo.length === 0) return out(stdout);
    if (o.simulate) {
      for (const p of todo)
        stdout += `Inst ${p.name}${this.installed.has(p.name) ? ` [${this.installed.get(p.name)}]` : ''} (${p.available} Debian:12.11/${this.suiteOf(p)} [all])\n`;
      for (const p of todo) stdout += `Conf ${p.name} (${p.available} Debian:12.11/${this.suiteOf(p)} [all])\n`;
      return out(stdout);
    }
    const debBytes = todo.map((p) => 1024 + Math.round(p.sizeMb * 1024 * 1024));
    const totalBytes = debBytes.reduce((a, b) => a + b, 0);
    const growKb = todo.reduce((a, p) => a + Math.round(p.sizeMb * 1024), 0);
    // A file: repository is read in place, so apt downloads nothing.
    stdout += `Need to get 0 B/${formatBytes(totalBytes)} of archives.\n`;
    stdout +=
      growKb > 0
        ? `After this operation, ${formatBytes(growKb * 1024 * 2)} of additional disk space will be used.\n`
        : 'After this operation, 0 B of additional disk space will be used.\n';
    if (!o.yes) return out(stdout + 'Do you want to continue? [Y/n] Abort.\n', 1);
    // apt needs room for the archives and the unpacked files alike.
    if (growKb * 2 > this.rootFreeKb) return out(stdout, 100, "E: You don't have enough free space in /var/cache/apt/archives/.\n");
    if (o.env.DEBIAN_FRONTEND !== 'noninteractive') {
      stderrNotes.push(
        'debconf: unable to initialize frontend: Dialog',
        'debconf: (TERM is not set, so the dialog frontend is not usable.)',
        'debconf: falling back to frontend: Readline',
        'debconf: unable to initialize frontend: Readline',
        'debconf: (This frontend requires a controlling tty.)',
        'debconf: falling back to frontend: Teletype',
      );
    }
    stdout += `(Reading database ... ${18_734 + this.installed.size * 11} files and directories currently installed.)\n`;
    const old = new Map<string, string | undefined>();
    for (const p of todo) {
      const cur = this.installed.get(p.name);
      old.set(p.name, cur);
      if (cur === undefined) stdout += `Selecting previously unselected package ${p.name}.\n`;
      stdout += `Preparing to unpack .../${p.name}_${p.available.replace(/^\d+:/, '')}_all.deb ...\n`;
      stdout += cur === undefined ? `Unpacking ${p.name} (${p.available}) ...\n` : `Unpacking ${p.name} (${p.available}) over (${cur}) ...\n`;
      this.installed.set(p.name, p.available);
      this.halfConfigured.delete(p.name);
    }
    this.mounts[0]!.usedKb += growKb;
    const failed: string[] = [];
    for (const p of todo) {
      stdout += `Setting up ${p.name} (${p.available}) ...\n`;
      if (p.postinstFails) {
        this.halfConfigured.add(p.name);
        failed.push(p.name);
        stderrNotes.push(
          `dpkg: error processing package ${p.name} (--configure):`,
          ` installed ${p.name} package post-installation script subprocess returned error exit status 1`,
        );
        continue;
      }
      if (p.rebootRequired) {
        this.rebootRequiredPkgs ??= [];
        if (!this.rebootRequiredPkgs.includes(p.name)) this.rebootRequiredPkgs.push(p.name);
      }
    }
    const stderr = stderrNotes.map((l) => l + '\n').join('');
    if (failed.length > 0) {
      stdout += `Errors were encountered while processing:\n${failed.map((n) => ` ${n}\n`).join('')}`;
      return out(stdout, 100, stderr + 'E: Sub-process /usr/bin/dpkg returned an error code (1)\n');
    }
    return out(stdout, 0, stderr);
  }

  // ---- services, reboot, network -----------------------------------------------------------

  private systemctl(inv: Invocation, args: string[]): CommandResult {
    const flags = new Set(args.filter((a) => a.startsWith('-')));
    const rest = args.filter((a) => !a.startsWith('-'));
    const verb = rest[0];
    const units = rest.slice(1).map((u) => u.replace(/\.service$/, ''));
    const quiet = flags.has('--quiet') || flags.has('-q');
    const known = (u: string): boolean => this.services.has(u);
    const denied = (what: string, u: string): CommandResult =>
      err(`Failed to ${what} ${u}.service: Interactive authentication required.\nSee system logs and 'systemctl status ${u}.service' for details.\n`, 1);
    switch (verb) {
      case 'is-active': {
        if (units.length === 0) return err('Too few arguments.\n', 1);
        let code = 0;
        let stdout = '';
        for (const u of units) {
          const s = this.services.get(u) ?? 'inactive';
          if (s !== 'active') code = 3;
          stdout += `${s}\n`;
        }
        return out(quiet ? '' : stdout, code);
      }
      case 'is-enabled': {
        const u = units[0] ?? '';
        if (!known(u)) return err(`Failed to get unit file state for ${u}.service: No such file or directory\n`, 1);
        return out(quiet ? '' : 'enabled\n');
      }
      case 'start':
      case 'stop':
      case 'restart':
      case 'reload':
      case 'try-restart': {
        if (units.length === 0) return err('Too few arguments.\n', 1);
        for (const u of units) {
          if (!inv.root) return denied(verb, u);
          if (!known(u)) return err(`Failed to ${verb} ${u}.service: Unit ${u}.service ${verb === 'stop' ? 'not loaded' : 'not found'}.\n`, 5);
        }
        for (const u of units) {
          if (verb === 'stop') this.services.set(u, 'inactive');
          else if (verb === 'try-restart') continue;
          else if (verb === 'reload' && this.services.get(u) !== 'active') return err(`Job for ${u}.service failed.\n`, 1);
          else this.services.set(u, 'active');
        }
        return out('');
      }
      case 'status': {
        const u = units[0] ?? '';
        if (!known(u)) return err(`Unit ${u}.service could not be found.\n`, 4);
        const s = this.services.get(u)!;
        const since = new Date(this.bootedAtMs).toUTCString();
        return out(
          `${s === 'active' ? '●' : '○'} ${u}.service\n     Loaded: loaded (/lib/systemd/system/${u}.service; enabled; preset: enabled)\n     Active: ${s === 'active' ? `active (running) since ${since}` : 'inactive (dead)'}\n`,
          s === 'active' ? 0 : 3,
        );
      }
      case 'daemon-reload':
        return inv.root ? out('') : err('Failed to reload daemon: Interactive authentication required.\n', 1);
      case 'reboot':
        return this.reboot(inv);
      case undefined:
        return out('  UNIT LOADED ACTIVE SUB DESCRIPTION\n');
      default:
        return err(`Unknown command verb ${verb}.\n`, 1);
    }
  }

  private reboot(inv: Invocation): CommandResult {
    if (!inv.root) {
      return err(
        "Failed to set wall message, ignoring: Interactive authentication required.\nFailed to reboot system via logind: Interactive authentication required.\nFailed to start reboot.target: Interactive authentication required.\nSee system logs and 'systemctl status reboot.target' for details.\n",
        1,
      );
    }
    this.rebootRequestsByBootId.set(this.bootId, (this.rebootRequestsByBootId.get(this.bootId) ?? 0) + 1);
    return { ...out(''), reboot: true };
  }

  private shutdown(inv: Invocation, args: string[]): CommandResult {
    const flags = args.filter((a) => a.startsWith('-'));
    const when = args.find((a) => !a.startsWith('-')) ?? '+1';
    if (!flags.some((f) => f === '-r' || f === '--reboot')) return err('shutdown: the simulated fleet only supports reboots (-r)\n', 1);
    if (when !== 'now' && when !== '0' && when !== '+0') return err(`shutdown: the simulated fleet only supports immediate reboots, not '${when}'\n`, 1);
    return this.reboot(inv);
  }

  private listening(): { addr: string; port: number }[] {
    const l = [
      { addr: '0.0.0.0', port: 22 },
      { addr: '[::]', port: 22 },
    ];
    if (this.services.get(this.scenario.app.service) === 'active') l.push({ addr: '0.0.0.0', port: this.scenario.app.port });
    return l;
  }

  private ss(args: string[]): CommandResult {
    const flags = args.filter((a) => a.startsWith('-')).join('');
    const filter = args.filter((a) => !a.startsWith('-') && a !== '(' && a !== ')');
    if (!flags.includes('l') || !flags.includes('t')) return err('ss: the simulated fleet answers only listening TCP sockets (-lt)\n', 1);
    let sockets = this.listening();
    if (filter.length > 0) {
      if (filter.length !== 3 || filter[0] !== 'sport' || !['=', '==', 'eq'].includes(filter[1]!) || !/^:\d+$/.test(filter[2]!)) {
        return err(`ss: bad filter expression: ${filter.join(' ')}\n`, 1);
      }
      const port = Number(filter[2]!.slice(1));
      sockets = sockets.filter((s) => s.port === port);
    }
    const header = flags.includes('H') ? '' : 'State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n';
    const rows = sockets.map((s) => {
      const local = `${s.addr}:${s.port}`;
      const peer = s.addr === '[::]' ? '[::]:*' : '0.0.0.0:*';
      return `LISTEN 0      ${String(s.port === 22 ? 128 : 511).padEnd(6)} ${local.padStart(18)} ${peer.padStart(18)}          \n`;
    });
    return out(header + rows.join(''));
  }

  private appAnswers(host: string, port: number): boolean {
    return ['127.0.0.1', 'localhost', '::1', '[::1]', '0.0.0.0'].includes(host) && this.listening().some((s) => s.port === port && port !== 22);
  }

  private curl(args: string[]): CommandResult {
    let silent = false;
    let showError = false;
    let toNull = false;
    let url: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-o' || a === '--output') toNull = args[++i] === '/dev/null';
      else if (a === '-m' || a === '--max-time' || a === '--connect-timeout' || a === '-w') i++;
      else if (/^-[a-zA-Z]+$/.test(a)) {
        silent ||= a.includes('s');
        showError ||= a.includes('S');
      } else if (a.startsWith('--')) continue;
      else url = a;
    }
    const m = url ? /^(?:http:\/\/)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?/.exec(url) : null;
    if (!m) return err('curl: (3) URL using bad/illegal format or missing URL\n', 3);
    const host = m[1]!;
    const port = Number(m[2] ?? 80);
    if (!this.appAnswers(host, port)) {
      return err(!silent || showError ? `curl: (7) Failed to connect to ${host} port ${port} after 0 ms: Couldn't connect to server\n` : '', 7);
    }
    return out(toNull ? '' : '{"status":"ok"}\n');
  }

  private nc(args: string[]): CommandResult {
    const pos = args.filter((a, i) => !a.startsWith('-') && args[i - 1] !== '-w');
    if (!args.some((a) => a.startsWith('-') && a.includes('z')) || pos.length !== 2)
      return err('nc: the simulated fleet supports only `nc -z [-w N] host port`\n', 1);
    return out('', this.appAnswers(pos[0]!, Number(pos[1])) ? 0 : 1);
  }
}

/** Commands built into the shell never fail for lack of resources in the simulation. */
const BUILTINS = new Set(['true', ':', 'false', 'echo', 'test', '[', 'sudo', 'env', 'sh', 'bash', 'dash']);

const DF_FIELDS = new Set(['source', 'fstype', 'itotal', 'iused', 'iavail', 'ipcent', 'size', 'used', 'avail', 'pcent', 'file', 'target']);
const DF_HEADERS: Record<string, string> = {
  source: 'Filesystem',
  fstype: 'Type',
  itotal: 'Inodes',
  iused: 'IUsed',
  iavail: 'IFree',
  ipcent: 'IUse%',
  used: 'Used',
  avail: 'Avail',
  pcent: 'Use%',
  file: 'File',
  target: 'Mounted on',
};

/** `/usr/bin/apt-get` and `apt-get` are the same command; other paths are not on the host. */
function commandName(argv0: string): string {
  const m = /^\/(?:usr\/)?s?bin\/([^/]+)$/.exec(argv0);
  return m ? m[1]! : argv0;
}

function transientFailure(name: string, args: string[]): CommandResult {
  if (name === 'apt-get' || name === 'apt') {
    if (args.includes('update'))
      return err(
        'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)\nN: Be aware that removing the lock file is not a solution and may break your system.\nE: Unable to lock directory /var/lib/apt/lists/\n',
        100,
      );
    return err(
      'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)\nN: Be aware that removing the lock file is not a solution and may break your system.\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?\n',
      100,
    );
  }
  if (name === 'systemctl') return err('Failed to connect to bus: Connection refused\n', 1);
  return err('bash: fork: retry: Resource temporarily unavailable\nbash: fork: Resource temporarily unavailable\n', 254);
}

function orderByDependency(pkgs: PackageSpec[]): PackageSpec[] {
  const byName = new Map(pkgs.map((p) => [p.name, p]));
  const done = new Set<string>();
  const result: PackageSpec[] = [];
  const visit = (p: PackageSpec): void => {
    if (done.has(p.name)) return;
    done.add(p.name);
    const dep = p.dependsOn && byName.get(p.dependsOn.name);
    if (dep) visit(dep);
    result.push(p);
  };
  for (const p of [...pkgs].sort((a, b) => (a.name < b.name ? -1 : 1))) visit(p);
  return result;
}

function unescapeDpkgFormat(f: string): string {
  return f.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

function parseBlockSize(v: string): number | undefined {
  const m = /^(\d*)([KMG]?)(i?B)?$/i.exec(v);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const unit = { '': 1, K: 1024, M: 1048576, G: 1073741824 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1] || '1') * unit;
}

function humanSize(bytes: number): string {
  const units = ['', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return String(v);
  return v < 10 ? `${(Math.ceil(v * 10) / 10).toFixed(1)}${units[u]}` : `${Math.ceil(v)}${units[u]}`;
}

function formatBytes(b: number): string {
  if (b < 1000) return `${b} B`;
  if (b < 1_000_000) return `${(b / 1000).toFixed(b < 10_000 ? 1 : 0)} kB`;
  return `${(b / 1_000_000).toFixed(1)} MB`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|\\]/g, '\\$&')
        .replaceAll('*', '.*')
        .replaceAll('?', '.') +
      '$',
  );
  return re.test(name);
}
