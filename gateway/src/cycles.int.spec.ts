import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commandSubject, PatchbayError, PLANNER_COMMANDS, type CommandEnvelope } from '@patchbay/contracts';
import { codeOf, gql, startTestStack, type TestStack } from './spec-fixtures.js';
import type { RunningGateway } from './gateway.js';

describe('cycle commands: forwarded over NATS with the caller as actor, the service error code kept', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  const received: CommandEnvelope[] = [];
  before(async () => {
    stack = await startTestStack();
    gw = await stack.startGateway();
    // A responder on the planner's subjects over the real nats-server, answering like the planner.
    stack.bus.serve(commandSubject('planner', PLANNER_COMMANDS.approve), (envelope) => {
      received.push(envelope);
      const payload = envelope.payload as { cycleId: string };
      if (payload.cycleId === 'own-cycle') throw new PatchbayError('REQUESTER_CANNOT_APPROVE', 'the requester of a cycle cannot approve it', { cycleId: payload.cycleId });
      return { cycleId: payload.cycleId, approvals: 1 };
    });
  });
  after(async () => stack?.close());

  it('approveCycle: the approver token is the actor; the planner refusal comes back with its code', async () => {
    const approver = (await gql<{ createApiToken: { token: string; info: { id: string } } }>(gw.url, 'mutation { createApiToken(name: "carol", roles: [approver]) { token info { id } } }', undefined, stack.adminToken)).data!.createApiToken;
    const ok = await gql<{ approveCycle: { commandId: string; result: { approvals: number } } }>(gw.url, 'mutation { approveCycle(cycleId: "c-9", comment: "fine") { commandId result } }', undefined, approver.token);
    assert.equal(ok.errors, undefined, JSON.stringify(ok));
    assert.equal(ok.data!.approveCycle.result.approvals, 1);
    assert.equal(received[0]!.actor, `token:${approver.info.id}:carol`);
    assert.deepEqual(received[0]!.payload, { cycleId: 'c-9', comment: 'fine' });
    assert.equal(received[0]!.commandId, ok.data!.approveCycle.commandId);
    const refused = await gql(gw.url, 'mutation { approveCycle(cycleId: "own-cycle") { commandId } }', undefined, approver.token);
    assert.equal(codeOf(refused), 'REQUESTER_CANNOT_APPROVE');
    assert.deepEqual(refused.errors![0]!.extensions!.details, { cycleId: 'own-cycle' });
    assert.equal(codeOf(await gql(gw.url, 'mutation { pauseCycle(cycleId: "c-9", reason: "x") { commandId } }', undefined, approver.token)), 'FORBIDDEN', 'approvers do not pause');
  });
});
