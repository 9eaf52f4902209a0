import { plannedPackageSchema, type PatchPolicy, type PendingUpdate, type PlannedPackage } from '@patchbay/contracts';

/** Severity names the package managers use, on one scale (higher is more severe). */
const SEVERITY_RANK: Record<string, number> = { low: 1, moderate: 2, medium: 2, important: 3, high: 3, critical: 4 };
const POLICY_SEVERITY_RANK: Record<string, number> = { low: 1, medium: 2, high: 3, critical: 4 };
const PACKAGE_NAME = plannedPackageSchema.shape.name;

/** Shell-style glob (`*`, `?`, `[...]`) to an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        out += `[${glob.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Pending updates to planned packages: valid names only, one per name, sorted by name. */
function toPlanned(updates: readonly PendingUpdate[]): PlannedPackage[] {
  const byName = new Map<string, PlannedPackage>();
  const sorted = [...updates].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
  for (const u of sorted) {
    // An update whose name could not be passed safely to a package manager is never planned.
    if (!PACKAGE_NAME.safeParse(u.name).success || byName.has(u.name)) continue;
    byName.set(u.name, { name: u.name, ...(u.from !== undefined ? { from: u.from } : {}), to: u.to, security: u.security });
  }
  return [...byName.values()];
}

/** The updates a regular cycle of this policy installs on one endpoint. */
export function selectPolicyUpdates(policy: PatchPolicy, updates: readonly PendingUpdate[]): PlannedPackage[] {
  const u = policy.updates;
  const allow = u.packages.allow.map(globToRegExp);
  const deny = u.packages.deny.map(globToRegExp);
  const min = u.minSeverity ? POLICY_SEVERITY_RANK[u.minSeverity]! : 0;
  return toPlanned(
    updates.filter((p) => {
      if (u.include === 'security' && !p.security) return false;
      // An update the OS does not classify cannot prove it meets a minimum severity.
      if (min > 0 && (SEVERITY_RANK[(p.severity ?? '').toLowerCase()] ?? 0) < min) return false;
      if (allow.length > 0 && !allow.some((r) => r.test(p.name))) return false;
      if (deny.some((r) => r.test(p.name))) return false;
      if (u.cves.length > 0 && !u.cves.some((cve) => (p.advisory ?? '').includes(cve))) return false;
      return true;
    }),
  );
}

/** The updates an emergency installs: exactly the fixing packages that are pending. */
export function selectEmergencyUpdates(fixing: readonly string[], updates: readonly PendingUpdate[]): PlannedPackage[] {
  const names = new Set(fixing);
  return toPlanned(updates.filter((p) => names.has(p.name)));
}
