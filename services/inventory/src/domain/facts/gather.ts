import type { EndpointFacts, PackageManagerName, PendingUpdate } from '@patchbay/contracts';
import { aptUpdates } from './apt.js';
import { parseBootId, parseDf, parseProcessNames, parseSystemctlRunning, parseUptime } from './linux.js';
import { packageManagerFor, parseOsRelease } from './os-release.js';
import { MAX_OUTPUT_BYTES, type FactProblem } from './problems.js';
import { parseDnfCheckUpdate, parseRpmInstalled, parseUpdateinfoList, rpmUpdates } from './rpm.js';
import { parseZypperListPatches, parseZypperListUpdates, ZypperXmlError } from './zypper.js';

/** A command to run on the endpoint: argv only, never a shell string. */
export interface FactCommand {
  key: string;
  argv: string[];
  /** Needs root (run through `sudo -n` when the identity is not root). */
  privileged?: boolean;
}

/** What one command returned, or why it did not run. */
export type CommandOutcome = { exitCode: number; stdout: string; stderr?: string; truncated?: boolean } | { error: string };

/** Commands that every Linux endpoint answers, before the package manager is known. */
export const BASE_COMMANDS: FactCommand[] = [
  { key: 'os-release', argv: ['cat', '/etc/os-release'] },
  { key: 'boot-id', argv: ['cat', '/proc/sys/kernel/random/boot_id'] },
  { key: 'uptime', argv: ['cat', '/proc/uptime'] },
  { key: 'df', argv: ['df', '-PTk'] },
  { key: 'systemctl', argv: ['systemctl', 'list-units', '--type=service', '--state=running', '--no-legend', '--plain'] },
  { key: 'ps', argv: ['ps', '-eo', 'comm='] },
];

/** Installed packages as `name-[epoch:]version-release.arch` lines. */
const RPM_INSTALLED: FactCommand = { key: 'rpm-installed', argv: ['rpm', '-qa', '--qf', '%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\\n'] };

/** Commands for the package manager's facts; `refresh` first updates the package lists. */
export function packageCommands(pm: PackageManagerName, refresh: boolean): FactCommand[] {
  switch (pm) {
    case 'apt':
      return [
        ...(refresh ? [{ key: 'refresh', argv: ['apt-get', 'update', '-q'], privileged: true }] : []),
        { key: 'apt-list', argv: ['apt', 'list', '--upgradable'] },
        { key: 'apt-simulate', argv: ['apt-get', '-s', '-o', 'Debug::NoLocking=1', 'dist-upgrade'] },
        { key: 'reboot-required', argv: ['test', '-e', '/run/reboot-required'] },
      ];
    case 'dnf':
    case 'yum':
      return [
        ...(refresh ? [{ key: 'refresh', argv: [pm, '-q', 'makecache'], privileged: true }] : []),
        { key: 'check-update', argv: [pm, '-q', 'check-update'] },
        { key: 'updateinfo', argv: pm === 'dnf' ? ['dnf', '-q', 'updateinfo', 'list', '--security'] : ['yum', '-q', 'updateinfo', 'list', 'security'] },
        RPM_INSTALLED,
        { key: 'needs-restarting', argv: ['needs-restarting', '-r'], privileged: true },
      ];
    case 'zypper':
      return [
        ...(refresh ? [{ key: 'refresh', argv: ['zypper', '--non-interactive', 'refresh'], privileged: true }] : []),
        { key: 'zypper-updates', argv: ['zypper', '--non-interactive', '--no-refresh', '--xmlout', 'list-updates'] },
        { key: 'zypper-patches', argv: ['zypper', '--non-interactive', '--no-refresh', '--xmlout', 'list-patches'] },
        // Older zypper gives no edition-old: the installed version comes from rpm then.
        RPM_INSTALLED,
        { key: 'needs-rebooting', argv: ['zypper', 'needs-rebooting'] },
      ];
    case 'unknown':
      return [];
  }
}

/** The package manager of an endpoint from its os-release output. */
export const packageManagerOf = (osRelease: string): PackageManagerName => packageManagerFor(parseOsRelease(osRelease));

/**
 * Assembles facts from command outcomes. Pure and total: remote output is untrusted, so any
 * oversize, failed or unparsable output becomes a recorded problem, never an exception.
 */
