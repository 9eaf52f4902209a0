import type { PlannedPackage } from '@patchbay/contracts';

/**
 * Package-manager commands as argv arrays, and the parsers for what they print. Pure: the patch
 * step decides which of these to run; nothing here touches an endpoint.
 */

export type PackageManager = 'apt' | 'dnf' | 'yum' | 'zypper';

/** A command plus the environment it needs (passed by the remote port as `env NAME=value`). */
export interface ManagerCommand {
  argv: string[];
  env?: Record<string, string>;
}

/** Seconds apt and dpkg wait for a lock another process holds (a resumed run may meet its own earlier apt). */
export const DPKG_LOCK_TIMEOUT_SECONDS = 120;

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none', NEEDRESTART_MODE: 'a' };
const APT_OPTS = [
  '-q',
  '-y',
  '-o', `DPkg::Lock::Timeout=${DPKG_LOCK_TIMEOUT_SECONDS}`,
  // Keep locally changed config files and take the package's default for new ones: never prompt.
  '-o', 'Dpkg::Options::=--force-confdef',
  '-o', 'Dpkg::Options::=--force-confold',
];

/** What to install: exactly the released packages at their planned versions, or everything pending / security only. */
export type InstallRequest =
  | { kind: 'packages'; packages: ReadonlyArray<Pick<PlannedPackage, 'name' | 'to'>> }
  /** Names (optionally already pinned `name=version`) without a planned version. */
  | { kind: 'names'; names: readonly string[] }
  | { kind: 'all' }
  | { kind: 'security' };

/** Refreshes the package index. */
export function refreshCommand(pm: PackageManager): ManagerCommand {
  switch (pm) {
    case 'apt':
      return { argv: ['apt-get', 'update', '-q', '-o', `DPkg::Lock::Timeout=${DPKG_LOCK_TIMEOUT_SECONDS}`], env: APT_ENV };
    case 'dnf':
      return { argv: ['dnf', '-q', '-y', 'makecache'] };
    case 'yum':
      return { argv: ['yum', '-q', '-y', 'makecache'] };
    case 'zypper':
      return { argv: ['zypper', '--non-interactive', '--quiet', 'refresh'] };
    default:
      return unreachable(pm);
  }
}

/** `name=version` for apt and zypper, `name-version` for dnf and yum. */
export function pinnedName(pm: PackageManager, name: string, version: string): string {
  return pm === 'apt' || pm === 'zypper' ? `${name}=${version}` : `${name}-${stripZeroEpoch(version)}`;
}

function stripZeroEpoch(v: string): string {
  return v.replace(/^0:/, '');
}

/** Installs what the request names; `undefined` when there is nothing to do (security scope with an empty release on apt). */
export function installCommand(pm: PackageManager, request: InstallRequest): ManagerCommand | undefined {
  const names =
    request.kind === 'packages' ? request.packages.map((p) => pinnedName(pm, p.name, p.to)) : request.kind === 'names' ? [...request.names] : [];
  if ((request.kind === 'packages' || request.kind === 'names') && names.length === 0) return undefined;
  switch (pm) {
    case 'apt':
      if (request.kind === 'all') return { argv: ['apt-get', ...APT_OPTS, '--with-new-pkgs', 'upgrade'], env: APT_ENV };
      // apt has no security-only upgrade of its own; the planner resolves security updates to a package list.
      if (request.kind === 'security') return undefined;
      return { argv: ['apt-get', ...APT_OPTS, '--no-install-recommends', 'install', ...names], env: APT_ENV };
    case 'dnf':
    case 'yum':
      if (request.kind === 'all') return { argv: [pm, '-y', 'upgrade'] };
      if (request.kind === 'security') return { argv: [pm, '-y', 'upgrade', '--security'] };
      return { argv: [pm, '-y', 'install', ...names] };
    case 'zypper':
      if (request.kind === 'all') return { argv: ['zypper', '--non-interactive', 'update', '--auto-agree-with-licenses'] };
      if (request.kind === 'security') return { argv: ['zypper', '--non-interactive', 'patch', '--category', 'security', '--auto-agree-with-licenses'] };
      return { argv: ['zypper', '--non-interactive', 'install', '--auto-agree-with-licenses', ...names] };
    default:
      return unreachable(pm);
  }
}

