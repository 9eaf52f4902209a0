import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseCommandList } from '@patchbay/fleet-lab';
import type { Harness } from '../driver.js';
import { chainViolations, checkCycle, readStore, STABLE_CODE, waitCycleFinal } from '../invariants.js';
import { ScenarioTally, seedFor, trialCount } from '../report.js';

/** Injection payloads aimed at a canary path: each would create the file if a shell ever evaluated it. */
export function payloads(canary: string): string[] {
  return [
    `$(touch ${canary})`,
    '`touch ' + canary + '`',
    `;touch ${canary}`,
    `x && touch ${canary}`,
    `x || touch ${canary}`,
    `x | touch ${canary}`,
    `x\ntouch ${canary}`,
    `'; touch ${canary}; '`,
    `"; touch ${canary}; "`,
    `\\"$(touch ${canary})\\"`,
    `$'\\x3b'touch ${canary}`,
    `>${canary}`,
    `<(touch ${canary})`,
    `-oProxyCommand=touch ${canary}`,
    `--output=${canary}`,
    `\${IFS}touch\${IFS}${canary}`,
    `*`,
    `~root/../..${canary}`,
    `{a,b}touch`,
    `%s%n%x`,
    `\u202etouch`,
    `x\u0000touch ${canary}`,
    'a'.repeat(5000),
    '${jndi:ldap://127.0.0.1/x}',
    '{{7*7}}',
    '!!js/function "function(){}"',
    '&a [*a, *a]',
    '../../../../etc/shadow',
  ];
}

/** A hostile string: a payload alone, inside arbitrary text, or arbitrary (binary) text. */
export function hostile(canary: string): fc.Arbitrary<string> {
  const p = payloads(canary);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...p) },
    { weight: 3, arbitrary: fc.tuple(fc.string({ maxLength: 12 }), fc.constantFrom(...p), fc.string({ maxLength: 12 })).map(([a, x, b]) => `${a}${x}${b}`) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '-', 'web', 'a=b', '0') },
  );
}

type Gql = Awaited<ReturnType<Harness['stack']['graphql']>>;

/** A GraphQL answer is fine when it succeeded, or when every error carries a stable code that is not INTERNAL. */
function checkAnswer(tally: ScenarioTally, what: string, r: Gql, codes: Map<string, number>): void {
  if (r.status >= 500) tally.violation(what, `HTTP ${r.status}: ${JSON.stringify(r.errors ?? r.data).slice(0, 300)}`);
  for (const e of r.errors ?? []) {
    const code = e.extensions?.code;
    codes.set(code ?? '(none)', (codes.get(code ?? '(none)') ?? 0) + 1);
    if (!code || !STABLE_CODE.test(code) || code === 'INTERNAL') tally.violation(what, `error without a stable code: ${JSON.stringify(e).slice(0, 300)}`);
  }
}

