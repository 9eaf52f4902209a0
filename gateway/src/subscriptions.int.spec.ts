import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type Client } from 'graphql-ws';
import { gql, seedCycle, startTestStack, type TestStack } from './spec-fixtures.js';
import type { RunningGateway } from './gateway.js';
import { sseData } from '@patchbay/testing';

interface Ev {
  eventId: string;
  type: string;
  stream: string;
}

/** Reads an SSE subscription (yoga's built-in transport) until `count` events arrived. */
async function sse(url: string, query: string, token: string | undefined, count: number, signal: AbortSignal, opened?: () => void): Promise<Array<{ data?: Record<string, Ev>; errors?: Array<{ extensions?: { code?: string } }> }>> {
  const res = await fetch(url, { method: 'POST', signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query }) });
  opened?.();
  const out: Array<{ data?: Record<string, Ev> }> = [];
  for await (const payload of sseData<{ data?: Record<string, Ev> }>(res.body)) {
    out.push(payload);
    if (out.length >= count || out.some((o) => (o as { errors?: unknown }).errors)) return out;
  }
  return out;
}

/** A graphql-ws subscription collecting events; resolves `done` after `count`. */
function wsSubscribe(client: Client, query: string, count: number): { events: Ev[]; done: Promise<Ev[]>; error: Promise<unknown> } {
  const events: Ev[] = [];
  let resolveDone!: (e: Ev[]) => void;
  let resolveError!: (e: unknown) => void;
  const done = new Promise<Ev[]>((r) => (resolveDone = r));
  const error = new Promise<unknown>((r) => (resolveError = r));
  client.subscribe<Record<string, Ev>>({ query }, {
    next: (v) => {
      if (v.errors) resolveError(v.errors);
      if (v.data) events.push(Object.values(v.data)[0]!);
      if (events.length >= count) resolveDone(events);
    },
    error: (e) => resolveError(e),
    complete: () => undefined,
  });
  return { events, done, error };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe('subscriptions: SSE and WebSocket, two gateway replicas on one nats-server', () => {
  let stack: TestStack;
  let a: RunningGateway;
  let b: RunningGateway;
  let viewer: string;
  const clients: Client[] = [];
  const aborts: AbortController[] = [];
  before(async () => {
    stack = await startTestStack();
    a = await stack.startGateway();
    b = await stack.startGateway();
    viewer = (await gql<{ createApiToken: { token: string } }>(a.url, 'mutation { createApiToken(name: "itsm", roles: [viewer]) { token } }', undefined, stack.adminToken)).data!.createApiToken.token;
  });
  after(async () => {
    aborts.forEach((c) => c.abort());
    await Promise.all(clients.map((c) => c.dispose()));
    await stack?.close();
  });

  const ws = (g: RunningGateway, token?: string) => {
    const c = createClient({ url: g.wsUrl, connectionParams: token ? { authorization: `Bearer ${token}` } : {}, retryAttempts: 0, lazy: true });
    clients.push(c);
    return c;
  };

  it('every replica delivers every event: SSE on one, WebSocket on the other, cycle-scoped and filtered', async () => {
    const cycleEvents = 8 + 2 * 2; // seedCycle without finish
    const sseAbort = new AbortController();
    aborts.push(sseAbort);
    let opened!: () => void;
    const sseOpen = new Promise<void>((r) => (opened = r));
    const sseOnA = sse(a.url, 'subscription { cycleProgress(cycleId: "c-sub") { eventId type stream } }', viewer, cycleEvents, sseAbort.signal, opened);
    const wsOnB = wsSubscribe(ws(b, viewer), 'subscription { cycleProgress(cycleId: "c-sub") { eventId type stream } }', cycleEvents);
    const wsFilteredOnA = wsSubscribe(ws(a, viewer), 'subscription { patchEvents(filter: { types: ["StepStarted"], groups: ["db"] }) { eventId type stream } }', 1);
    const wsAllOnB = wsSubscribe(ws(b, viewer), 'subscription { patchEvents { eventId type stream } }', cycleEvents + 1);
    await sseOpen;
    await new Promise((r) => setTimeout(r, 300)); // the WebSocket subscriptions are set up
    await gql(a.url, 'mutation { createApiToken(name: "during", roles: [viewer]) { token } }', undefined, stack.adminToken);
    await stack.append('cycle-c-unrelated', [{ eventId: 'unrelated-1', type: 'CycleRequested', data: { cycleId: 'c-unrelated' } }]);
    await seedCycle(stack, 'c-sub');
    const fromSse = (await withTimeout(sseOnA, 10_000, 'SSE')).map((r) => r.data!['cycleProgress']!);
    const fromWs = await withTimeout(wsOnB.done, 10_000, 'WebSocket');
    const stored = [...(await stack.store.readStream('cycle-c-sub')), ...(await stack.store.readStream('run-c-sub.web-1')), ...(await stack.store.readStream('run-c-sub.db-1'))].sort((x, y) => (x.position < y.position ? -1 : 1)).map((e) => e.metadata.eventId);
    assert.deepEqual(fromSse.map((e) => e.eventId), stored, 'replica A (SSE): every event of the cycle, in order');
    assert.deepEqual(fromWs.map((e) => e.eventId), stored, 'replica B (WebSocket): the same events');
    const filtered = await withTimeout(wsFilteredOnA.done, 10_000, 'filtered');
    assert.equal(filtered[0]!.type, 'StepStarted');
    assert.equal(filtered[0]!.stream, 'run-c-sub.db-1', 'only the db group');
    const all = await withTimeout(wsAllOnB.done, 10_000, 'all');
    assert.equal(all[0]!.eventId, 'unrelated-1', 'patchEvents without filter sees other cycles too');
    assert.ok(!all.some((e) => e.stream.startsWith('api-token-')), 'token events are never streamed');
  });

  it('subscriptions need a token: SSE without one is UNAUTHENTICATED, WebSocket without one is closed', async () => {
    const ctl = new AbortController();
    aborts.push(ctl);
    const r = await withTimeout(sse(a.url, 'subscription { cycleProgress(cycleId: "c1") { eventId } }', undefined, 1, ctl.signal), 5000, 'sse refusal');
    assert.equal(r[0]?.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(r));
    const anon = wsSubscribe(ws(b), 'subscription { cycleProgress(cycleId: "c1") { eventId } }', 1);
    const err = (await withTimeout(anon.error, 5000, 'ws refusal')) as { code?: number };
    assert.equal(err.code, 4403, 'closed as Forbidden');
    const bad = wsSubscribe(ws(b, 'pbt_000000000000_' + 'x'.repeat(43)), 'subscription { cycleProgress(cycleId: "c1") { eventId } }', 1);
    assert.equal(((await withTimeout(bad.error, 5000, 'ws bad token')) as { code?: number }).code, 4403);
  });

  it('a token revoked on one replica cannot start another subscription on a socket open to the other', async () => {
    const created = await gql<{ createApiToken: { token: string; info: { id: string } } }>(a.url, 'mutation { createApiToken(name: "short-lived", roles: [viewer]) { token info { id } } }', undefined, stack.adminToken);
    const client = ws(b, created.data!.createApiToken.token);
    const first = wsSubscribe(client, 'subscription { cycleProgress(cycleId: "c-rev") { eventId } }', 1);
    await new Promise((r) => setTimeout(r, 300));
    await gql(a.url, 'mutation($id: ID!) { revokeApiToken(id: $id) { id } }', { id: created.data!.createApiToken.info.id }, stack.adminToken);
    await new Promise((r) => setTimeout(r, 1100)); // revoked on replica A: replica B learns it within its 1 s token refresh
    const second = wsSubscribe(client, 'subscription { patchEvents { eventId } }', 1);
    const errs = (await withTimeout(second.error, 5000, 'revoked')) as Array<{ extensions?: { code?: string } }>;
    assert.equal(errs[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(errs));
    void first;
  });

  it('a subscription with a bad argument gets VALIDATION_FAILED', async () => {
    const s = wsSubscribe(ws(a, viewer), 'subscription { cycleProgress(cycleId: "no spaces allowed") { eventId } }', 1);
    const errs = (await withTimeout(s.error, 5000, 'bad arg')) as Array<{ extensions?: { code?: string } }>;
    assert.equal(errs[0]?.extensions?.code, 'VALIDATION_FAILED', JSON.stringify(errs));
  });
});
