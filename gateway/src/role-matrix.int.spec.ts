import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { NewEvent } from '@patchbay/contracts';
import { OPERATION_ROLES, PUBLIC, ROLES, type Role } from './auth/roles.js';
import type { RunningGateway } from './gateway.js';
import { codeOf, gql, seedCycle, startTestStack, type GqlResult, type TestStack } from './spec-fixtures.js';
import { sseData } from '@patchbay/testing';

/**
 * The role matrix, generated: every root field of the schema the gateway serves (read by
 * introspection over HTTP) × every role and no token, called through the real HTTP endpoint
 * (subscriptions over SSE), checked against `OPERATION_ROLES`. Only the arguments are written by
 * hand, in CASES: an operation of the schema without a case fails the suite, as does a case or a
 * table entry for an operation the schema no longer has.
 */

const CYCLE = 'c-matrix';
const LIVE_CYCLE = 'c-matrix-live';
const PROBE_TYPE = 'MatrixProbe';

interface Case {
  /** Arguments, as written in the document (`(a: 1)`), empty for none. */
  args: string;
  /**
   * What an allowed caller gets: `data`, or the error code past the role check (no service
   * answers the commands in this stack: they come back SERVICE_UNAVAILABLE after the gateway
   * validated and sent them).
   */
  allowed: 'data' | string;
}

const SENT = 'SERVICE_UNAVAILABLE';
const CASES: Record<string, Case> = {
  'Query.health': { args: '', allowed: 'data' },
  'Query.me': { args: '', allowed: 'data' },
  'Query.apiTokens': { args: '', allowed: 'data' },
  'Mutation.createApiToken': { args: '(name: "matrix", roles: [viewer])', allowed: 'data' },
  'Mutation.revokeApiToken': { args: '(id: "0123456789ab")', allowed: 'NOT_FOUND' },
  'Mutation.requestCycle': { args: '(policyId: "pol-1")', allowed: SENT },
  'Mutation.requestEmergencyCycle': { args: '(policyId: "pol-1", emergency: { advisoryId: "DSA-5000-1", packages: ["openssl"], target: { groups: ["web"] } })', allowed: SENT },
  'Mutation.approveCycle': { args: `(cycleId: "${CYCLE}")`, allowed: SENT },
  'Mutation.pauseCycle': { args: `(cycleId: "${CYCLE}", reason: "matrix")`, allowed: SENT },
  'Mutation.resumeCycle': { args: `(cycleId: "${CYCLE}")`, allowed: SENT },
  'Mutation.abortCycle': { args: `(cycleId: "${CYCLE}", reason: "matrix")`, allowed: SENT },
  'Query.cycleHistory': { args: `(cycleId: "${CYCLE}")`, allowed: 'data' },
  'Query.cycleAsOf': { args: `(cycleId: "${CYCLE}", at: "2100-01-01T00:00:00Z")`, allowed: 'data' },
  'Query.verifyCycle': { args: `(cycleId: "${CYCLE}")`, allowed: 'data' },
  'Query.cycleExport': { args: `(cycleId: "${CYCLE}", format: jsonl)`, allowed: 'data' },
  'Query.auditPublicKey': { args: '', allowed: 'data' },
  'Subscription.cycleProgress': { args: `(cycleId: "${LIVE_CYCLE}")`, allowed: 'data' },
  'Subscription.patchEvents': { args: `(filter: { types: ["${PROBE_TYPE}"] })`, allowed: 'data' },
  'Query.webhookSubscriptions': { args: '', allowed: 'data' },
  'Query.webhookDeliveries': { args: '(subscriptionId: "wh-none")', allowed: 'NOT_FOUND' },
  'Mutation.createWebhookSubscription': { args: '(input: { url: "http://127.0.0.1:9/hook", eventTypes: ["CycleCompleted"] })', allowed: 'data' },
  'Mutation.deleteWebhookSubscription': { args: '(id: "wh-none")', allowed: 'NOT_FOUND' },
  'Query.endpoints': { args: '(first: 1)', allowed: 'data' },
  'Query.endpoint': { args: '(id: "web-1")', allowed: 'data' },
  'Query.referenceGroups': { args: '(first: 1)', allowed: 'data' },
  'Query.referenceGroup': { args: '(id: "web")', allowed: 'data' },
  'Query.policies': { args: '(first: 1)', allowed: 'data' },
  'Query.policy': { args: '(id: "pol-1")', allowed: 'data' },
  'Query.workflowTemplates': { args: '(first: 1)', allowed: 'data' },
  'Query.workflowTemplate': { args: '(id: "wf-1")', allowed: 'data' },
  'Query.cycles': { args: '(first: 1)', allowed: 'data' },
  'Query.cycle': { args: `(id: "${CYCLE}")`, allowed: 'data' },
  'Query.endpointRuns': { args: `(cycleId: "${CYCLE}", first: 1)`, allowed: 'data' },
  'Query.pendingUpdates': { args: '(first: 1)', allowed: 'data' },
  'Query.compliance': { args: '(tier: "prod")', allowed: 'data' },
  'Query.policyWindows': { args: '(policyId: "pol-1", count: 1)', allowed: SENT },
  'Mutation.rebuildReadModels': { args: '', allowed: 'data' },
  'Mutation.importInventory': { args: '(format: csv, fileName: "m.csv", content: "endpoint_id,host,port,labels\\nweb-9,10.0.0.9,22,env=matrix\\n", dryRun: true)', allowed: SENT },
  'Mutation.gatherFacts': { args: '(endpointIds: ["web-1"])', allowed: SENT },
  'Mutation.acceptHostKey': { args: '(endpointId: "web-1", fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", reason: "matrix")', allowed: SENT },
  'Mutation.defineReferenceGroup': { args: '(group: { id: "web", name: "Web", tier: "prod", selector: "role=web" })', allowed: SENT },
  'Mutation.definePolicy': { args: '(policy: { id: "pol-1", groups: ["web"] })', allowed: SENT },
  'Mutation.saveWorkflowTemplate': { args: '(template: { id: "wf-1", name: "wf", phases: { patch: [{ id: "patch", type: "patch" }] } })', allowed: SENT },
  'Mutation.applyPolicyBundle': { args: '(files: [{ name: "g.yaml", content: "kind: ReferenceGroup\\nid: web\\nname: Web\\ntier: prod\\nselector: role=web\\n" }], dryRun: true)', allowed: SENT },
  'Mutation.previewCycle': { args: '(policyId: "pol-1")', allowed: SENT },
  'Mutation.emergencyCycle': { args: '(policyId: "pol-1", emergency: { advisoryId: "DSA-5000-1", packages: ["openssl"], target: { groups: ["web"] } })', allowed: SENT },
};

