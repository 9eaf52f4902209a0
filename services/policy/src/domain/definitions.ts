import {
  canonicalJson,
  checkWorkflowTemplate,
  DefinitionInvalidError,
  GROUP_ISSUE_CODES,
  definitionIssuesFromZod,
  patchPolicySchema,
  POLICY_ISSUE_CODES,
  referenceGroupSchema,
  parseSelector,
  SelectorSyntaxError,
  type DefinitionIssue,
  type PatchPolicy,
  type ReferenceGroup,
  type WorkflowTemplate,
} from '@patchbay/contracts';
import { cronProblem } from './windows.js';

/** Result of validating one definition: the normalised value, or its issues. */
export type Checked<T> = { ok: true; value: T } | { ok: false; issues: DefinitionIssue[] };

/**
 * Validates a reference group: shape and safe values, then the selector's syntax. Static member
 * and exclusion lists are sets, so they are de-duplicated and sorted (the same group written in
 * another order is the same definition).
 */
export function checkGroup(input: unknown): Checked<ReferenceGroup> {
  const r = referenceGroupSchema.safeParse(input);
  if (!r.success) return { ok: false, issues: definitionIssuesFromZod(r.error, input, GROUP_ISSUE_CODES) };
  const g = r.data;
  if (g.selector !== undefined) {
    try {
      parseSelector(g.selector);
    } catch (err) {
      if (err instanceof SelectorSyntaxError) return { ok: false, issues: [{ code: err.code, path: 'selector', message: err.message.split('\n')[0]! }] };
      throw err;
    }
  }
  return { ok: true, value: { ...g, members: [...new Set(g.members)].sort(), exclusions: [...new Set(g.exclusions)].sort() } };
}

/** Validates a patch policy: shape, safe values, time zones, and each window's cron expression. */
export function checkPolicy(input: unknown): Checked<PatchPolicy> {
  const r = patchPolicySchema.safeParse(input);
  if (!r.success) return { ok: false, issues: definitionIssuesFromZod(r.error, input, POLICY_ISSUE_CODES) };
  const issues: DefinitionIssue[] = [];
  r.data.windows.forEach((w, i) => {
    const problem = cronProblem(w.cron, w.timezone);
    if (problem) issues.push({ code: 'POLICY_INVALID_CRON', path: `windows[${i}].cron`, message: `invalid cron expression ${JSON.stringify(w.cron)}: ${problem}` });
  });
  return issues.length ? { ok: false, issues } : { ok: true, value: r.data };
}

/** Validates a workflow template (schemas shared with the executor and the console). */
export function checkWorkflow(input: unknown): Checked<WorkflowTemplate> {
  const r = checkWorkflowTemplate(input);
  return r.ok ? { ok: true, value: r.template } : r;
}

/** Unwraps a check or throws `DefinitionInvalidError` (code of the first issue). */
export function orThrow<T>(checked: Checked<T>, what: string): T {
  if (!checked.ok) throw new DefinitionInvalidError(checked.issues, what);
  return checked.value;
}

/** Two definitions are the same when their canonical JSON is. */
export function sameDefinition(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Top-level fields whose value differs (what an update event lists as `changed`). */
export function changedFields(before: object, after: object): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => canonicalJson((before as Record<string, unknown>)[k] ?? null) !== canonicalJson((after as Record<string, unknown>)[k] ?? null)).sort();
}
