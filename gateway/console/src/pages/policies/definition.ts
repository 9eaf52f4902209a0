/**
 * The parts of a patch policy's definition (libs/contracts policy.ts) the console shows. The API
 * gives the definition as JSON; this reads it defensively (a field missing or of another shape
 * shows as "not set" rather than breaking the page).
 */
export type Quantity = number | string;

export interface WindowDef {
  cron: string;
  durationMinutes: number;
  timezone: string;
  blackoutDates: string[];
}

export interface PolicyView {
  description?: string | undefined;
  groups: string[];
  updates: { include: string; minSeverity?: string | undefined; allow: string[]; deny: string[]; cves: string[] };
  approval: { mode: 'auto'; afterDays: number } | { mode: 'manual'; approvers: string[]; minApprovals: number } | undefined;
  windows: WindowDef[];
  tierOrder: string[];
  canary?: Quantity | undefined;
  waves: Quantity[];
  maxConcurrency?: Quantity | undefined;
  disruptionBudget?: { clusterLabel: string; maxUnavailable: Quantity } | undefined;
  errorThreshold?: Quantity | undefined;
  reboot?: string | undefined;
  workflow?: { id: string; version?: number | undefined } | undefined;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const qty = (v: unknown): Quantity | undefined => (typeof v === 'number' || typeof v === 'string' ? v : undefined);

export function policyView(definition: unknown): PolicyView {
  const d = obj(definition);
  const updates = obj(d['updates']);
  const packages = obj(updates['packages']);
  const approval = obj(d['approval']);
  const rollout = obj(d['rollout']);
  const budget = obj(d['disruptionBudget']);
  const workflow = obj(d['workflow']);
  return {
    description: str(d['description']),
    groups: strs(d['groups']),
    updates: { include: str(updates['include']) ?? 'all', minSeverity: str(updates['minSeverity']), allow: strs(packages['allow']), deny: strs(packages['deny']), cves: strs(updates['cves']) },
    approval:
      approval['mode'] === 'manual'
        ? { mode: 'manual', approvers: strs(approval['approvers']), minApprovals: typeof approval['minApprovals'] === 'number' ? approval['minApprovals'] : 1 }
        : approval['mode'] === 'auto'
          ? { mode: 'auto', afterDays: typeof approval['afterDays'] === 'number' ? approval['afterDays'] : 0 }
          : undefined,
    windows: (Array.isArray(d['windows']) ? d['windows'] : []).map((w) => {
      const o = obj(w);
      return { cron: str(o['cron']) ?? '?', durationMinutes: typeof o['durationMinutes'] === 'number' ? o['durationMinutes'] : 0, timezone: str(o['timezone']) ?? 'UTC', blackoutDates: strs(o['blackoutDates']) };
    }),
    tierOrder: strs(rollout['tierOrder']),
    canary: qty(rollout['canary']),
    waves: Array.isArray(rollout['waves']) ? rollout['waves'].map(qty).filter((q): q is Quantity => q !== undefined) : [],
    maxConcurrency: qty(d['maxConcurrency']),
    disruptionBudget: typeof budget['clusterLabel'] === 'string' && qty(budget['maxUnavailable']) !== undefined ? { clusterLabel: budget['clusterLabel'], maxUnavailable: qty(budget['maxUnavailable'])! } : undefined,
    errorThreshold: qty(d['errorThreshold']),
    reboot: str(d['reboot']),
    workflow: typeof workflow['id'] === 'string' ? { id: workflow['id'], version: typeof workflow['version'] === 'number' ? workflow['version'] : undefined } : undefined,
  };
}

/** "5 endpoints" or "10% of the endpoints (rounded up)". */
export function quantityText(q: Quantity | undefined, of = 'endpoints'): string {
  if (q === undefined) return 'not set';
  if (typeof q === 'number') return `${q} ${q === 1 ? of.replace(/s$/, '') : of}`;
  return `${q} of the ${of} (rounded up)`;
}

/** Minutes as "4 h", "90 min", "1 d 2 h". */
export function durationText(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d} d` : '', h ? `${h} h` : '', m ? `${m} min` : ''].filter(Boolean).join(' ') || '0 min';
}

/** The viewer's IANA zone, as the browser reports it. */
export const viewerTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** An instant as a date and time in a zone, with the zone's short name (`Sat 21 Mar 2026, 02:00 CET`). */
export function formatInZone(iso: string, timeZone: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { timeZone, weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(new Date(iso));
}
