import { checkWorkflowTemplate, STEP_TYPES, type DefinitionIssue, type StepType, type WorkflowStepInput, type WorkflowTemplateInput } from '@patchbay/contracts';

/**
 * The workflow editor's model: a template as written (the schemas apply defaults when it is
 * checked or saved), every step carrying a stable key for React and drag and drop.
 */

export const PHASES = ['pre', 'patch', 'post'] as const;
export type Phase = (typeof PHASES)[number];
/** Where a step lives: one of the three phases, or the compensations (steps that only undo). */
export type List = Phase | 'compensations';
export const LISTS: readonly List[] = [...PHASES, 'compensations'];

export const LIST_LABEL: Record<List, string> = { pre: 'Pre-patch', patch: 'Patch', post: 'Post-patch', compensations: 'Compensating steps' };

/** A step as edited: `uid` is the editor's own key, never saved. */
export interface EditStep {
  uid: string;
  step: WorkflowStepInput;
}

export interface EditTemplate {
  id: string;
  name: string;
  description: string;
  lists: Record<List, EditStep[]>;
}

let counter = 0;
export const newUid = (): string => `s${++counter}`;

export const STEP_LABEL: Record<StepType, string> = {
  'check-disk': 'Check free disk space',
  'stop-service': 'Stop a service',
  'start-service': 'Start a service',
  snapshot: 'Take a snapshot',
  drain: 'Drain from the load balancer',
  rejoin: 'Rejoin the load balancer',
  patch: 'Install updates',
  reboot: 'Reboot',
  'wait-for': 'Wait for a check to pass',
  validate: 'Validate',
  cleanup: 'Clean up',
  custom: 'Custom command',
};

/** A new step of a type, with parameters filled in where a sensible value exists. */
export function defaultStep(type: StepType, id: string): WorkflowStepInput {
  switch (type) {
    case 'check-disk':
      return { type, id, params: { path: '/', minFreeMb: 500 } };
    case 'stop-service':
    case 'start-service':
      return { type, id, params: { service: '' } };
    case 'snapshot':
      return { type, id, params: { hook: { kind: 'command', on: 'controller', argv: [''] } } };
    case 'drain':
    case 'rejoin':
      return { type, id, params: { hook: { kind: 'http', method: 'POST', url: '' } } };
    case 'patch':
      return { type, id, params: { scope: 'security' } };
    case 'reboot':
      return { type, id, timeoutSeconds: 900, params: { mode: 'if-required', returnTimeoutSeconds: 600 } };
    case 'wait-for':
      return { type, id, timeoutSeconds: 300, params: { check: { kind: 'tcp', port: 22 }, intervalSeconds: 5 } };
    case 'validate':
      return { type, id, params: { check: { kind: 'command', on: 'endpoint', argv: ['systemctl', 'is-system-running'] } } };
    case 'cleanup':
      return { type, id, params: { autoremove: true, cleanCache: true } };
    case 'custom':
      return { type, id, params: { on: 'endpoint', argv: [''] } };
  }
}

export const isStepType = (v: unknown): v is StepType => typeof v === 'string' && (STEP_TYPES as readonly string[]).includes(v);

/** Every step id in the template. */
export function allIds(t: EditTemplate): string[] {
  return LISTS.flatMap((l) => t.lists[l].map((s) => String(s.step.id ?? '')));
}

/** A step id not used yet: `reboot`, `reboot-2` … */
export function freshId(t: EditTemplate, base: string): string {
  const used = new Set(allIds(t));
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
}

/** From a stored template (as the API gives it) to the editor's model. */
export function fromTemplate(raw: unknown): EditTemplate {
  const t = (raw ?? {}) as Partial<WorkflowTemplateInput> & { phases?: Partial<Record<Phase, WorkflowStepInput[]>> };
  const wrap = (steps: WorkflowStepInput[] | undefined): EditStep[] => (steps ?? []).map((step) => ({ uid: newUid(), step: structuredClone(step) }));
  return {
    id: t.id ?? '',
    name: t.name ?? '',
    description: t.description ?? '',
    lists: { pre: wrap(t.phases?.pre), patch: wrap(t.phases?.patch), post: wrap(t.phases?.post), compensations: wrap(t.compensations) },
  };
}

