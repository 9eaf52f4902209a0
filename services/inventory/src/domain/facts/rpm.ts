import type { PendingUpdate } from '@patchbay/contracts';
import { linesOf } from './problems.js';

/** A package name split as rpm names it: `name-[epoch:]version-release.arch`. */
export interface Nevra {
  name: string;
  evr: string;
  arch: string;
}

/** Splits `bash-4.2.46-34.el7.x86_64` or `dbus-1:1.10.24-14.el7_8.x86_64`; undefined when it is not a NEVRA. */
export function parseNevra(text: string): Nevra | undefined {
  const dot = text.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const arch = text.slice(dot + 1);
  const nvr = text.slice(0, dot);
  const r = nvr.lastIndexOf('-');
  if (r <= 0) return undefined;
  const v = nvr.lastIndexOf('-', r - 1);
  if (v <= 0) return undefined;
  return { name: nvr.slice(0, v), evr: nvr.slice(v + 1), arch };
}

/** One line of `dnf check-update` / `yum check-update`. */
export interface RpmAvailable {
  name: string;
  arch: string;
  version: string;
  repo: string;
}

/**
 * Parses `dnf check-update` (also `yum check-update`). Its exit code carries the verdict:
 * 100 = updates listed, 0 = none, anything else = an error (the list is then not trusted).
 * Lines are `name.arch  [epoch:]version-release  repo`; metadata chatter, "Obsoleting Packages"
 * sections and their indented continuation lines are skipped.
 */
export function parseDnfCheckUpdate(stdout: string, exitCode: number): { status: 'updates' | 'none' | 'error'; packages: RpmAvailable[] } {
  if (exitCode === 0) return { status: 'none', packages: [] };
  if (exitCode !== 100) return { status: 'error', packages: [] };
  const packages: RpmAvailable[] = [];
  let obsoleting = false;
  // dnf wraps a long name onto its own line: it is joined with the version and repository below it.
  let wrapped: string | undefined;
  const add = (na: string, version: string, repo: string) => {
    const dot = na.lastIndexOf('.');
    if (dot > 0 && /^(\d+:)?[^\s-]+-[^\s-]+$/.test(version)) packages.push({ name: na.slice(0, dot), arch: na.slice(dot + 1), version, repo });
  };
  for (const line of linesOf(stdout)) {
    const t = line.trim();
    if (/^Obsoleting Packages/i.test(t)) {
      obsoleting = true;
      continue;
    }
    if (obsoleting) continue;
    if (wrapped) {
      const parts = t.split(/\s+/);
      if (parts.length === 2) add(wrapped, parts[0]!, parts[1]!);
      wrapped = undefined;
      if (parts.length === 2) continue;
    }
    // Chatter: metadata and plugin messages, mirror lists, download progress (`repo | 2.5 kB 00:00`).
    if (!t || / \| /.test(t) || /^(Last metadata expiration check|Loaded plugins|Loading mirror|Updating Subscription|Security:|Repositories loaded|Updating and loading|Limiting package lists|No packages needed)/.test(t) || /^\s/.test(line)) {
      wrapped = undefined;
      continue;
    }
    const parts = t.split(/\s+/);
    if (parts.length === 3) add(parts[0]!, parts[1]!, parts[2]!);
    else if (parts.length === 1) {
      wrapped = parts[0];
      continue;
    }
  }
  return { status: 'updates', packages };
}

/** One advisory line of `dnf updateinfo list` / `yum updateinfo list`. */
export interface RpmAdvisory {
  advisory: string;
  type: 'security' | 'bugfix' | 'enhancement' | 'newpackage' | 'unknown';
  severity?: string;
  nevra: Nevra;
}

const TYPES: Record<string, RpmAdvisory['type']> = { security: 'security', bugfix: 'bugfix', enhancement: 'enhancement', newpackage: 'newpackage' };

/**
 * Parses advisory lists in the three forms in the field:
 * - dnf 4 / yum 3: `RHSA-2020:1113 Moderate/Sec.  bash-4.2.46-34.el7.x86_64` (or `bugfix`, `enhancement`, `Unknown/Sec.`);
 * - yum on EL 5 `list-sec`: `RHSA-2014:1984 security bind-libs-30:9.3.6-25.P1.el5_11.2.x86_64`;
 * - dnf 5 table: `Name Type Severity Package Issued` header, then `FEDORA-… security Moderate pkg-1-1.fc41.x86_64 2025-01-17 00:00:00`.
 */