/** One GraphQL operation per user-supplied field, fed a hostile value. */
function operations(v: string, canary: string): Array<{ name: string; query: string; variables: Record<string, unknown> }> {
  const json = JSON.stringify;
  return [
    {
      name: 'importInventory ini',
      query:
        'mutation($c: String!, $f: String!, $d: Boolean) { importInventory(format: ansible_ini, fileName: $f, content: $c, dryRun: $d, hostKeyPolicy: explicit) { commandId } }',
      variables: { f: v, d: v.length % 2 === 0, c: `[${v}]\n${v} ansible_host=${v} ansible_port=22 ansible_user=${v} role=${v}\n[${v}:vars]\n${v}=${v}\n` },
    },
    {
      name: 'importInventory yaml',
      query: 'mutation($c: String!) { importInventory(format: ansible_yaml, fileName: "h.yaml", content: $c, dryRun: true) { commandId } }',
      variables: {
        c: `all:\n  hosts:\n    ${json(v)}:\n      ansible_host: ${json(v)}\n      ansible_user: ${json(v)}\n  vars:\n    ${json(v)}: ${json(v)}\n`,
      },
    },
    {
      name: 'importInventory raw',
      query: 'mutation($c: String!) { importInventory(format: ansible_yaml, fileName: "raw.yaml", content: $c, dryRun: true) { commandId } }',
      variables: { c: v },
    },
    {
      name: 'importInventory csv',
      query: 'mutation($c: String!) { importInventory(format: csv, fileName: "h.csv", content: $c, dryRun: true) { commandId } }',
      variables: { c: `id,host,port,user,labels\n${json(v)},${json(v)},22,${json(v)},${json(`${v}=${v}`)}\n` },
    },
    {
      name: 'applyPolicyBundle group',
      query: 'mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f) { commandId } }',
      variables: { f: [{ name: v, content: `kind: ReferenceGroup\nid: ${json(v)}\nname: ${json(v)}\ntier: ${json(v)}\nselector: ${json(v)}\n` }] },
    },
    {
      name: 'applyPolicyBundle raw',
      query: 'mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f, dryRun: true) { commandId } }',
      variables: { f: [{ name: 'raw.yaml', content: v }] },
    },
    {
      name: 'applyPolicyBundle yaml bomb',
      query: 'mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f, dryRun: true) { commandId } }',
      variables: {
        f: [
          {
            name: 'bomb.yaml',
            content: `a: &a [${json(v)}, ${json(v)}]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n`,
          },
        ],
      },
    },
    {
      name: 'defineReferenceGroup',
      query: 'mutation($g: JSON!) { defineReferenceGroup(group: $g) { commandId } }',
      variables: { g: { id: v, name: v, tier: v, selector: v, members: [v] } },
    },
    {
      name: 'definePolicy',
      query: 'mutation($p: JSON!) { definePolicy(policy: $p) { commandId } }',
      variables: {
        p: {
          id: v,
          groups: [v],
          updates: { include: 'all', packages: { allow: [v] } },
          approval: { mode: 'auto', afterDays: 0 },
          maxConcurrency: v,
          workflow: { id: v, version: 1 },
        },
      },
    },
    {
      name: 'saveWorkflowTemplate',
      query: 'mutation($t: JSON!) { saveWorkflowTemplate(template: $t) { commandId } }',
      variables: {
        t: {
          id: 'fz-save',
          name: v,
          phases: {
            pre: [
              { id: 'c', type: 'custom', params: { argv: [v, v] } },
              { id: 's', type: 'stop-service', params: { service: v } },
              { id: 'd', type: 'check-disk', params: { path: v, minFreeMb: 1 } },
            ],
            patch: [{ id: 'p', type: 'patch', params: { scope: 'list', packages: [v] } }],
            post: [{ id: 'k', type: 'cleanup', params: { paths: [v, canary] } }],
          },
        },
      },
    },
    { name: 'requestCycle', query: 'mutation($p: String!, $c: ID) { requestCycle(policyId: $p, cycleId: $c) { commandId } }', variables: { p: v, c: v } },
    {
      name: 'previewCycle',
      query: 'mutation($p: String!, $e: JSON) { previewCycle(policyId: $p, emergency: $e) { commandId } }',
      variables: { p: v, e: { advisoryId: v, packages: [v], target: { kind: 'groups', groups: [v] } } },
    },
    {
      name: 'emergencyCycle',
      query: 'mutation($e: JSON!) { emergencyCycle(policyId: "none", emergency: $e) { commandId } }',
      variables: { e: { advisoryId: v, title: v, packages: [v], target: { kind: 'vulnerable' } } },
    },
    { name: 'gatherFacts', query: 'mutation($ids: [ID!]) { gatherFacts(endpointIds: $ids, wait: true) { commandId } }', variables: { ids: [v] } },
    {
      name: 'acceptHostKey',
      query: 'mutation($id: ID!, $f: String!, $r: String!) { acceptHostKey(endpointId: $id, fingerprint: $f, reason: $r) { commandId } }',
      variables: { id: v, f: v, r: v },
    },
    {
      name: 'endpoints query',
      query:
        'query($k: String!, $v: String!, $g: ID, $a: String) { endpoints(filter: { labels: [{ key: $k, value: $v }], group: $g, tier: $v }, first: 5, after: $a) { edges { node { id } } } }',
      variables: { k: v, v, g: v, a: v },
    },
    {
      name: 'endpoint query',
      query: 'query($id: ID!) { endpoint(id: $id) { id } referenceGroup(id: $id) { id } cycle(id: $id) { id } }',
      variables: { id: v },
    },
    {
      name: 'endpointRuns query',
      query: 'query($id: ID!, $a: String) { endpointRuns(cycleId: $id, first: 5, after: $a) { edges { node { endpointId } } } }',
      variables: { id: v, a: v },
    },
  ];
}