/** The template as sent to `saveWorkflowTemplate` and checked by `checkWorkflowTemplate`. */
export function toTemplate(t: EditTemplate): WorkflowTemplateInput {
  const out: WorkflowTemplateInput = {
    id: t.id,
    phases: { pre: t.lists.pre.map((s) => s.step), patch: t.lists.patch.map((s) => s.step), post: t.lists.post.map((s) => s.step) },
  };
  if (t.name.trim()) out.name = t.name;
  if (t.description.trim()) out.description = t.description;
  if (t.lists.compensations.length) out.compensations = t.lists.compensations.map((s) => s.step);
  return out;
}

export function emptyTemplate(): EditTemplate {
  return {
    id: '',
    name: '',
    description: '',
    lists: { pre: [], patch: [{ uid: newUid(), step: defaultStep('patch', 'patch') }], post: [], compensations: [] },
  };
}

/** Issues of the whole template, from the same schemas the services use. */
export function validate(t: EditTemplate): DefinitionIssue[] {
  const r = checkWorkflowTemplate(toTemplate(t));
  return r.ok ? [] : r.issues;
}

/** Where a step sits, as a path prefix in issues (`phases.pre[1]`, `compensations[0]`). */
export function stepPath(list: List, index: number): string {
  return list === 'compensations' ? `compensations[${index}]` : `phases.${list}[${index}]`;
}

/**
 * Splits issues by step: `byStep.get(uid)` maps a path inside the step (`params.service`,
 * `timeoutSeconds`, '' for the step itself) to its messages; what names no step is `general`.
 */
export function issuesByStep(t: EditTemplate, issues: readonly DefinitionIssue[]): { byStep: Map<string, Map<string, DefinitionIssue[]>>; general: DefinitionIssue[] } {
  const byStep = new Map<string, Map<string, DefinitionIssue[]>>();
  const general: DefinitionIssue[] = [];
  const prefixes: Array<{ prefix: string; uid: string }> = [];
  for (const l of LISTS) t.lists[l].forEach((s, i) => prefixes.push({ prefix: stepPath(l, i), uid: s.uid }));
  for (const issue of issues) {
    const hit = prefixes.find((p) => issue.path === p.prefix || issue.path.startsWith(`${p.prefix}.`));
    if (!hit) {
      general.push(issue);
      continue;
    }
    const inner = issue.path === hit.prefix ? '' : issue.path.slice(hit.prefix.length + 1);
    const m = byStep.get(hit.uid) ?? new Map<string, DefinitionIssue[]>();
    const list = m.get(inner) ?? [];
    list.push(issue);
    m.set(inner, list);
    byStep.set(hit.uid, m);
  }
  return { byStep, general };
}

/** Moves the step `uid` to `list` at `index` (the index in the list without the step). */
export function moveStep(t: EditTemplate, uid: string, list: List, index: number): EditTemplate {
  const from = locate(t, uid);
  if (!from) return t;
  const lists = { ...t.lists };
  const item = lists[from.list][from.index]!;
  lists[from.list] = lists[from.list].filter((s) => s.uid !== uid);
  const target = [...lists[list]];
  target.splice(Math.max(0, Math.min(index, target.length)), 0, item);
  lists[list] = target;
  return { ...t, lists };
}

export function locate(t: EditTemplate, uid: string): { list: List; index: number } | undefined {
  for (const l of LISTS) {
    const i = t.lists[l].findIndex((s) => s.uid === uid);
    if (i >= 0) return { list: l, index: i };
  }
  return undefined;
}

/**
 * One keyboard move up or down: within its phase, and across the phase boundary at either end
 * (a step leaves `pre` downwards into the top of `patch`). Compensations move only among themselves.
 */
export function stepOnce(t: EditTemplate, uid: string, direction: -1 | 1): { template: EditTemplate; list: List; index: number } | undefined {
  const at = locate(t, uid);
  if (!at) return undefined;
  const size = t.lists[at.list].length;
  const target = at.index + direction;
  if (target >= 0 && target < size) return { template: moveStep(t, uid, at.list, target), list: at.list, index: target };
  if (at.list === 'compensations') return undefined;
  const p = PHASES.indexOf(at.list);
  const next = PHASES[p + direction];
  if (!next) return undefined;
  const index = direction === 1 ? 0 : t.lists[next].length;
  return { template: moveStep(t, uid, next, index), list: next, index };
}