/** Reinstalls recorded earlier versions (a rollback); `undefined` when nothing changed. */
export function downgradeCommand(pm: PackageManager, packages: ReadonlyArray<{ name: string; version: string }>): ManagerCommand | undefined {
  if (packages.length === 0) return undefined;
  const names = packages.map((p) => pinnedName(pm, p.name, p.version));
  switch (pm) {
    case 'apt':
      return { argv: ['apt-get', ...APT_OPTS, '--allow-downgrades', '--no-install-recommends', 'install', ...names], env: APT_ENV };
    case 'dnf':
    case 'yum':
      return { argv: [pm, '-y', 'downgrade', ...names] };
    case 'zypper':
      return { argv: ['zypper', '--non-interactive', 'install', '--oldpackage', '--auto-agree-with-licenses', ...names] };
    default:
      return unreachable(pm);
  }
}

/** Lists installed packages as `name<TAB>version` lines (see {@link parseInstalledPackages}). */
export function listInstalledCommand(pm: PackageManager): ManagerCommand {
  if (pm === 'apt') return { argv: ['dpkg-query', '-W', '-f', '${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'] };
  return { argv: ['rpm', '-qa', '--qf', '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\tii\\n'] };
}

/**
 * Commands that bring an interrupted package transaction to a consistent state before the install
 * runs again: `dpkg --configure -a` finishes unpacked-but-unconfigured packages (apt refuses to run
 * until it has), `dnf`/`yum` complete or roll back the last transaction on their own at the next run.
 */
export function repairCommands(pm: PackageManager): { audit?: ManagerCommand; repair?: ManagerCommand } {
  switch (pm) {
    case 'apt':
      return { audit: { argv: ['dpkg', '--audit'] }, repair: { argv: ['dpkg', '--force-confdef', '--force-confold', '--configure', '-a'], env: APT_ENV } };
    case 'dnf':
    case 'yum':
      return { audit: { argv: ['rpm', '-Va', '--nofiles', '--nodigest'] } };
    case 'zypper':
      return { audit: { argv: ['zypper', '--non-interactive', 'verify', '--dry-run'] } };
    default:
      return unreachable(pm);
  }
}

