import type { PendingUpdate } from '@patchbay/contracts';
import { linesOf } from './problems.js';

/** One line of `apt list --upgradable`. */
export interface AptUpgradable {
  name: string;
  suites: string[];
  to: string;
  arch: string;
  from?: string;
}

const LIST_LINE = /^([a-z0-9][a-z0-9+.-]*)\/(\S+) (\S+) (\S+)(?: \[upgradable from: ([^\]]+)\])?\s*$/;

/**
 * Parses `apt list --upgradable`: `name/suite[,suite] new arch [upgradable from: old]`. The
 * "Listing..." header and apt's CLI warning are skipped; other unparsable lines are returned.
 */
export function parseAptListUpgradable(text: string): { packages: AptUpgradable[]; unparsed: string[] } {
  const packages: AptUpgradable[] = [];
  const unparsed: string[] = [];
  for (const line of linesOf(text)) {
    const t = line.trim();
    if (!t || t === 'Listing...' || t.startsWith('Listing') || t.startsWith('WARNING:')) continue;
    const m = LIST_LINE.exec(t);
    if (!m) {
      unparsed.push(t.slice(0, 200));
      continue;
    }
    packages.push({ name: m[1]!, suites: m[2]!.split(','), to: m[3]!, arch: m[4]!, ...(m[5] ? { from: m[5] } : {}) });
  }
  return { packages, unparsed };
}

/** One `Inst` line of `apt-get -s dist-upgrade`: the origin (Label, e.g. `Debian-Security`) and archives of the candidate. */
export interface AptSimulatedInstall {
  name: string;
  from?: string;
  to: string;
  origins: Array<{ origin: string; archive: string }>;
}

const INST_LINE = /^Inst (\S+)(?: \[([^\]]+)\])? \((\S+) ([^[]*?)\s*\[([^\]]+)\]\)/;

/**
 * Parses the `Inst` lines of `apt-get -s dist-upgrade` (or `upgrade`):
 * `Inst pkg [old] (new Origin:archive[, Origin:archive] [arch])`. The origin part is what apt
 * names the release by (its Label, `Debian-Security` on Debian's security archive).
 */
export function parseAptSimulation(text: string): AptSimulatedInstall[] {
  const out: AptSimulatedInstall[] = [];
  for (const line of linesOf(text)) {
    const m = INST_LINE.exec(line.trim());
    if (!m) continue;
    const origins = m[4]!
      .split(/,\s*/)
      .map((o) => {
        const i = o.indexOf(':');
        return i < 0 ? { origin: o.trim(), archive: '' } : { origin: o.slice(0, i).trim(), archive: o.slice(i + 1).trim() };
      })
      .filter((o) => o.origin);
    out.push({ name: m[1]!, ...(m[2] ? { from: m[2] } : {}), to: m[3]!, origins });
  }
  return out;
}

/** Debian and Ubuntu mark security updates by archive (`bookworm-security`, `jammy-security`) and origin/label (`Debian-Security`). */
export const isAptSecurity = (suites: readonly string[], origins: readonly string[]): boolean =>
  suites.some((s) => /-security$/i.test(s) || /\/updates$/.test(s)) || origins.some((o) => /security/i.test(o));

/**
 * Pending apt updates: versions from `apt list --upgradable`, classified as security by the
 * suite there or by the origin `apt-get -s dist-upgrade` names. apt has no severity.
 */
export function aptUpdates(listText: string, simulationText: string | undefined): { updates: PendingUpdate[]; unparsed: string[] } {
  const { packages, unparsed } = parseAptListUpgradable(listText);
  const sim = new Map(simulationText ? parseAptSimulation(simulationText).map((s) => [s.name, s] as const) : []);
  const updates = packages.map((p): PendingUpdate => {
    const s = sim.get(p.name);
    const origins = s?.origins.map((o) => o.origin) ?? [];
    const archives = s?.origins.map((o) => o.archive).filter(Boolean) ?? [];
    return {
      name: p.name,
      ...(p.from ? { from: p.from } : {}),
      to: p.to,
      arch: p.arch,
      origin: (s ? s.origins.map((o) => (o.archive ? `${o.origin}:${o.archive}` : o.origin)).join(',') : p.suites.join(',')).slice(0, 300),
      security: isAptSecurity([...p.suites, ...archives], origins),
    };
  });
  return { updates, unparsed };
}
