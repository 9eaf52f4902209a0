import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { codeOf, gql, seedCycle, startTestStack, type TestStack } from './spec-fixtures.js';
import type { RunningGateway } from './gateway.js';
import { verifyExport } from './audit/verify-export.js';
import type { ExportManifest } from './audit/export.js';
import { EXPORT_HEADERS } from './http/audit-routes.js';

interface Ev {
  eventId: string;
  stream: string;
  revision: number;
  position: string;
  type: string;
  recordedAt: string;
}

describe('audit: history, as-of, verification and signed export', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  let auditor: string;
  let operator: string;
  before(async () => {
    stack = await startTestStack();
    gw = await stack.startGateway();
    await seedCycle(stack, 'c-audit', { finish: true });
    await seedCycle(stack, 'c-other', { finish: false });
    await stack.append('cycle-c-audit', [{ eventId: 'future-1', type: 'CycleArchivedByFutureVersion', data: { cycleId: 'c-audit' } }]);
    const mk = async (roles: string) =>
      (await gql<{ createApiToken: { token: string } }>(gw.url, `mutation { createApiToken(name: "t-${roles}", roles: [${roles}]) { token } }`, undefined, stack.adminToken)).data!.createApiToken.token;
    auditor = await mk('auditor');
    operator = await mk('operator');
  });
  after(async () => stack?.close());

  const history = async (cycleId: string, token = auditor) =>
    gql<{ cycleHistory: Ev[] }>(gw.url, 'query($c: ID!) { cycleHistory(cycleId: $c) { eventId stream revision position type recordedAt } }', { c: cycleId }, token);

  it('cycleHistory: the cycle stream and all its run streams, in global order, nothing of other cycles', async () => {
    const r = await history('c-audit');
    assert.equal(r.errors, undefined, JSON.stringify(r));
    const events = r.data!.cycleHistory;
    const streams = new Set(events.map((e) => e.stream));
    assert.deepEqual([...streams].sort(), ['cycle-c-audit', 'run-c-audit.db-1', 'run-c-audit.web-1']);
    const positions = events.map((e) => BigInt(e.position));
    assert.deepEqual(positions, [...positions].sort((a, b) => (a < b ? -1 : 1)), 'ordered by global position');
    assert.equal(events.length, 13 + 4 * 2, 'every event of the cycle and its runs');
    assert.equal(events[0]!.type, 'CycleRequested');
    assert.equal(events.at(-1)!.type, 'CycleArchivedByFutureVersion');
    assert.equal(codeOf(await history('c-audit', operator)), 'FORBIDDEN', 'operators are not auditors');
    assert.equal(codeOf(await history('missing')), 'NOT_FOUND');
  });

  it('cycleAsOf: the state rebuilt at an event id and at a time; unknown event types are reported, not fatal', async () => {
    const events = (await history('c-audit')).data!.cycleHistory;
    const q = 'query($c: ID!, $at: DateTime, $e: ID) { cycleAsOf(cycleId: $c, at: $at, eventId: $e) { status approvals waves { index status succeeded failed } endpoints { endpointId groupId state step } endpointsByState { state count } eventCount lastEventId unknownEventTypes } }';
    const started = events.find((e) => e.type === 'StepStarted')!;
    const mid = await gql<{ cycleAsOf: { status: string; eventCount: number; lastEventId: string; endpoints: Array<{ endpointId: string; state: string; groupId: string }>; waves: Array<{ status: string }> } }>(gw.url, q, { c: 'c-audit', e: started.eventId }, auditor);
    assert.equal(mid.errors, undefined, JSON.stringify(mid));
    assert.equal(mid.data!.cycleAsOf.status, 'running');
    assert.equal(mid.data!.cycleAsOf.lastEventId, started.eventId);
    assert.equal(mid.data!.cycleAsOf.eventCount, events.indexOf(started) + 1);
    assert.equal(mid.data!.cycleAsOf.waves[0]!.status, 'released');
    const web = mid.data!.cycleAsOf.endpoints.find((e) => e.endpointId === started.stream.split('.')[1]);
    assert.equal(web?.state, 'running');
    const end = await gql<{ cycleAsOf: { status: string; endpointsByState: Array<{ state: string; count: number }>; unknownEventTypes: string[]; waves: Array<{ status: string; failed: number }> } }>(gw.url, q, { c: 'c-audit', at: new Date(Date.now() + 60_000).toISOString() }, auditor);
    assert.equal(end.data!.cycleAsOf.status, 'completed');
    assert.deepEqual(Object.fromEntries(end.data!.cycleAsOf.endpointsByState.map((s) => [s.state, s.count])), { succeeded: 1, failed: 1 });
    assert.deepEqual(end.data!.cycleAsOf.unknownEventTypes, ['CycleArchivedByFutureVersion']);
    assert.equal(end.data!.cycleAsOf.waves[0]!.status, 'completed');
    const before = await gql<{ cycleAsOf: { status: string; eventCount: number } }>(gw.url, q, { c: 'c-audit', at: '2000-01-01T00:00:00Z' }, auditor);
    assert.deepEqual(before.data!.cycleAsOf, { ...before.data!.cycleAsOf, status: 'unknown', eventCount: 0 });
    assert.equal(codeOf(await gql(gw.url, q, { c: 'c-audit' }, auditor)), 'VALIDATION_FAILED', 'neither at nor eventId');
    assert.equal(codeOf(await gql(gw.url, q, { c: 'c-audit', at: 'yesterday' }, auditor)), 'VALIDATION_FAILED', 'not a DateTime');
    assert.equal(codeOf(await gql(gw.url, q, { c: 'c-audit', e: 'no-such-event' }, auditor)), 'NOT_FOUND');
  });

  it('export over HTTP: JSON Lines and CSV, digest and Ed25519 signature verify with the public key; a tampered line does not', async () => {
    const pem = await (await fetch(new URL('/audit/public-key', gw.url))).text();
    const unauth = await fetch(new URL('/audit/cycles/c-audit/export.jsonl', gw.url));
    assert.equal(unauth.status, 401);
    const forbidden = await fetch(new URL('/audit/cycles/c-audit/export.jsonl', gw.url), { headers: { authorization: `Bearer ${operator}` } });
    assert.equal(forbidden.status, 403);
    for (const format of ['jsonl', 'csv'] as const) {
      const res = await fetch(new URL(`/audit/cycles/c-audit/export.${format}`, gw.url), { headers: { authorization: `Bearer ${auditor}` } });
      assert.equal(res.status, 200);
      const content = await res.text();
      const manifest = JSON.parse(Buffer.from(res.headers.get(EXPORT_HEADERS.manifest)!, 'base64').toString()) as ExportManifest;
      const signature = res.headers.get(EXPORT_HEADERS.signature)!;
      assert.equal(manifest.sha256, createHash('sha256').update(content).digest('hex'));
      assert.equal(manifest.events, 21);
      assert.deepEqual(verifyExport(content, manifest, signature, pem), { ok: true, problems: [] });
      const tampered = content.replace('"alice"', '"mallory"');
      assert.notEqual(tampered, content);
      const verdict = verifyExport(tampered, manifest, signature, pem);
      assert.equal(verdict.ok, false);
      assert.ok(verdict.problems.some((p) => p.code === 'DIGEST_MISMATCH'));
      if (format === 'jsonl') {
        // Even with a forged digest (and so a bad signature), the edited line breaks its stream's chain.
        const forged = { ...manifest, sha256: createHash('sha256').update(tampered).digest('hex') };
        const codes = verifyExport(tampered, forged, signature, pem).problems.map((p) => p.code).sort();
        assert.deepEqual(codes, ['BAD_SIGNATURE', 'CHAIN_BROKEN']);
      } else {
        assert.match(content.split('\r\n')[0]!, /^position,stream,revision,eventId,type/);
      }
    }
    const missing = await fetch(new URL('/audit/cycles/nope/export.csv', gw.url), { headers: { authorization: `Bearer ${auditor}` } });
    assert.equal(missing.status, 404);
  });

  it('cycleExport over GraphQL gives the same signed content', async () => {
    const r = await gql<{ cycleExport: { content: string; manifest: ExportManifest; signature: string }; auditPublicKey: { pem: string; keyId: string } }>(
      gw.url,
      '{ cycleExport(cycleId: "c-audit", format: jsonl) { content manifest signature } auditPublicKey { pem keyId } }',
      undefined,
      auditor,
    );
    assert.equal(r.errors, undefined, JSON.stringify(r));
    assert.equal(r.data!.cycleExport.manifest.keyId, r.data!.auditPublicKey.keyId);
    assert.ok(verifyExport(r.data!.cycleExport.content, r.data!.cycleExport.manifest, r.data!.cycleExport.signature, r.data!.auditPublicKey.pem).ok);
  });

  it('verifyCycle: intact chains pass; one byte edited in the SQLite file is found (stream, revision, event id, reason)', async () => {
    const q = '{ verifyCycle(cycleId: "c-audit") { ok streams { stream events ok } firstBroken { stream revision eventId reason } } }';
    const good = await gql<{ verifyCycle: { ok: boolean; streams: Array<{ ok: boolean }>; firstBroken: null } }>(gw.url, q, undefined, auditor);
    assert.equal(good.data?.verifyCycle.ok, true, JSON.stringify(good));
    assert.equal(good.data!.verifyCycle.streams.length, 3);
    const events = (await history('c-audit')).data!.cycleHistory;
    const target = events.find((e) => e.stream === 'run-c-audit.db-1' && e.type === 'StepSucceeded')!;
    const raw = new DatabaseSync(join(stack.dir, 'events.db'));
    try {
      const row = raw.prepare('SELECT data FROM events WHERE event_id = ?').get(target.eventId) as { data: string };
      const edited = row.data.replace('"patch"', '"pbtch"');
      assert.equal(edited.length, row.data.length, 'one byte changed');
      raw.prepare('UPDATE events SET data = ? WHERE event_id = ?').run(edited, target.eventId);
    } finally {
      raw.close();
    }
    const bad = await gql<{ verifyCycle: { ok: boolean; firstBroken: { stream: string; revision: number; eventId: string; reason: string } } }>(gw.url, q, undefined, auditor);
    assert.equal(bad.data?.verifyCycle.ok, false);
    assert.deepEqual(bad.data!.verifyCycle.firstBroken, { stream: 'run-c-audit.db-1', revision: target.revision, eventId: target.eventId, reason: 'content does not match its hash (edited)' });
    const other = await gql<{ verifyCycle: { ok: boolean } }>(gw.url, '{ verifyCycle(cycleId: "c-other") { ok } }', undefined, auditor);
    assert.equal(other.data?.verifyCycle.ok, true, 'other cycles are untouched');
  });
});