/**
 * A workflow whose executable fields (endpoint and controller argv, service name, disk path, cleanup
 * path, validate argv) carry hostile values; every failing step continues so all of them run.
 */
const BENIGN = ['ok', 'ok', 'ok', 'cron', '/', 'ok', '/tmp/pb-cleanup'];

function hostileWorkflowBundle(label: string, given: ReadonlyArray<string | undefined>): string {
  const vs = BENIGN.map((b, i) => given[i] ?? b);
  const cont = { onFailure: 'continue', timeoutSeconds: 20 };
  const workflow = {
    kind: 'WorkflowTemplate',
    id: `wf-${label}`,
    name: 'hostile values',
    phases: {
      pre: [
        { id: 'argv-endpoint', type: 'custom', params: { argv: ['echo', vs[0], vs[1]] }, ...cont },
        { id: 'argv-controller', type: 'custom', params: { on: 'controller', argv: ['echo', vs[2]] }, ...cont },
        { id: 'service', type: 'stop-service', params: { service: vs[3] }, ...cont },
        { id: 'disk', type: 'check-disk', params: { path: vs[4], minFreeMb: 1 }, ...cont },
      ],
      patch: [{ id: 'patch', type: 'patch', params: { scope: 'all', manager: 'apt' } }],
      post: [
        { id: 'validate', type: 'validate', params: { check: { kind: 'command', on: 'endpoint', argv: ['echo', vs[5]] } }, ...cont },
        { id: 'cleanup', type: 'cleanup', params: { paths: [vs[6]] }, ...cont },
      ],
    },
  };
  return [
    JSON.stringify(workflow),
    JSON.stringify({ kind: 'ReferenceGroup', id: `g-${label}`, name: 'fuzz', tier: 'low', selector: `trial=${label}` }),
    JSON.stringify({
      kind: 'PatchPolicy',
      id: `p-${label}`,
      groups: [`g-${label}`],
      updates: { include: 'all' },
      approval: { mode: 'auto', afterDays: 0 },
      rollout: { waves: [] },
      maxConcurrency: 2,
      errorThreshold: 3,
      reboot: 'never',
      workflow: { id: `wf-${label}`, version: 1 },
    }),
  ].join('\n---\n');
}

/** Every simple command an endpoint received, as the shell would see it; a line a shell would expand is itself a finding. */
function executedPrograms(line: string): { programs: string[]; error?: string } {
  try {
    const programs: string[] = [];
    for (const item of parseCommandList(line)) {
      let argv = item.argv;
      while (argv.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[0]!) || ['sudo', '-n', 'env', 'exec', 'nohup'].includes(argv[0]!))) argv = argv.slice(1);
      if (argv[0] === 'sh' || argv[0] === 'bash') {
        const c = argv.indexOf('-c');
        if (c >= 0 && argv[c + 1]) programs.push(...executedPrograms(argv[c + 1]!).programs);
      }
      if (argv[0]) programs.push(argv[0]);
    }
    return { programs };
  } catch (e) {
    return { programs: [], error: (e as Error).message };
  }
}

/**
 * Scenario 6: hostile input through the real GraphQL API. Invariants: every answer succeeds or
 * carries stable codes (never INTERNAL, never HTTP 5xx); no canary file appears on the controller;
 * no endpoint ever receives a command line a shell would expand or a `touch`; every event stored
 * before is still there unaltered and every hash chain verifies.
 */
