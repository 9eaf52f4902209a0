/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON, checked by value */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandSubject, HEALTH_COMMAND } from '@patchbay/contracts';
import { codeOf, gql, startTestStack, type TestStack } from './spec-fixtures.js';
import type { RunningGateway } from './gateway.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const policyEntry = join(__dirname, '..', '..', 'services', 'policy', 'dist', 'main.js');

describe('policyWindows: the next maintenance windows as the real policy service computes them', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  let policy: ChildProcess | undefined;
  let viewer = '';
  const q = (query: string, variables?: Record<string, unknown>, token = stack.adminToken) => gql<any>(gw.url, query, variables, token);
  const WINDOWS = 'query($p: ID!, $from: DateTime, $n: Int) { policyWindows(policyId: $p, from: $from, count: $n) { windowIndex start end timezone localStart localEnd } }';

  before(async () => {
    assert.ok(existsSync(policyEntry), 'build services/policy first (npx tsc -b services/policy)');
    stack = await startTestStack();
    const env = { ...process.env, NATS_URL: stack.nats.url, EVENTSTORE_SQLITE_PATH: join(stack.dir, 'events.db'), PATCHBAY_DATA_DIR: stack.dir, LOG_LEVEL: 'warn' };
    policy = spawn(process.execPath, [policyEntry], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    for (let until = Date.now() + 20_000; ; await sleep(100)) {
      const h = await stack.bus.request<{ status: string }>(commandSubject('policy', HEALTH_COMMAND), { commandId: `h-${Date.now()}`, actor: 'spec', payload: {} }, { timeoutMs: 2000 }).catch(() => undefined);
      if (h?.status === 'ok') break;
      if (Date.now() > until) throw new Error('policy service not healthy');
    }
    gw = await stack.startGateway();
    viewer = (await q('mutation { createApiToken(name: "vic", roles: [viewer]) { token } }')).data.createApiToken.token;
    const wf = await q('mutation($t: JSON!) { saveWorkflowTemplate(template: $t) { id } }', { t: { id: 'standard', phases: { patch: [{ id: 'patch', type: 'patch', params: { scope: 'all' } }] } } });
    assert.equal(wf.errors, undefined, JSON.stringify(wf.errors));
    assert.equal((await q('mutation { defineReferenceGroup(group: { id: "web", tier: "high", selector: "role=web" }) { id } }')).data?.defineReferenceGroup.id, 'web');
    // Saturdays 02:00 in Paris for 4 hours; Paris moves to summer time on Sunday 29 March 2026.
    const p = { id: 'weekend', groups: ['web'], workflow: { id: 'standard', version: 1 }, windows: [{ cron: '0 2 * * 6', durationMinutes: 240, timezone: 'Europe/Paris', blackoutDates: ['2026-03-28'] }] };
    const r = await q('mutation($p: JSON!) { definePolicy(policy: $p) { id } }', { p });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  });

  after(async () => {
    if (policy && policy.exitCode === null) {
      policy.kill('SIGTERM');
      await Promise.race([new Promise((r) => policy!.once('exit', r)), sleep(5000).then(() => policy!.kill('SIGKILL'))]);
    }
    await stack?.close();
  });

  it('answers the occurrences in start order, with the wall clock in the window zone across a DST change, blackout skipped', async () => {
    const r = await q(WINDOWS, { p: 'weekend', from: '2026-03-20T00:00:00Z', n: 3 }, viewer);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.deepEqual(r.data.policyWindows, [
      { windowIndex: 0, start: '2026-03-21T01:00:00.000Z', end: '2026-03-21T05:00:00.000Z', timezone: 'Europe/Paris', localStart: '2026-03-21T02:00:00+01:00', localEnd: '2026-03-21T06:00:00+01:00' },
      { windowIndex: 0, start: '2026-04-04T00:00:00.000Z', end: '2026-04-04T04:00:00.000Z', timezone: 'Europe/Paris', localStart: '2026-04-04T02:00:00+02:00', localEnd: '2026-04-04T06:00:00+02:00' },
      { windowIndex: 0, start: '2026-04-11T00:00:00.000Z', end: '2026-04-11T04:00:00.000Z', timezone: 'Europe/Paris', localStart: '2026-04-11T02:00:00+02:00', localEnd: '2026-04-11T06:00:00+02:00' },
    ]);
  });

  it('a window open at `from` counts', async () => {
    const r = await q(WINDOWS, { p: 'weekend', from: '2026-03-21T03:00:00Z', n: 1 }, viewer);
    assert.equal(r.data.policyWindows[0].start, '2026-03-21T01:00:00.000Z');
  });

  it('refuses bad input and unknown policies with stable codes, and callers without a token', async () => {
    assert.equal(codeOf(await q(WINDOWS, { p: 'weekend', n: 0 }, viewer)), 'VALIDATION_FAILED');
    assert.equal(codeOf(await q(WINDOWS, { p: 'weekend', n: 101 }, viewer)), 'VALIDATION_FAILED');
    assert.equal(codeOf(await q(WINDOWS, { p: 'nope' }, viewer)), 'POLICY_NOT_FOUND');
    assert.equal(codeOf(await gql<any>(gw.url, WINDOWS, { p: 'weekend' })), 'UNAUTHENTICATED');
  });
});