/** Removes unused dependencies and cached archives. */
export function cleanupCommands(pm: PackageManager, opts: { autoremove: boolean; cleanCache: boolean }): ManagerCommand[] {
  const out: ManagerCommand[] = [];
  if (pm === 'apt') {
    if (opts.autoremove) out.push({ argv: ['apt-get', ...APT_OPTS, 'autoremove'], env: APT_ENV });
    if (opts.cleanCache) out.push({ argv: ['apt-get', 'clean'] });
  } else if (pm === 'zypper') {
    if (opts.cleanCache) out.push({ argv: ['zypper', '--non-interactive', 'clean', '--all'] });
  } else {
    if (opts.autoremove) out.push({ argv: [pm, '-y', 'autoremove'] });
    if (opts.cleanCache) out.push({ argv: [pm, 'clean', 'all'] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsers
// ---------------------------------------------------------------------------------------------

/** Parses `name<TAB>version[<TAB>status]` lines; packages whose dpkg status is not `ii` are listed in `unclean`. */
export function parseInstalledPackages(stdout: string): { packages: Record<string, string>; unclean: string[] } {
  const packages: Record<string, string> = {};
  const unclean: string[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const [name, version, status] = line.split('\t');
    if (!name || version === undefined) continue;
    // dpkg lists removed-but-configured packages with an empty version: they are not installed.
    if (version === '') continue;
    if (name === 'gpg-pubkey') continue;
    packages[name] = version.replace(/^0:/, '');
    if (status !== undefined && status.trim() !== '' && !status.startsWith('ii')) unclean.push(name);
  }
  return { packages, unclean };
}

/** Which packages changed between two records: `{ name, from, to }`, `from` absent for new ones. */
export function packageChanges(before: Record<string, string>, after: Record<string, string>): Array<{ name: string; from?: string; to?: string }> {
  const out: Array<{ name: string; from?: string; to?: string }> = [];
  for (const [name, to] of Object.entries(after)) {
    const from = before[name];
    if (from !== to) out.push(from === undefined ? { name, to } : { name, from, to });
  }
  for (const [name, from] of Object.entries(before)) if (!(name in after)) out.push({ name, from });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** How a package command ended, read from its exit code and output. */
export interface PatchOutcome {
  ok: boolean;
  /** Another process held the package lock (worth a retry). */
  lockBusy: boolean;
  /** dpkg was interrupted earlier: `dpkg --configure -a` must run first. */
  interrupted: boolean;
  /** The manager itself said a reboot is needed (zypper 102). */
  rebootNeeded: boolean;
  /** `N upgraded, M newly installed …` when apt printed it. */
  counts?: { upgraded: number; installed: number; removed: number; notUpgraded: number };
}

/** Reads a package command's result. */
export function interpretPackageResult(pm: PackageManager, exitCode: number | null, stdout: string, stderr: string): PatchOutcome {
  const text = `${stdout}\n${stderr}`;
  const lockBusy = /Could not get lock|Unable to acquire the dpkg frontend lock|dpkg status database is locked|dpkg frontend lock (?:was|is) locked by another process|another process (?:is using|has locked)|Waiting for process with pid|System management is locked by the application/i.test(text);
  const interrupted = /dpkg was interrupted, you must manually run/.test(text);
  let rebootNeeded = false;
  let ok = exitCode === 0;
  if (pm === 'zypper') {
    // 100 and 101: updates or security updates are pending; 102: done, reboot needed; 103: zypper updated itself.
    if (exitCode === 102) {
      ok = true;
      rebootNeeded = true;
    } else if (exitCode === 100 || exitCode === 101 || exitCode === 103) ok = true;
  }
  const m = /(\d+) upgraded, (\d+) newly installed, (\d+) to remove and (\d+) not upgraded/.exec(stdout);
  const counts = m ? { upgraded: Number(m[1]), installed: Number(m[2]), removed: Number(m[3]), notUpgraded: Number(m[4]) } : undefined;
  return { ok, lockBusy, interrupted, rebootNeeded, ...(counts ? { counts } : {}) };
}

/** Lists upgradable packages with their origin suite (apt: `apt list --upgradable`). */
export function listUpgradableCommand(pm: PackageManager): ManagerCommand | undefined {
  if (pm !== 'apt') return undefined;
  return { argv: ['apt', 'list', '--upgradable', '-q'], env: { LC_ALL: 'C' } };
}

/** One line of `apt list --upgradable`: `name/suite[,suite] version arch [upgradable from: old]`. */
export interface UpgradablePackage {
  name: string;
  suites: string[];
  version: string;
  from?: string;
}

/** Parses `apt list --upgradable` output (its warning and `Listing...` lines are skipped). */
export function parseAptUpgradable(stdout: string): UpgradablePackage[] {
  const out: UpgradablePackage[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z0-9][A-Za-z0-9+._-]*)\/(\S+)\s+(\S+)\s+\S+(?:\s+\[upgradable from: ([^\]]+)\])?/.exec(line.trim());
    if (!m) continue;
    out.push({ name: m[1]!, suites: m[2]!.split(','), version: m[3]!, ...(m[4] ? { from: m[4] } : {}) });
  }
  return out;
}

/** Debian and Ubuntu publish security updates in suites named `<codename>-security`. */
export function isSecuritySuite(suite: string): boolean {
  return /-security$/.test(suite) || suite === 'security';
}

/** Free space in MiB of the file system holding `path`, from `df -P -k <path>` (the path is absolute, never an option). */
export function parseDfFreeMb(stdout: string): number | undefined {
  const lines = stdout.trim().split('\n').filter((l) => l.trim() !== '');
  // POSIX format: header, then one line (long device names may wrap onto a second line).
  const data = lines.slice(1).join(' ').trim().split(/\s+/);
  if (data.length < 6) return undefined;
  const availKb = Number(data[3]);
  return Number.isFinite(availKb) ? Math.floor(availKb / 1024) : undefined;
}

/** Picks the package manager from `/etc/os-release`. */
export function managerFromOsRelease(osRelease: string): PackageManager | undefined {
  const field = (k: string): string => {
    const m = new RegExp(`^${k}=(.*)$`, 'm').exec(osRelease);
    return (m?.[1] ?? '').trim().replace(/^["']|["']$/g, '');
  };
  const ids = [field('ID'), ...field('ID_LIKE').split(/\s+/)].filter(Boolean).map((s) => s.toLowerCase());
  const version = Number.parseInt(field('VERSION_ID'), 10);
  if (ids.some((i) => ['debian', 'ubuntu'].includes(i))) return 'apt';
  if (ids.some((i) => i.includes('suse') || i === 'sles')) return 'zypper';
  if (ids.some((i) => ['rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'ol', 'amzn'].includes(i))) {
    const id = ids[0];
    // RHEL/CentOS 7 and Amazon Linux 2 ship yum only.
    if ((id === 'amzn' && version <= 2) || ((id === 'rhel' || id === 'centos' || id === 'ol') && version < 8)) return 'yum';
    return 'dnf';
  }
  return undefined;
}

function unreachable(x: never): never {
  throw new TypeError(`unknown package manager ${String(x)}`);
}