type Principal = Role | 'none';
const PRINCIPALS: readonly Principal[] = [...ROLES, 'none'];

/** Whether the table lets `who` run `operation` (admin may do everything; PUBLIC needs no token). */
function mayRun(operation: string, who: Principal): boolean {
  const allowed = OPERATION_ROLES[operation];
  if (allowed === undefined) return false;
  if (allowed === PUBLIC) return true;
  if (who === 'none') return false;
  return who === 'admin' || allowed.includes(who);
}

interface TypeRef {
  kind: string;
  name: string | null;
  ofType: TypeRef | null;
}
interface RootField {
  operation: string;
  /** The root type's keyword in a document. */
  keyword: 'query' | 'mutation' | 'subscription';
  field: string;
  /** A selection set when the field returns an object, else empty. */
  selection: string;
}

const TYPE_REF = 'kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }';
const named = (t: TypeRef): TypeRef => (t.ofType ? named(t.ofType) : t);

/** The root fields of the served schema, by introspection over HTTP. */
async function rootFields(url: string, token: string): Promise<RootField[]> {
  const r = await gql<Record<string, { name: string; fields: Array<{ name: string; type: TypeRef }> } | null>>(
    url,
    `{ __schema { queryType { name fields { name type { ${TYPE_REF} } } } mutationType { name fields { name type { ${TYPE_REF} } } } subscriptionType { name fields { name type { ${TYPE_REF} } } } } }`,
    undefined,
    token,
  );
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  const schema = (r.data as unknown as { __schema: Record<string, { name: string; fields: Array<{ name: string; type: TypeRef }> } | null> }).__schema;
  const out: RootField[] = [];
  for (const [key, keyword] of [
    ['queryType', 'query'],
    ['mutationType', 'mutation'],
    ['subscriptionType', 'subscription'],
  ] as const) {
    const root = schema[key];
    if (!root) continue;
    for (const f of root.fields) {
      const kind = named(f.type).kind;
      out.push({ operation: `${root.name}.${f.name}`, keyword, field: f.name, selection: ['OBJECT', 'INTERFACE', 'UNION'].includes(kind) ? '{ __typename }' : '' });
    }
  }
  return out;
}

interface SseOutcome {
  status: number;
  payloads: Array<{ data?: Record<string, { eventId: string; type: string }>; errors?: GqlResult['errors'] }>;
}

/** Opens an SSE subscription; `result` resolves with the first payload (an event or the refusal) or what the response said. */
function sse(url: string, document: string, token: string | undefined, signal: AbortSignal): { opened: Promise<number>; result: Promise<SseOutcome> } {
  let opened!: (status: number) => void;
  const openedP = new Promise<number>((r) => (opened = r));
  const result = (async (): Promise<SseOutcome> => {
    const res = await fetch(url, { method: 'POST', signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query: document }) });
    opened(res.status);
    if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return { status: res.status, payloads: [(await res.json()) as SseOutcome['payloads'][number]] };
    for await (const payload of sseData<SseOutcome['payloads'][number]>(res.body)) return { status: res.status, payloads: [payload] };
    return { status: res.status, payloads: [] };
  })();
  result.catch(() => opened(0));
  return { opened: openedP, result };
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
};

