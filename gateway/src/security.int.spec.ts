import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { codeOf, gql, makeToken, startTestStack, type TestStack } from './spec-fixtures.js';
import type { RunningGateway } from './gateway.js';

describe('gateway security: tokens, roles and limits', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  before(async () => {
    stack = await startTestStack();
    gw = await stack.startGateway();
  });
  after(async () => stack?.close());

  it('health is open without a token (liveness probes)', async () => {
    const r = await gql<{ health: { services: Array<{ service: string }> } }>(gw.url, '{ health { status services { service status error } } }');
    assert.equal(r.status, 200);
    assert.ok(r.data?.health.services.some((s) => s.service === 'gateway'));
  });

  it('anything else without a token is UNAUTHENTICATED; a bad or malformed token is refused with 401', async () => {
    assert.equal(codeOf(await gql(gw.url, '{ me { name } }')), 'UNAUTHENTICATED');
    assert.equal(codeOf(await gql(gw.url, '{ cycleHistory(cycleId: "c1") { eventId } }')), 'UNAUTHENTICATED');
    assert.equal(codeOf(await gql(gw.url, 'mutation { requestCycle(policyId: "p") { commandId } }')), 'UNAUTHENTICATED');
    const unknown = await gql(gw.url, '{ health { status } }', undefined, makeToken());
    assert.equal(unknown.status, 401);
    assert.equal(codeOf(unknown), 'UNAUTHENTICATED');
    const malformed = await gql(gw.url, '{ me { name } }', undefined, 'not-a-token');
    assert.equal(malformed.status, 401);
    assert.equal(codeOf(malformed), 'UNAUTHENTICATED');
  });

  it('the admin creates tokens with roles; a wrong role is FORBIDDEN; a revoked token stops working', async () => {
    const created = await gql<{ createApiToken: { token: string; info: { id: string; roles: string[] } } }>(
      gw.url,
      'mutation { createApiToken(name: "ops viewer", roles: [viewer]) { token info { id roles } } }',
      undefined,
      stack.adminToken,
    );
    assert.equal(created.errors, undefined, JSON.stringify(created));
    const viewer = created.data!.createApiToken.token;
    assert.match(viewer, /^pbt_[0-9a-f]{12}_/);
    const me = await gql<{ me: { roles: string[]; actor: string } }>(gw.url, '{ me { roles actor } }', undefined, viewer);
    assert.deepEqual(me.data?.me.roles, ['viewer']);
    assert.equal(codeOf(await gql(gw.url, '{ cycleHistory(cycleId: "c1") { eventId } }', undefined, viewer)), 'FORBIDDEN');
    assert.equal(codeOf(await gql(gw.url, '{ apiTokens { id } }', undefined, viewer)), 'FORBIDDEN');
    assert.equal(codeOf(await gql(gw.url, 'mutation { approveCycle(cycleId: "c1") { commandId } }', undefined, viewer)), 'FORBIDDEN');
    assert.equal(codeOf(await gql(gw.url, 'mutation { createApiToken(name: "x", roles: [admin]) { token } }', undefined, viewer)), 'FORBIDDEN');
    // The token list never shows secrets or hashes.
    const list = await gql<{ apiTokens: Array<Record<string, unknown>> }>(gw.url, '{ apiTokens { id name roles revokedAt } }', undefined, stack.adminToken);
    assert.ok(list.data!.apiTokens.some((t) => t['id'] === created.data!.createApiToken.info.id));
    const revoked = await gql<{ revokeApiToken: { revokedAt: string | null } }>(gw.url, 'mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }', { id: created.data!.createApiToken.info.id }, stack.adminToken);
    assert.ok(revoked.data?.revokeApiToken.revokedAt);
    const after = await gql(gw.url, '{ me { name } }', undefined, viewer);
    assert.equal(after.status, 401);
    assert.equal(codeOf(after), 'UNAUTHENTICATED');
    assert.equal(codeOf(await gql(gw.url, 'mutation { revokeApiToken(id: "000000000000") { id } }', undefined, stack.adminToken)), 'NOT_FOUND');
  });

  it('bad input has a stable code: unknown role, bad token name, bad cycle id', async () => {
    assert.equal(codeOf(await gql(gw.url, 'mutation { createApiToken(name: "x", roles: [root]) { token } }', undefined, stack.adminToken)), 'GRAPHQL_VALIDATION_FAILED');
    assert.equal(codeOf(await gql(gw.url, 'mutation { createApiToken(name: "x/../y", roles: [viewer]) { token } }', undefined, stack.adminToken)), 'VALIDATION_FAILED');
    assert.equal(codeOf(await gql(gw.url, 'mutation { createApiToken(name: "x", roles: []) { token } }', undefined, stack.adminToken)), 'VALIDATION_FAILED');
    assert.equal(codeOf(await gql(gw.url, '{ verifyCycle(cycleId: "bad id!") { ok } }', undefined, stack.adminToken)), 'VALIDATION_FAILED');
    assert.equal(codeOf(await gql(gw.url, '{ verifyCycle(cycleId: "nope") { ok } }', undefined, stack.adminToken)), 'NOT_FOUND');
  });

  it('a command to a service that is not running comes back with its NATS code, and the caller is the actor', async () => {
    const r = await gql(gw.url, 'mutation { approveCycle(cycleId: "c1") { commandId } }', undefined, stack.adminToken);
    assert.equal(codeOf(r), 'SERVICE_UNAVAILABLE', JSON.stringify(r));
    assert.doesNotMatch(JSON.stringify(r), /at .*\.js:\d+/, 'no stack trace');
  });

  describe('query bombs are refused with their code', () => {
    const field = (n: number) => Array.from({ length: n }, () => 'status').join(' ');
    const codes = (r: { errors?: Array<{ extensions?: { code?: string } }> }) => (r.errors ?? []).map((e) => e.extensions?.code);
    const bombs: Array<[string, string, string]> = [
      // Fragments spreading fragments: 14 levels of services → deeper than the limit of 10.
      ['deep nesting', `{ health { ...F0 } } ${Array.from({ length: 14 }, (_, i) => `fragment F${i} on Health { services { service } ${i < 13 ? `...F${i + 1}` : ''} }`).join(' ')}`, 'QUERY_TOO_DEEP'],
      ['alias flood', `{ ${Array.from({ length: 50 }, (_, i) => `a${i}: health { status }`).join(' ')} }`, 'TOO_MANY_ALIASES'],
      ['field duplication', `{ health { ${field(3000)} } }`, 'TOO_MANY_TOKENS'],
      ['huge token count', `{ health { status } ${'__typename '.repeat(5000)} }`, 'TOO_MANY_TOKENS'],
      ['directive overload', `{ health { status ${'@include(if: true) '.repeat(50)} } }`, 'TOO_MANY_DIRECTIVES'],
      // One fragment spread 500 times: few tokens, but each spread is costed.
      ['cost over the limit', `{ health { services { ${'...S '.repeat(500)} } } } fragment S on ServiceHealth { service status pid uptimeSeconds version error checks { name ok detail } }`, 'QUERY_TOO_COSTLY'],
      ['introspection when off', '{ __schema { types { name } } }', 'INTROSPECTION_DISABLED'],
      ['__type when off', '{ __type(name: "Query") { name } }', 'INTROSPECTION_DISABLED'],
    ];
    for (const [name, query, code] of bombs) {
      it(name, async () => {
        const r = await gql(gw.url, query, undefined, stack.adminToken);
        assert.ok(codes(r).includes(code), `${code} expected: ${JSON.stringify(r).slice(0, 500)}`);
        assert.equal(r.data ?? null, null, 'nothing ran');
      });
    }

    it('queries within the limits pass (the limits are not too tight for real use)', async () => {
      const ok = await gql(gw.url, `{ a: health { status services { service status checks { name ok } } } b: health { status } }`, undefined, stack.adminToken);
      assert.equal(ok.errors, undefined, JSON.stringify(ok));
      const dup = await gql(gw.url, `{ health { ${field(300)} } }`, undefined, stack.adminToken);
      assert.equal(dup.errors, undefined, JSON.stringify(dup).slice(0, 300));
    });

    it('unauthenticated bombs are refused before anything runs', async () => {
      const r = await gql(gw.url, `{ ${Array.from({ length: 50 }, (_, i) => `a${i}: health { status }`).join(' ')} }`);
      assert.equal(codeOf(r), 'TOO_MANY_ALIASES');
    });

    it('batched array (batching off)', async () => {
      const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminToken}` }, body: JSON.stringify([{ query: '{ health { status } }' }, { query: '{ health { status } }' }]) });
      const body = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      assert.equal(body.errors?.[0]?.extensions?.code, 'BATCHING_DISABLED', JSON.stringify(body));
      assert.ok(!('data' in body) || (body as { data?: unknown }).data === null);
    });

    it('oversized body', async () => {
      const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ health { status } } # ${'x'.repeat(200_000)}` }) });
      assert.equal(res.status, 413);
      const body = (await res.json()) as { errors: Array<{ extensions: { code: string } }> };
      assert.equal(body.errors[0]!.extensions.code, 'PAYLOAD_TOO_LARGE');
    });

    it('errors never carry a stack trace', async () => {
      const r = await gql(gw.url, '{ nope }', undefined, stack.adminToken);
      assert.equal(codeOf(r), 'GRAPHQL_VALIDATION_FAILED');
      assert.doesNotMatch(JSON.stringify(r), /stack|\.js:\d+/);
    });
  });

  describe('configurable: introspection on, a tight rate limit', () => {
    let open: RunningGateway;
    before(async () => {
      open = await stack.startGateway({ introspection: true, rateLimitPerMinute: 5 });
    });

    it('introspection works when GATEWAY_INTROSPECTION is on', async () => {
      const r = await gql<{ __schema: { queryType: { name: string } } }>(open.url, '{ __schema { queryType { name } } }', undefined, stack.adminToken);
      assert.equal(r.data?.__schema.queryType.name, 'Query', JSON.stringify(r));
    });

    it('the rate limit refuses the request over the limit with RATE_LIMITED and Retry-After, per token', async () => {
      const other = makeToken();
      const results = [];
      for (let i = 0; i < 6; i++) results.push(await fetch(open.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminToken}` }, body: JSON.stringify({ query: '{ health { status } }' }) }));
      const last = results.at(-1)!;
      assert.equal(last.status, 429);
      assert.ok(Number(last.headers.get('retry-after')) >= 1);
      assert.equal(((await last.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code, 'RATE_LIMITED');
      // Another key (no token: the client address) has its own bucket.
      const anon = await gql(open.url, '{ health { status } }');
      assert.equal(anon.status, 200);
      void other;
    });
  });
});