export function parseUpdateinfoList(text: string): { advisories: RpmAdvisory[]; unparsed: string[] } {
  const advisories: RpmAdvisory[] = [];
  const unparsed: string[] = [];
  for (const line of linesOf(text)) {
    const t = line.trim();
    if (!t || /^(Last metadata expiration check|Loaded plugins|Updating Subscription|Name\s+Type\s+Severity|Repositories loaded|Updating and loading|updateinfo list done|list-sec done)/.test(t) || /^: /.test(t) || /\d+ [kMG]?B\/s \|/.test(t)) continue;
    const parts = t.split(/\s+/);
    if (parts.length < 3) {
      unparsed.push(t.slice(0, 200));
      continue;
    }
    const [id, kind] = parts as [string, string];
    let type: RpmAdvisory['type'];
    let severity: string | undefined;
    let pkg: string | undefined;
    const sec = /^(\w+)\/Sec\.$/.exec(kind);
    if (sec) {
      type = 'security';
      if (sec[1] !== 'Unknown') severity = sec[1];
      pkg = parts[2];
    } else if (TYPES[kind.toLowerCase()] && parts.length >= 4 && parseNevra(parts[3]!) && !parseNevra(parts[2]!)) {
      // dnf 5: id type severity package issued-date issued-time
      type = TYPES[kind.toLowerCase()]!;
      if (parts[2]!.toLowerCase() !== 'none') severity = parts[2];
      pkg = parts[3];
    } else if (TYPES[kind.toLowerCase()]) {
      type = TYPES[kind.toLowerCase()]!;
      pkg = parts[2];
    } else {
      unparsed.push(t.slice(0, 200));
      continue;
    }
    const nevra = pkg ? parseNevra(pkg) : undefined;
    if (!nevra) {
      unparsed.push(t.slice(0, 200));
      continue;
    }
    advisories.push({ advisory: id.slice(0, 200), type, ...(severity ? { severity } : {}), nevra });
  }
  return { advisories, unparsed };
}

/**
 * Parses `rpm -qa` output (one NEVRA per line; the default format, or ours with the epoch:
 * `name-[epoch:]version-release.arch`) into installed versions by `name.arch`.
 */
export function parseRpmInstalled(text: string): { installed: Map<string, string>; unparsed: string[] } {
  const installed = new Map<string, string>();
  const unparsed: string[] = [];
  for (const line of linesOf(text)) {
    const t = line.trim();
    if (!t) continue;
    const n = /\s/.test(t) ? undefined : parseNevra(t);
    if (!n) unparsed.push(t.slice(0, 200));
    else installed.set(`${n.name}.${n.arch}`, n.evr);
  }
  return { installed, unparsed };
}

const SEVERITY_RANK: Record<string, number> = { critical: 4, important: 3, moderate: 2, low: 1 };

/**
 * Pending dnf/yum updates: the list of `check-update` with the installed version from `rpm -qa`,
 * each marked security when a security advisory names the same package (name and arch), with
 * that advisory's severity (the highest when several apply).
 */
export function rpmUpdates(available: readonly RpmAvailable[], advisories: readonly RpmAdvisory[], installed: ReadonlyMap<string, string> = new Map()): PendingUpdate[] {
  const byPackage = new Map<string, RpmAdvisory>();
  for (const a of advisories) {
    if (a.type !== 'security') continue;
    const key = `${a.nevra.name}.${a.nevra.arch}`;
    const prev = byPackage.get(key);
    if (!prev || (SEVERITY_RANK[(a.severity ?? '').toLowerCase()] ?? 0) > (SEVERITY_RANK[(prev.severity ?? '').toLowerCase()] ?? 0)) byPackage.set(key, a);
  }
  return available.map((p): PendingUpdate => {
    const a = byPackage.get(`${p.name}.${p.arch}`);
    const from = installed.get(`${p.name}.${p.arch}`);
    return { name: p.name, ...(from ? { from } : {}), to: p.version, arch: p.arch, origin: p.repo.slice(0, 300), security: !!a, ...(a?.severity ? { severity: a.severity } : {}), ...(a ? { advisory: a.advisory } : {}) };
  });
}