describe('role matrix: every operation of the schema × every role and no token, over HTTP', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  let fields: RootField[];
  const tokens = new Map<Principal, string | undefined>();
  before(async () => {
    stack = await startTestStack({ introspection: true, rateLimitPerMinute: 0 });
    gw = await stack.startGateway();
    tokens.set('admin', stack.adminToken);
    tokens.set('none', undefined);
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      const r = await gql<{ createApiToken: { token: string } }>(gw.url, `mutation { createApiToken(name: "matrix-${role}", roles: [${role}]) { token } }`, undefined, stack.adminToken);
      tokens.set(role, r.data!.createApiToken.token);
    }
    await seedCycle(stack, CYCLE, { finish: true });
    fields = await rootFields(gw.url, stack.adminToken);
  });
  after(async () => {
    await stack?.close();
  });

  it('the schema, the roles table and the cases name the same operations', () => {
    const schemaOps = fields.map((f) => f.operation).sort();
    assert.ok(schemaOps.length > 40, `introspection found ${schemaOps.length} operations`);
    const missingCase = schemaOps.filter((op) => !(op in CASES));
    assert.deepEqual(missingCase, [], `operations of the schema without a case in the role matrix (add one to CASES): ${missingCase.join(', ')}`);
    const staleCase = Object.keys(CASES).filter((op) => !schemaOps.includes(op));
    assert.deepEqual(staleCase, [], `cases for operations the schema does not have: ${staleCase.join(', ')}`);
    const unlisted = schemaOps.filter((op) => !(op in OPERATION_ROLES));
    assert.deepEqual(unlisted, [], `operations missing from OPERATION_ROLES: ${unlisted.join(', ')}`);
    const staleRoles = Object.keys(OPERATION_ROLES).filter((op) => !schemaOps.includes(op));
    assert.deepEqual(staleRoles, [], `OPERATION_ROLES entries for operations the schema does not have: ${staleRoles.join(', ')}`);
  });

  it('queries and mutations: allowed exactly as OPERATION_ROLES says, FORBIDDEN or UNAUTHENTICATED otherwise', async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const f of fields.filter((x) => x.keyword !== 'subscription')) {
      const c = CASES[f.operation];
      if (!c) continue; // reported by the test above
      for (const who of PRINCIPALS) {
        const r = await gql(gw.url, `${f.keyword} { ${f.field}${c.args} ${f.selection} }`, undefined, tokens.get(who));
        const code = codeOf(r);
        const expected = mayRun(f.operation, who) ? (c.allowed === 'data' ? undefined : c.allowed) : who === 'none' ? 'UNAUTHENTICATED' : 'FORBIDDEN';
        checked++;
        if (code !== expected) problems.push(`${f.operation} as ${who}: expected ${expected ?? 'data'}, got ${code ?? 'data'} ${code ? r.errors?.[0]?.message : ''}`);
        else if (!code && (r.data === undefined || r.data === null)) problems.push(`${f.operation} as ${who}: no data and no error`);
      }
    }
    assert.deepEqual(problems, []);
    assert.equal(checked, fields.filter((x) => x.keyword !== 'subscription').length * PRINCIPALS.length);
  });

  it('subscriptions over SSE: an allowed caller receives the next event, anyone else is refused', async () => {
    const subs = fields.filter((x) => x.keyword === 'subscription');
    assert.ok(subs.length >= 2, 'the schema has subscriptions');
    const abort = new AbortController();
    try {
      const open: Array<{ operation: string; who: Principal; allowed: boolean; result: Promise<SseOutcome> }> = [];
      for (const f of subs) {
        const c = CASES[f.operation];
        if (!c) continue;
        for (const who of PRINCIPALS) {
          const s = sse(gw.url, `subscription { ${f.field}${c.args} { eventId type } }`, tokens.get(who), abort.signal);
          await withTimeout(s.opened, 10_000, `${f.operation} as ${who}: response`);
          open.push({ operation: f.operation, who, allowed: mayRun(f.operation, who), result: s.result });
        }
      }
      // yoga answers the headers before the resolver has subscribed: let every subscription start.
      await new Promise((r) => setTimeout(r, 500));
      const probe: NewEvent = { eventId: `probe-${randomBytes(6).toString('hex')}`, type: PROBE_TYPE, data: { cycleId: LIVE_CYCLE }, actor: 'planner', correlationId: 'matrix' };
      await stack.append(`cycle-${LIVE_CYCLE}`, [probe]);
      const problems: string[] = [];
      for (const o of open) {
        const r = await withTimeout(o.result, 10_000, `${o.operation} as ${o.who}: first payload`);
        const first = r.payloads[0];
        const code = first?.errors?.[0]?.extensions?.code;
        const event = first?.data ? Object.values(first.data)[0] : undefined;
        if (o.allowed) {
          if (code || event?.eventId !== probe.eventId) problems.push(`${o.operation} as ${o.who}: expected the probe event, got ${JSON.stringify(r)}`);
        } else {
          const expected = o.who === 'none' ? 'UNAUTHENTICATED' : 'FORBIDDEN';
          if (code !== expected || event) problems.push(`${o.operation} as ${o.who}: expected ${expected}, got ${JSON.stringify(r)}`);
        }
      }
      assert.deepEqual(problems, []);
      assert.equal(open.length, subs.length * PRINCIPALS.length);
    } finally {
      abort.abort();
    }
  });
});
