import { isNode, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { PatchbayError, type DefinitionIssue, type PatchPolicy, type ReferenceGroup, type WorkflowTemplate } from '@patchbay/contracts';
import { checkGroup, checkPolicy, checkWorkflow, type Checked } from './definitions.js';
import { referenceIssues } from './policy-decider.js';

/**
 * Policy as code: a directory of YAML files, each holding one or more documents (`---`), each a
 * definition with a `kind`:
 *
 *   kind: ReferenceGroup     id, tier, selector, members, exclusions …
 *   kind: PatchPolicy        id, groups, updates, approval, windows, rollout, … workflow
 *   kind: WorkflowTemplate   id, phases { pre, patch, post }, compensations
 *
 * A bundle is checked as a whole before anything is stored: one bad document rejects it, with
 * the file, line, column and field of every problem.
 */
export const BUNDLE_KINDS = ['ReferenceGroup', 'PatchPolicy', 'WorkflowTemplate'] as const;
export type BundleKind = (typeof BUNDLE_KINDS)[number];

/** One file of a bundle. */
export interface BundleFile {
  name: string;
  content: string;
}

/** Where a definition came from. */
export interface Origin {
  file: string;
  line: number;
}

/** A bundle whose every document is valid on its own. */
export interface ParsedBundle {
  groups: Map<string, { value: ReferenceGroup; origin: Origin }>;
  policies: Map<string, { value: PatchPolicy; origin: Origin }>;
  workflows: Map<string, { value: WorkflowTemplate; origin: Origin }>;
}

/** The bundle was refused; `details.issues` holds each problem with file, line, column, field and code. */
export class BundleInvalidError extends PatchbayError {
  constructor(readonly issues: readonly DefinitionIssue[]) {
    super(
      'BUNDLE_INVALID',
      `policy bundle rejected, nothing was stored: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${issues.map((i) => `  ${i.file}:${i.line ?? 0}:${i.column ?? 0} ${i.path || '(document)'}: ${i.message} [${i.code}]`).join('\n')}`,
      { issues: issues.map((i) => ({ ...i })) },
    );
  }
}

/** `phases.pre[1].params.service` → `['phases', 'pre', 1, 'params', 'service']`. */
export function parseIssuePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

function position(doc: Document, lc: LineCounter, path: (string | number)[]): { line: number; column: number } {
  // The deepest node that exists: a missing field is reported at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      // For a map entry, point at its key rather than its value when the key can be found.
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

/** Parses and validates every document of every file; throws `BundleInvalidError` listing all problems. */
export function parseBundle(files: readonly BundleFile[]): ParsedBundle {
  const issues: DefinitionIssue[] = [];
  const bundle: ParsedBundle = { groups: new Map(), policies: new Map(), workflows: new Map() };
  for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const lc = new LineCounter();
    const docs = parseAllDocuments(file.content, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    if (!Array.isArray(docs)) continue; // an empty file
    for (const doc of docs) {
      if (doc.errors.length) {
        for (const e of doc.errors) {
          const pos = lc.linePos(e.pos[0]);
          issues.push({ code: 'BUNDLE_YAML_SYNTAX', file: file.name, line: pos.line, column: pos.col, path: '', message: e.message.split('\n')[0]! });
        }
        continue;
      }
      let js: unknown;
      try {
        js = doc.toJS({ maxAliasCount: 100 });
      } catch (err) {
        issues.push({ code: 'BUNDLE_YAML_SYNTAX', file: file.name, line: 1, column: 1, path: '', message: (err as Error).message });
        continue;
      }
      if (js === null || js === undefined) continue; // an empty document
      const at = (path: string) => ({ file: file.name, ...position(doc, lc, parseIssuePath(path)) });
      if (typeof js !== 'object' || Array.isArray(js)) {
        issues.push({ code: 'BUNDLE_INVALID_DOCUMENT', path: '', message: 'a document must be a mapping with a kind', ...at('') });
        continue;
      }
      const { kind, ...body } = js as Record<string, unknown>;
      if (!BUNDLE_KINDS.includes(kind as BundleKind)) {
        issues.push({ code: 'BUNDLE_UNKNOWN_KIND', path: 'kind', message: kind === undefined ? `kind is required (${BUNDLE_KINDS.join(', ')})` : `unknown kind ${JSON.stringify(kind)} (expected ${BUNDLE_KINDS.join(', ')})`, ...at('kind') });
        continue;
      }
      const checked: Checked<ReferenceGroup | PatchPolicy | WorkflowTemplate> = kind === 'ReferenceGroup' ? checkGroup(body) : kind === 'PatchPolicy' ? checkPolicy(body) : checkWorkflow(body);
      if (!checked.ok) {
        for (const i of checked.issues) issues.push({ ...i, ...at(i.path) });
        continue;
      }
      const target = (kind === 'ReferenceGroup' ? bundle.groups : kind === 'PatchPolicy' ? bundle.policies : bundle.workflows) as Map<string, { value: unknown; origin: Origin }>;
      const id = checked.value.id;
      const origin = { file: file.name, line: at('').line };
      const previous = target.get(id);
      if (previous) issues.push({ code: 'BUNDLE_DUPLICATE_ID', path: 'id', message: `${kind} ${id} is already defined in ${previous.origin.file}:${previous.origin.line}`, ...at('id') });
      else target.set(id, { value: checked.value, origin });
    }
  }
  if (issues.length) throw new BundleInvalidError(issues);
  return bundle;
}

/** What the bundle's policies may refer to once it is applied. */
export interface BundleContext {
  /** Active groups now. */
  activeGroups: ReadonlySet<string>;
  /** Latest version of each active template once the bundle's templates are saved. */
  workflowVersionsAfter: ReadonlyMap<string, number>;
  prune: boolean;
}

/**
 * Cross-document checks: each policy's groups exist in the bundle or (unless pruned) already,
 * and its template version exists after the bundle's templates are saved.
 */
export function checkBundleReferences(bundle: ParsedBundle, ctx: BundleContext): void {
  const groups = new Set<string>(bundle.groups.keys());
  if (!ctx.prune) for (const g of ctx.activeGroups) groups.add(g);
  const issues: DefinitionIssue[] = [];
  for (const { value, origin } of bundle.policies.values()) {
    for (const i of referenceIssues(value, { groups, workflows: ctx.workflowVersionsAfter })) issues.push({ ...i, file: origin.file, line: origin.line });
  }
  if (issues.length) throw new BundleInvalidError(issues);
}