export async function hostileInput(h: Harness): Promise<ScenarioTally> {
  const seed = seedFor('hostile-input');
  const tally = new ScenarioTally('6-hostile-input', 'fuzzed user input through the GraphQL API', seed);
  return tally.run(async () => {
    const canaryDir = join(h.workDir, 'canaries');
    mkdirSync(canaryDir, { recursive: true });
    const canary = join(canaryDir, 'pwned');
    const codes = new Map<string, number>();
    const before = new Map((await readStore(h.storePath)).map((e) => [e.metadata.eventId, e.metadata.hash]));
    await h.stack.waitHealthy();

    // Part 1: every field, many values.
    const values = fc.sample(hostile(canary), { numRuns: trialCount(12, 150), seed });
    for (const [i, v] of values.entries()) {
      for (const op of operations(v, canary)) {
        const r = await h.stack.graphql(op.query, op.variables);
        tally.trials++;
        checkAnswer(tally, `${op.name} #${i} ${JSON.stringify(v).slice(0, 60)}`, r, codes);
      }
    }

    // Part 2: hostile values in a workflow that really runs on endpoints and on the controller.
    const workflows = trialCount(2, 10);
    let executed = 0;
    const sets = fc.sample(fc.array(hostile(canary), { minLength: 7, maxLength: 7 }), { numRuns: workflows * 4, seed: seed + 1 });
    for (let w = 0, s = 0; w < workflows && s < sets.length; s++) {
      const label = `z${w}-${s}`;
      // Keep each hostile value the validation accepts (a refusal with a code is itself fine).
      const kept: Array<string | undefined> = [];
      for (let i = 0; i < BENIGN.length; i++) {
        const trial = [...kept];
        trial[i] = sets[s]![i];
        const dry = await h.stack.graphql('mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f, dryRun: true) { commandId } }', {
          f: [{ name: `${label}.yaml`, content: hostileWorkflowBundle(label, trial) }],
        });
        checkAnswer(tally, `hostile workflow field ${i} ${label}`, dry, codes);
        kept[i] = dry.errors ? undefined : sets[s]![i];
      }
      if (kept.every((k) => k === undefined)) continue;
      tally.count('hostile step fields kept', kept.filter((k) => k !== undefined).length);
      const bundle = hostileWorkflowBundle(label, kept);
      const applied = await h.stack.graphql('mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f) { commandId } }', {
        f: [{ name: `${label}.yaml`, content: bundle }],
      });
      checkAnswer(tally, `hostile workflow ${label}`, applied, codes);
      if (applied.errors) {
        tally.violation(label, `a bundle accepted by its dry run was refused: ${JSON.stringify(applied.errors).slice(0, 300)}`);
        continue;
      }
      w++;
      const fleet = await h.prepareTrial(label, 2, { bundle });
      const req = await h.stack.graphql<{ requestCycle: { id: string } }>('mutation($p: String!) { requestCycle(policyId: $p) { id } }', { p: `p-${label}` });
      checkAnswer(tally, `requestCycle ${label}`, req, codes);
      const cycleId = req.data?.requestCycle.id;
      if (!cycleId) {
        tally.violation(label, `a valid hostile workflow could not be run: ${JSON.stringify(req.errors)}`);
        continue;
      }
      const final = await waitCycleFinal(h.storePath, cycleId, 90_000);
      if (!final) {
        tally.violation(label, `cycle ${cycleId} did not end`);
        continue;
      }
      executed++;
      const verdict = checkCycle(await readStore(h.storePath), cycleId, fleet, { expectEndpoints: 2 });
      for (const v of verdict.violations) tally.violation(label, v);
      for (const [id, lines] of fleet.commands) {
        tally.count('endpoint lines carrying a payload', lines.filter((l) => l.includes(canary)).length);
        for (const line of lines) {
          const { programs, error } = executedPrograms(line);
          if (error) tally.violation(label, `${id} received a line a shell would expand (${error}): ${JSON.stringify(line).slice(0, 200)}`);
          if (programs.includes('touch') || programs.some((p) => p.includes(canary)))
            tally.violation(label, `${id} ran an injected command: ${JSON.stringify(line).slice(0, 200)}`);
        }
      }
    }
    tally.notes['hostile workflows executed'] = executed;
    if (executed === 0) tally.violation('fuzz', 'no hostile workflow passed validation, so nothing hostile was executed');

    if (existsSync(canary) || readdirSync(canaryDir).length > 0) tally.violation('controller', `canary created: ${readdirSync(canaryDir).join(', ')}`);
    const all = await readStore(h.storePath);
    const byId = new Map(all.map((e) => [e.metadata.eventId, e.metadata.hash]));
    let lost = 0;
    for (const [id, hash] of before) if (byId.get(id) !== hash) lost++;
    if (lost) tally.violation('store', `${lost} events stored before the fuzz are gone or altered`);
    for (const v of chainViolations(all)) tally.violation('store', v);
    const q = await h.stack.graphql<{ endpoints: { edges: unknown[] } }>('{ endpoints(first: 5) { edges { node { id } } } }');
    if (q.errors) tally.violation('gateway', `earlier data unreadable: ${JSON.stringify(q.errors)}`);
    const dead = h.stack.dead();
    if (dead.length) tally.violation('stack', `processes died: ${dead.join(', ')}`);
    tally.notes['error codes'] = Object.fromEntries([...codes].sort((a, b) => b[1] - a[1]));
  });
}
