import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '@patchbay/event-store';
import type { RecordedEvent } from '@patchbay/contracts';
import { authorize, guardResolvers, OPERATION_ROLES, type Principal } from './auth/roles.js';
import { ApiTokenRegistry, bearerToken } from './auth/tokens.js';
import { applyCycleEvent, eventsAsOf, foldCycle, initialCycleState } from './audit/fold.js';
import { RateLimiter } from './http/limits.js';
import { signWebhook, verifyWebhookSignature } from './webhooks/signature.js';
import { backoffDelay } from './webhooks/dispatcher.js';
import { loadExportSigner, signExport } from './audit/export.js';
import { verifyExport } from './audit/verify-export.js';
import { loadGatewaySettings } from './settings.js';
import { toGraphQLError } from './errors.js';
import { PatchbayError } from '@patchbay/contracts';

let pos = 0n;
const ev = (type: string, data: Record<string, unknown>, stream = 'cycle-c1', at = '2026-01-01T00:00:00.000Z'): RecordedEvent => ({
  type,
  data,
  position: ++pos,
  metadata: { eventId: `${type}-${pos}`, stream, revision: 0, correlationId: 'c', causationId: 'c', actor: 'a', recordedAt: at, schemaVersion: 1, prevHash: '0'.repeat(64), hash: '0'.repeat(64) },
});

const who = (...roles: Principal['roles'][number][]): Principal => ({ tokenId: 't', name: 'n', roles, actor: 'a' });

describe('roles', () => {
  it('health is public; other operations need a token and one of their roles; admin may do anything', () => {
    assert.doesNotThrow(() => authorize('Query.health', undefined));
    assert.throws(() => authorize('Query.me', undefined), (e: PatchbayError) => e.code === 'UNAUTHENTICATED');
    assert.throws(() => authorize('Query.cycleHistory', who('viewer', 'operator')), (e: PatchbayError) => e.code === 'FORBIDDEN');
    assert.doesNotThrow(() => authorize('Query.cycleHistory', who('auditor')));
    assert.doesNotThrow(() => authorize('Mutation.approveCycle', who('approver')));
    assert.throws(() => authorize('Mutation.approveCycle', who('operator')), (e: PatchbayError) => e.code === 'FORBIDDEN');
    assert.throws(() => authorize('Mutation.createApiToken', who('operator', 'auditor', 'approver', 'viewer')), (e: PatchbayError) => e.code === 'FORBIDDEN');
    for (const op of Object.keys(OPERATION_ROLES)) assert.doesNotThrow(() => authorize(op, who('admin')));
    assert.throws(() => authorize('Query.unlisted', who('viewer')), (e: PatchbayError) => e.code === 'FORBIDDEN');
  });

  it('a root field missing from the table stops the gateway from starting', () => {
    assert.throws(() => guardResolvers([{ Query: { secretThing: () => 1 } }]), /secretThing has no entry/);
    const [guarded] = guardResolvers([{ Query: { me: () => 'ok' } }]);
    assert.throws(() => (guarded!['Query']!['me'] as (...a: unknown[]) => unknown)(null, {}, {}, null), (e: PatchbayError) => e.code === 'UNAUTHENTICATED');
  });
});