/** Sets `value` at `path` inside `obj` (copying along the way); `undefined` deletes the key. */
export function setIn<T>(obj: T, path: readonly (string | number)[], value: unknown): T {
  if (path.length === 0) return value as T;
  const [head, ...rest] = path;
  const base: Record<string | number, unknown> = Array.isArray(obj) ? ([...obj] as unknown as Record<number, unknown>) : { ...((obj ?? {}) as Record<string, unknown>) };
  const next = setIn(base[head!], rest, value);
  if (next === undefined && !Array.isArray(base)) delete base[head!];
  else base[head!] = next;
  return base as T;
}

export function getIn(obj: unknown, path: readonly (string | number)[]): unknown {
  let v = obj;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Step-level diff of two versions
// ---------------------------------------------------------------------------------------------

export interface StepChange {
  path: string;
  before: unknown;
  after: unknown;
}

export type StepDiff =
  | { kind: 'added'; id: string; type: string; where: string }
  | { kind: 'removed'; id: string; type: string; where: string }
  | { kind: 'moved'; id: string; type: string; from: string; to: string; changes: StepChange[] }
  | { kind: 'changed'; id: string; type: string; where: string; changes: StepChange[] };

function placed(raw: unknown): Map<string, { step: Record<string, unknown>; list: List; index: number }> {
  const t = fromTemplate(raw);
  const out = new Map<string, { step: Record<string, unknown>; list: List; index: number }>();
  for (const l of LISTS) t.lists[l].forEach((s, i) => out.set(String(s.step.id), { step: s.step as unknown as Record<string, unknown>, list: l, index: i }));
  return out;
}

function leaves(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, {});
    for (const [k, x] of entries) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, v);
}

/** Field-level changes between two versions of a step (arrays compared whole: argv, packages …). */
export function stepChanges(a: unknown, b: unknown): StepChange[] {
  const la = new Map<string, unknown>();
  const lb = new Map<string, unknown>();
  leaves(a, '', la);
  leaves(b, '', lb);
  const keys = [...new Set([...la.keys(), ...lb.keys()])].sort();
  return keys.filter((k) => JSON.stringify(la.get(k)) !== JSON.stringify(lb.get(k))).map((k) => ({ path: k, before: la.get(k), after: lb.get(k) }));
}

const where = (list: List, index: number) => `${LIST_LABEL[list]} #${index + 1}`;

/**
 * A readable step-level diff: steps matched by id; added, removed, moved (to another phase or
 * another place among the steps both versions share) and changed, with their field changes.
 */
export function diffTemplates(before: unknown, after: unknown): { steps: StepDiff[]; header: StepChange[] } {
  const a = placed(before);
  const b = placed(after);
  const steps: StepDiff[] = [];
  // Order among the steps both versions have in the same phase, so inserting, removing or moving
  // one step does not mark every step after it as moved.
  const shared = (m: typeof a, other: typeof b, list: List) =>
    [...m.entries()]
      .filter(([id, p]) => p.list === list && other.get(id)?.list === list)
      .sort((x, y) => x[1].index - y[1].index)
      .map(([id]) => id);
  const rank = new Map<string, { a: number; b: number }>();
  for (const l of LISTS) {
    shared(a, b, l).forEach((id, i) => rank.set(id, { a: i, b: rank.get(id)?.b ?? -1 }));
    shared(b, a, l).forEach((id, i) => rank.set(id, { a: rank.get(id)?.a ?? -1, b: i }));
  }
  for (const l of LISTS) {
    const ids = [...b.entries()].filter(([, p]) => p.list === l).sort((x, y) => x[1].index - y[1].index);
    for (const [id, pb] of ids) {
      const pa = a.get(id);
      const type = String(pb.step['type'] ?? '');
      if (!pa) {
        steps.push({ kind: 'added', id, type, where: where(pb.list, pb.index) });
        continue;
      }
      const changes = stepChanges(pa.step, pb.step);
      const r = rank.get(id);
      if (pa.list !== pb.list || (r && r.a !== r.b)) steps.push({ kind: 'moved', id, type, from: where(pa.list, pa.index), to: where(pb.list, pb.index), changes });
      else if (changes.length) steps.push({ kind: 'changed', id, type, where: where(pb.list, pb.index), changes });
    }
  }
  for (const [id, pa] of a) if (!b.has(id)) steps.push({ kind: 'removed', id, type: String(pa.step['type'] ?? ''), where: where(pa.list, pa.index) });
  const head = (t: unknown) => {
    const o = (t ?? {}) as Record<string, unknown>;
    return { name: o['name'], description: o['description'] };
  };
  return { steps, header: stepChanges(head(before), head(after)) };
}

export function show(v: unknown): string {
  if (v === undefined) return '(unset)';
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
}