export function assembleFacts(outcomes: Readonly<Record<string, CommandOutcome | undefined>>): EndpointFacts {
  const problems: FactProblem[] = [];
  const out = (key: string, okCodes: number[] = [0]): string | undefined => {
    const o = outcomes[key];
    if (!o) return undefined;
    if ('error' in o) {
      problems.push({ source: key, code: 'FACTS_COMMAND_FAILED', message: o.error.slice(0, 500) });
      return undefined;
    }
    if (o.truncated || o.stdout.length > MAX_OUTPUT_BYTES) {
      problems.push({ source: key, code: 'FACTS_OUTPUT_TOO_LARGE', message: `output over the limit (${MAX_OUTPUT_BYTES} bytes): not parsed` });
      return undefined;
    }
    if (!okCodes.includes(o.exitCode)) {
      problems.push({ source: key, code: 'FACTS_COMMAND_FAILED', message: `exit code ${o.exitCode}: ${(o.stderr ?? '').trim().slice(0, 300)}` });
      return undefined;
    }
    return o.stdout;
  };
  const exitOf = (key: string): number | undefined => {
    const o = outcomes[key];
    return o && !('error' in o) ? o.exitCode : undefined;
  };
  const osText = out('os-release');
  const os = parseOsRelease(osText ?? '');
  const packageManager = osText === undefined ? 'unknown' : packageManagerFor(os);
  const bootText = out('boot-id');
  const bootId = bootText === undefined ? undefined : parseBootId(bootText);
  if (bootText !== undefined && !bootId) problems.push({ source: 'boot-id', code: 'FACTS_PARSE_ERROR', message: 'not a boot id' });
  const upText = out('uptime');
  const uptimeSeconds = upText === undefined ? undefined : parseUptime(upText);
  if (upText !== undefined && uptimeSeconds === undefined) problems.push({ source: 'uptime', code: 'FACTS_PARSE_ERROR', message: 'not /proc/uptime output' });
  const dfText = out('df');
  const df = dfText === undefined ? { disks: [], unparsed: [] } : parseDf(dfText);
  if (df.unparsed.length) problems.push({ source: 'df', code: 'FACTS_PARSE_ERROR', message: `${df.unparsed.length} unparsable line(s), first: ${df.unparsed[0]}` });

  let services: EndpointFacts['services'] = { source: 'unknown', names: [] };
  const sc = outcomes['systemctl'];
  if (sc && !('error' in sc) && sc.exitCode === 0 && !sc.truncated) services = { source: 'systemd', names: parseSystemctlRunning(sc.stdout) };
  else {
    const ps = out('ps');
    if (ps !== undefined) services = { source: 'processes', names: parseProcessNames(ps) };
  }

  let updates: PendingUpdate[] = [];
  let updatesKnown = false;
  let rebootRequired = false;
  const unparsedProblem = (source: string, unparsed: string[]) => {
    if (unparsed.length) problems.push({ source, code: 'FACTS_PARSE_ERROR', message: `${unparsed.length} unparsable line(s), first: ${unparsed[0]}` });
  };
  try {
    switch (packageManager) {
      case 'apt': {
        const list = out('apt-list');
        const sim = out('apt-simulate');
        if (list !== undefined) {
          const r = aptUpdates(list, sim);
          updates = r.updates;
          updatesKnown = true;
          unparsedProblem('apt-list', r.unparsed);
        }
        rebootRequired = exitOf('reboot-required') === 0;
        break;
      }
      case 'dnf':
      case 'yum': {
        const cu = outcomes['check-update'];
        if (cu && !('error' in cu) && !cu.truncated) {
          const r = parseDnfCheckUpdate(cu.stdout, cu.exitCode);
          if (r.status === 'error') problems.push({ source: 'check-update', code: 'FACTS_COMMAND_FAILED', message: `exit code ${cu.exitCode}: ${(cu.stderr ?? '').trim().slice(0, 300)}` });
          else {
            const info = out('updateinfo');
            const adv = info === undefined ? { advisories: [], unparsed: [] } : parseUpdateinfoList(info);
            unparsedProblem('updateinfo', adv.unparsed);
            const rpmText = out('rpm-installed');
            const inst = rpmText === undefined ? { installed: new Map<string, string>(), unparsed: [] } : parseRpmInstalled(rpmText);
            unparsedProblem('rpm-installed', inst.unparsed);
            updates = rpmUpdates(r.packages, adv.advisories, inst.installed);
            updatesKnown = true;
          }
        } else out('check-update', [0, 100]);
        // needs-restarting -r: 1 = reboot needed, 0 = not.
        rebootRequired = exitOf('needs-restarting') === 1;
        break;
      }
      case 'zypper': {
        const u = out('zypper-updates');
        const p = out('zypper-patches');
        if (u !== undefined) {
          const rpmText = outcomes['rpm-installed'] && !('error' in outcomes['rpm-installed']!) ? out('rpm-installed') : undefined;
          const inst = rpmText === undefined ? new Map<string, string>() : parseRpmInstalled(rpmText).installed;
          const packages = parseZypperListUpdates(u).map((x) => (x.from || !inst.has(`${x.name}.${x.arch}`) ? x : { ...x, from: inst.get(`${x.name}.${x.arch}`)! }));
          updates = [...packages, ...(p !== undefined ? parseZypperListPatches(p) : [])];
          updatesKnown = true;
        }
        // zypper needs-rebooting: 102 = reboot needed, 0 = not.
        rebootRequired = exitOf('needs-rebooting') === 102;
        break;
      }
      case 'unknown':
        break;
    }
  } catch (err) {
    if (!(err instanceof ZypperXmlError)) problems.push({ source: packageManager, code: 'FACTS_PARSE_ERROR', message: String((err as Error).message).slice(0, 300) });
    else problems.push({ source: packageManager, code: 'FACTS_PARSE_ERROR', message: err.message });
    updates = [];
    updatesKnown = false;
  }
  return {
    os,
    packageManager,
    updates: updates.slice(0, 20_000),
    updatesKnown,
    rebootRequired,
    disks: df.disks,
    ...(bootId ? { bootId } : {}),
    ...(uptimeSeconds !== undefined ? { uptimeSeconds } : {}),
    services,
    problems: problems.slice(0, 100),
  };
}
