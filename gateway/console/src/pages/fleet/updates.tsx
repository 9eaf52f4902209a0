/** How pending updates are ordered and shown: security first, most severe first, then by name. */

const SEVERITY_RANK: Record<string, number> = { critical: 0, high: 1, important: 1, medium: 2, moderate: 2, low: 3 };

export const severityRank = (s: string | null | undefined): number => (s ? (SEVERITY_RANK[s.toLowerCase()] ?? 4) : 5);

export interface UpdateLike {
  name: string;
  security?: boolean;
  severity?: string | null;
}

/** Security updates first, then by severity (critical → low, unclassified last), then by package name. */
export function securityFirst<T extends UpdateLike>(updates: readonly T[]): T[] {
  return [...updates].sort((a, b) => Number(b.security ?? true) - Number(a.security ?? true) || severityRank(a.severity) - severityRank(b.severity) || a.name.localeCompare(b.name));
}

const SEVERITY_TONE: Record<number, string> = { 0: 'bad', 1: 'bad', 2: 'warn', 3: 'idle' };

/** A severity as a word in a badge (never colour alone); "unclassified" when the package manager gives none. */
export function Severity({ severity }: { severity: string | null | undefined }) {
  return <span className={`badge sev tone-${SEVERITY_TONE[severityRank(severity)] ?? 'idle'}`}>{severity ?? 'unclassified'}</span>;
}

/** Endpoint labels as `key=value` chips. */
export function Labels({ labels, label }: { labels: ReadonlyArray<{ key: string; value: string }>; label: string }) {
  if (labels.length === 0) return <span className="muted">none</span>;
  return (
    <ul className="labels" aria-label={label}>
      {labels.map((l) => (
        <li key={l.key}>
          <span className="label-chip">
            {l.key}={l.value}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** Parses `env=prod, role=web` into label pairs; the error names the part that is not `key=value`. */
export function parseLabelFilter(text: string): { labels: Array<{ key: string; value: string }>; error?: string } {
  const labels: Array<{ key: string; value: string }> = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq).trim() : '';
    const value = eq > 0 ? part.slice(eq + 1).trim() : '';
    if (!key || !value || value.includes('=')) return { labels, error: `"${part}" is not key=value` };
    labels.push({ key, value });
  }
  return { labels };
}
