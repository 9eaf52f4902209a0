import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BundleInvalidError, checkBundleReferences, parseBundle, parseIssuePath } from './bundle.js';
import { decideGroup, evolveGroup, initialGroupState, type GroupState } from './group-decider.js';
import { decidePolicy, evolvePolicy, initialPolicyState, type PolicyState } from './policy-decider.js';
import { decideWorkflow, evolveWorkflow, initialWorkflowState, type WorkflowState } from './workflow-decider.js';

const groups = `kind: ReferenceGroup
id: prod-db
tier: critical
selector: env=prod,role in (db)
---
kind: ReferenceGroup
id: prod-web
tier: high
selector: env=prod,role=web
members: [web-legacy-1]
`;
const workflow = `kind: WorkflowTemplate
id: standard
phases:
  patch:
    - id: patch
      type: patch
      params: { scope: security }
`;
const policy = `kind: PatchPolicy
id: nightly
groups: [prod-db, prod-web]
workflow: { id: standard, version: 1 }
`;

function rejected(files: Array<{ name: string; content: string }>) {
  try {
    parseBundle(files);
  } catch (e) {
    assert.ok(e instanceof BundleInvalidError, String(e));
    assert.equal(e.code, 'BUNDLE_INVALID');
    return e.issues;
  }
  assert.fail('bundle was accepted');
}

describe('policy bundle parsing', () => {
  it('reads several documents per file and every kind', () => {
    const b = parseBundle([
      { name: 'groups.yaml', content: groups },
      { name: 'workflows/standard.yaml', content: workflow },
      { name: 'policies.yml', content: policy },
    ]);
    assert.deepEqual([...b.groups.keys()], ['prod-db', 'prod-web']);
    assert.deepEqual([...b.workflows.keys()], ['standard']);
    assert.equal(b.policies.get('nightly')?.value.maxConcurrency, '10%');
    assert.deepEqual(b.groups.get('prod-web')?.origin, { file: 'groups.yaml', line: 6 });
  });
  it('a bad field is reported with file, line, column, field and code', () => {
    const bad = workflow.replace('params: { scope: security }', 'params: { scope: security }\n      timeoutSeconds: 0');
    const [issue, ...rest] = rejected([{ name: 'groups.yaml', content: groups }, { name: 'wf.yaml', content: bad }]);
    assert.equal(rest.length, 0);
    assert.deepEqual({ ...issue }, { code: 'WORKFLOW_INVALID_TIMEOUT', path: 'phases.patch[0].timeoutSeconds', message: issue!.message, file: 'wf.yaml', line: 8, column: 23 });
  });
  it('a missing field points at its parent mapping; a bad selector names its column', () => {
    const issues = rejected([{ name: 'g.yaml', content: 'kind: ReferenceGroup\nid: x\nselector: "env=prod,role in db"\n' }]);
    assert.deepEqual(
      issues.map((i) => [i.code, i.path, i.line]),
      [['GROUP_MISSING_FIELD', 'tier', 1]],
    );
    const sel = rejected([{ name: 'g.yaml', content: 'kind: ReferenceGroup\nid: x\ntier: low\nselector: "env=prod,role in db"\n' }]);
    assert.equal(sel[0]!.code, 'SELECTOR_INVALID');
    assert.equal(sel[0]!.line, 4);
    assert.match(sel[0]!.message, /expected "\(" after "in".*column 18/);
  });
  it('YAML syntax errors, unknown kinds and duplicate ids are all reported at once', () => {
    const issues = rejected([
      { name: 'a.yaml', content: 'kind: ReferenceGroup\nid: [unclosed\n' },
      { name: 'b.yaml', content: 'kind: Firewall\nid: x\n' },
      { name: 'c.yaml', content: groups },
      { name: 'd.yaml', content: 'kind: ReferenceGroup\nid: prod-db\ntier: low\n' },
      { name: 'e.yaml', content: '- just\n- a list\n' },
    ]);
    assert.deepEqual(
      issues.map((i) => [i.file, i.code, i.line]),
      [
        ['a.yaml', 'BUNDLE_YAML_SYNTAX', 3],
        ['b.yaml', 'BUNDLE_UNKNOWN_KIND', 1],
        ['d.yaml', 'BUNDLE_DUPLICATE_ID', 2],
        ['e.yaml', 'BUNDLE_INVALID_DOCUMENT', 1],
      ],
    );
    assert.match(issues[2]!.message, /already defined in c.yaml:1/);
  });
  it('cross references: unknown groups and template versions are refused before anything is stored', () => {
    const b = parseBundle([{ name: 'p.yaml', content: policy.replace('version: 1', 'version: 2') }, { name: 'w.yaml', content: workflow }]);
    assert.throws(
      () => checkBundleReferences(b, { activeGroups: new Set(['prod-db']), workflowVersionsAfter: new Map([['standard', 1]]), prune: false }),
      (e: unknown) => e instanceof BundleInvalidError && e.issues.map((i) => i.code).join() === 'POLICY_UNKNOWN_GROUP,POLICY_UNKNOWN_WORKFLOW' && e.issues[0]!.file === 'p.yaml',
    );
    const ok = parseBundle([{ name: 'p.yaml', content: policy }]);
    checkBundleReferences(ok, { activeGroups: new Set(['prod-db', 'prod-web']), workflowVersionsAfter: new Map([['standard', 1]]), prune: false });
    assert.throws(() => checkBundleReferences(ok, { activeGroups: new Set(['prod-db', 'prod-web']), workflowVersionsAfter: new Map([['standard', 1]]), prune: true }), BundleInvalidError);
  });
  it('issue paths map back to YAML paths', () => {
    assert.deepEqual(parseIssuePath('phases.pre[1].params.hook.headers.X-A'), ['phases', 'pre', 1, 'params', 'hook', 'headers', 'X-A']);
    assert.deepEqual(parseIssuePath(''), []);
  });
});