describe('API tokens (events in a SQLite store in memory)', () => {
  it('shown once, stored hashed, bootstrap only on an empty store, revocation, bad input', async () => {
    const store = SqliteEventStore.open(':memory:');
    try {
      const reg = new ApiTokenRegistry(store);
      const boot = (await reg.bootstrap(undefined))!;
      assert.match(boot, /^pbt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      assert.equal(await new ApiTokenRegistry(store).bootstrap(undefined), undefined, 'a later start creates nothing');
      assert.deepEqual((await reg.authenticate(boot)).roles, ['admin']);
      const secret = boot.split('_').slice(2).join('_');
      const stored = JSON.stringify(await store.readAll(), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
      assert.ok(!stored.includes(secret), 'the secret is not stored');
      const { token, info } = await reg.create('ci', ['operator', 'operator'], 'test');
      assert.deepEqual(info.roles, ['operator']);
      await assert.rejects(reg.authenticate(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), (e: PatchbayError) => e.code === 'UNAUTHENTICATED');
      await reg.revoke(info.id, 'test');
      await assert.rejects(reg.authenticate(token), (e: PatchbayError) => e.code === 'UNAUTHENTICATED');
      await assert.rejects(reg.create('x', ['root'], 't'), (e: PatchbayError) => e.code === 'VALIDATION_FAILED');
      await assert.rejects(reg.revoke('ffffffffffff', 't'), (e: PatchbayError) => e.code === 'NOT_FOUND');
      assert.equal(bearerToken('Bearer abc'), 'abc');
      assert.equal(bearerToken(undefined), undefined);
    } finally {
      await store.close();
    }
  });

  it('two replicas on one store agree: a token made on one works on the other; a revocation reaches it within the refresh interval', async () => {
    const store = SqliteEventStore.open(':memory:');
    try {
      const a = new ApiTokenRegistry(store, 100);
      const b = new ApiTokenRegistry(store, 100);
      await b.refresh();
      const { token, info } = await a.create('shared', ['viewer'], 'test');
      assert.equal((await b.authenticate(token)).tokenId, info.id, 'unknown id: the replica reads the store at once');
      await a.revoke(info.id, 'test');
      await new Promise((r) => setTimeout(r, 120));
      await assert.rejects(b.authenticate(token), (e: PatchbayError) => e.code === 'UNAUTHENTICATED');
      const types = (await store.readStream(`api-token-${info.id}`)).map((e) => e.type);
      assert.deepEqual(types, ['ApiTokenIssued', 'ApiTokenRevoked'], 'issuing and revoking are in the audited history');
    } finally {
      await store.close();
    }
  });

  it('PATCHBAY_ADMIN_TOKEN: registered once; a new secret for the same id replaces the old one', async () => {
    const store = SqliteEventStore.open(':memory:');
    try {
      const t1 = `pbt_0123456789ab_${'a'.repeat(43)}`;
      const t2 = `pbt_0123456789ab_${'b'.repeat(43)}`;
      assert.equal(await new ApiTokenRegistry(store).bootstrap(t1), undefined);
      assert.equal(await new ApiTokenRegistry(store).bootstrap(t1), undefined);
      assert.deepEqual((await new ApiTokenRegistry(store).authenticate(t1)).roles, ['admin']);
      await new ApiTokenRegistry(store).bootstrap(t2);
      const reg = new ApiTokenRegistry(store);
      await assert.rejects(reg.authenticate(t1), (e: PatchbayError) => e.code === 'UNAUTHENTICATED');
      assert.equal((await reg.authenticate(t2)).tokenId, '0123456789ab');
      await assert.rejects(reg.bootstrap('hunter2'), (e: PatchbayError) => e.code === 'VALIDATION_FAILED');
    } finally {
      await store.close();
    }
  });
});

describe('cycle fold', () => {
  it('status, waves and endpoint states through a cycle; unknown types are listed, never fatal', () => {
    const events = [
      ev('CycleRequested', { kind: 'manual', policyId: 'p', requestedBy: 'alice' }),
      ev('CyclePlanned', { planHash: 'h', header: { waves: [{ index: 0, name: 'canary', size: 1 }] } }),
      ev('CyclePlanPartRecorded', { endpoints: [{ endpointId: 'e1', wave: 0, groupId: 'web', tier: 'prod' }] }),
      ev('CycleApprovalRequired', { minApprovals: 2 }),
      ev('CycleApproved', { approvals: 1, required: 2 }),
      ev('SomethingNew', { x: 1 }),
      ev('CycleApproved', { approvals: 2, required: 2 }),
      ev('CycleStarted', {}),
      ev('WaveReleased', { wave: 0 }),
      ev('EndpointReleased', { endpointId: 'e1', wave: 0 }),
      ev('StepStarted', { endpointId: 'e1', stepId: 'patch' }, 'run-c1.e1'),
      ev('RunFailed', { endpointId: 'e1', stepId: 'validate', code: 'STEP_FAILED' }, 'run-c1.e1'),
      ev('CycleHalted', { code: 'ERROR_THRESHOLD' }),
    ];
    const states = events.map((_, i) => foldCycle('c1', events.slice(0, i + 1)));
    assert.equal(states[3]!.status, 'awaiting-approval');
    assert.equal(states[4]!.status, 'awaiting-approval', 'one of two approvals');
    assert.equal(states[6]!.status, 'approved');
    assert.equal(states[10]!.endpoints[0]!.state, 'running');
    assert.equal(states[10]!.endpoints[0]!.step, 'patch');
    const end = states.at(-1)!;
    assert.equal(end.status, 'halted');
    assert.equal(end.haltCode, 'ERROR_THRESHOLD');
    assert.deepEqual(end.endpoints[0], { endpointId: 'e1', wave: 0, groupId: 'web', tier: 'prod', state: 'failed', step: 'validate', code: 'STEP_FAILED' });
    assert.deepEqual(end.unknownEventTypes, ['SomethingNew']);
    assert.equal(end.eventCount, events.length);
    // Pure: the input state is untouched.
    const s0 = initialCycleState('c1');
    applyCycleEvent(s0, events[0]!);
    assert.equal(s0.status, 'unknown');
    // Malformed data is ignored field by field.
    assert.doesNotThrow(() => foldCycle('c1', [ev('CyclePlanned', { header: 'nope' }), ev('RunSucceeded', { endpointId: 42 }), { ...ev('WaveCompleted', {}), data: null }]));
    // The fold (one state changed in place) gives what event-by-event pure application gives.
    const many = [...events.slice(0, 9)];
    for (let i = 0; i < 300; i++) {
      const id = `e${i % 60}`;
      const kinds = ['EndpointReleased', 'RunStarted', 'StepStarted', 'StepSucceeded', 'RunSucceeded', 'RunFailed', 'EndpointRunFinished'];
      const type = kinds[(i * 7 + Math.floor(i / 60)) % kinds.length]!;
      many.push(ev(type, { endpointId: id, wave: 0, stepId: `s${i % 5}`, code: type === 'RunFailed' ? 'X' : undefined, outcome: 'succeeded' }, `run-c1.${id}`));
    }
    assert.deepEqual(foldCycle('c1', many), many.reduce(applyCycleEvent, initialCycleState('c1')));
  });

  it('as of a time or an event id', () => {
    const a = ev('CycleRequested', {}, 'cycle-c1', '2026-01-01T00:00:00.000Z');
    const b = ev('CycleStarted', {}, 'cycle-c1', '2026-01-02T00:00:00.000Z');
    assert.deepEqual(eventsAsOf([a, b], { time: new Date('2026-01-01T12:00:00Z') }), [a]);
    assert.deepEqual(eventsAsOf([a, b], { eventId: b.metadata.eventId }), [a, b]);
    assert.equal(eventsAsOf([a, b], { eventId: 'x' }), undefined);
  });
});

describe('limits, signatures, settings, errors', () => {
  it('rate limiter: a burst of the per-minute limit, then refusals with a wait, per key', () => {
    const rl = new RateLimiter(3);
    assert.deepEqual([rl.take('k', 0), rl.take('k', 0), rl.take('k', 0)], [0, 0, 0]);
    assert.ok(rl.take('k', 0) >= 1);
    assert.equal(rl.take('other', 0), 0);
    assert.equal(rl.take('k', 20_001), 0, 'refilled after a third of a minute');
    assert.equal(new RateLimiter(0).take('k'), 0, '0 = unlimited');
  });

  it('webhook signature: verifies, refuses another body, another secret and an old timestamp', () => {
    const t = 1_700_000_000;
    const h = signWebhook('s3cret-s3cret-s3', '{"a":1}', t);
    assert.ok(verifyWebhookSignature('s3cret-s3cret-s3', '{"a":1}', h, t + 10));
    assert.equal(verifyWebhookSignature('s3cret-s3cret-s3', '{"a":2}', h, t), false);
    assert.equal(verifyWebhookSignature('other', '{"a":1}', h, t), false);
    assert.equal(verifyWebhookSignature('s3cret-s3cret-s3', '{"a":1}', h, t + 301), false);
    assert.equal(verifyWebhookSignature('s3cret-s3cret-s3', '{"a":1}', 'garbage', t), false);
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(1000, n)), [1000, 2000, 4000, 8000]);
    assert.equal(backoffDelay(1000, 40), 3_600_000);
  });

  it('export verification: a key other than the signer is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-export-'));
    try {
      const signer = loadExportSigner(join(dir, 'k.pem'));
      assert.equal(loadExportSigner(join(dir, 'k.pem')).keyId, signer.keyId, 'the key file is reused');
      const history = { cycleId: 'c1', streams: new Map(), events: [] };
      const signed = signExport(history, 'csv', signer);
      assert.ok(verifyExport(signed.content, signed.manifest, signed.signature, signer.publicKeyPem).ok);
      const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const codes = verifyExport(signed.content, signed.manifest, signed.signature, other).problems.map((p) => p.code).sort();
      assert.deepEqual(codes, ['BAD_SIGNATURE', 'KEY_MISMATCH']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('settings: defaults, and a bad variable is CONFIG_INVALID naming it', () => {
    const s = loadGatewaySettings({});
    assert.equal(s.introspection, false);
    assert.equal(s.batchingLimit, 0);
    assert.equal(loadGatewaySettings({ GATEWAY_INTROSPECTION: 'true' }).introspection, true);
    assert.throws(() => loadGatewaySettings({ GATEWAY_MAX_DEPTH: 'deep' }), (e: PatchbayError) => e.code === 'CONFIG_INVALID' && /GATEWAY_MAX_DEPTH/.test(e.message));
    assert.throws(() => loadGatewaySettings({ PATCHBAY_ADMIN_TOKEN: 'hunter2' }), (e: PatchbayError) => e.code === 'CONFIG_INVALID' && /PATCHBAY_ADMIN_TOKEN/.test(e.message));
    assert.equal(s.readModelsNice, 10, 'the read models thread goes after the subscriber path by default');
    assert.equal(loadGatewaySettings({ GATEWAY_READ_MODELS_NICE: '0' }).readModelsNice, 0);
    for (const bad of ['20', '-1', '1.5', 'low']) assert.throws(() => loadGatewaySettings({ GATEWAY_READ_MODELS_NICE: bad }), (e: PatchbayError) => e.code === 'CONFIG_INVALID' && /GATEWAY_READ_MODELS_NICE/.test(e.message), bad);
  });

  it('errors: a PatchbayError keeps its code; anything else is INTERNAL without its message', () => {
    assert.equal(toGraphQLError(new PatchbayError('WRONG_EXPECTED_VERSION', 'x')).extensions['code'], 'WRONG_EXPECTED_VERSION');
    const masked = toGraphQLError(new Error('password=hunter2 at /secret/path.js:1'));
    assert.equal(masked.extensions['code'], 'INTERNAL');
    assert.doesNotMatch(masked.message, /hunter2/);
  });
});