describe('policy bundle diffing (what an apply appends)', () => {
  const none = { get: () => undefined, ids: () => [][Symbol.iterator]() };
  /** Events an apply of `files` appends on top of `given` (per stream), and the states after. */
  function apply(files: Array<{ name: string; content: string }>, given: Map<string, { group?: GroupState; policy?: PolicyState; workflow?: WorkflowState }>) {
    const b = parseBundle(files);
    const appended: string[] = [];
    const after = new Map(given);
    for (const [id, { value }] of b.workflows) {
      const s = given.get(`workflow-${id}`)?.workflow ?? initialWorkflowState();
      const ev = decideWorkflow({ type: 'SaveWorkflow', template: value }, s);
      ev.forEach((e) => appended.push(`workflow-${id}:${e.type}`));
      after.set(`workflow-${id}`, { workflow: ev.reduce(evolveWorkflow, s) });
    }
    for (const [id, { value }] of b.groups) {
      const s = given.get(`group-${id}`)?.group ?? initialGroupState();
      const ev = decideGroup({ type: 'UpdateGroup', definition: value, endpoints: none, upsert: true }, s);
      ev.forEach((e) => appended.push(`group-${id}:${e.type}`));
      after.set(`group-${id}`, { group: ev.reduce(evolveGroup, s) });
    }
    const references = { groups: new Set(b.groups.keys()), workflows: new Map([...b.workflows.keys()].map((id) => [id, after.get(`workflow-${id}`)!.workflow!.versions.length])) };
    for (const [id, { value }] of b.policies) {
      const s = given.get(`policy-${id}`)?.policy ?? initialPolicyState();
      const ev = decidePolicy({ type: 'UpdatePolicy', definition: value, references, upsert: true }, s);
      ev.forEach((e) => appended.push(`policy-${id}:${e.type}`));
      after.set(`policy-${id}`, { policy: ev.reduce(evolvePolicy, s) });
    }
    return { appended, after };
  }
  const files = [
    { name: 'groups.yaml', content: groups },
    { name: 'wf.yaml', content: workflow },
    { name: 'policy.yaml', content: policy },
  ];
  it('first apply defines everything; the same files again append nothing', () => {
    const first = apply(files, new Map());
    assert.deepEqual(first.appended, ['workflow-standard:WorkflowTemplateVersionSaved', 'group-prod-db:ReferenceGroupDefined', 'group-prod-web:ReferenceGroupDefined', 'policy-nightly:PatchPolicyDefined']);
    assert.deepEqual(apply(files, first.after).appended, []);
  });
  it('formatting, key order, comments and member order do not count as changes', () => {
    const first = apply(files, new Map());
    const reformatted = [
      { name: 'groups.yaml', content: '# reordered\nkind: ReferenceGroup\ntier: critical\nid: prod-db\nselector: "env=prod,role in (db)"\n---\nid: prod-web\nkind: ReferenceGroup\nmembers:\n  - web-legacy-1\n  - web-legacy-1\nselector: env=prod,role=web\ntier: high\n' },
      { name: 'wf.yaml', content: 'kind: WorkflowTemplate\nid: standard\nphases: { patch: [ { id: patch, type: patch, params: { scope: security }, timeoutSeconds: 600 } ] }\n' },
      files[2]!,
    ];
    assert.deepEqual(apply(reformatted, first.after).appended, []);
  });
  it('a change appends only its difference', () => {
    const first = apply(files, new Map());
    const changed = [files[0]!, { name: 'wf.yaml', content: workflow.replace('scope: security', 'scope: all') }, { name: 'policy.yaml', content: policy.replace('version: 1', 'version: 2') }];
    assert.deepEqual(apply(changed, first.after).appended, ['workflow-standard:WorkflowTemplateVersionSaved', 'policy-nightly:PatchPolicyUpdated']);
  });
});

describe('the documented examples', () => {
  it('services/policy/examples is a valid bundle on an empty store', async () => {
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const { join, relative } = await import('node:path');
    const root = join(__dirname, '..', '..', 'examples');
    const files: Array<{ name: string; content: string }> = [];
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (n.endsWith('.yaml')) files.push({ name: relative(root, p), content: readFileSync(p, 'utf8') });
      }
    };
    walk(root);
    const b = parseBundle(files);
    assert.deepEqual([b.groups.size, b.policies.size, b.workflows.size], [3, 2, 2]);
    checkBundleReferences(b, { activeGroups: new Set(), workflowVersionsAfter: new Map([...b.workflows.keys()].map((id) => [id, 1])), prune: true });
  });
});
