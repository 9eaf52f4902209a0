import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { codeOf, gql, seedCycle, startTestStack, type TestStack } from './spec-fixtures.js';
import type { RunningGateway } from './gateway.js';
import { SIGNATURE_HEADER, verifyWebhookSignature } from './webhooks/signature.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP receiver: answers `statusFor(n)` to its n-th request (1-based). */
async function receiver(statusFor: (n: number) => number): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(statusFor(received.length)).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const until = async (what: string, check: () => Promise<boolean>, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
};

interface Delivery {
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  log: Array<{ attempt: number; status: number | null; at: string }>;
}

describe('ITSM webhooks: signed CloudEvents, retries with backoff, dead letters, delivery log', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  const closers: Array<() => Promise<void>> = [];
  before(async () => {
    stack = await startTestStack({ webhookMaxAttempts: 4, webhookBackoffMs: 100 });
    gw = await stack.startGateway();
  });
  after(async () => {
    for (const c of closers) await c();
    await stack?.close();
  });

  const create = async (input: Record<string, unknown>, token = stack.adminToken) =>
    gql<{ createWebhookSubscription: { subscription: { id: string; eventTypes: string[] }; secret: string } }>(
      gw.url,
      'mutation($i: WebhookSubscriptionInput!) { createWebhookSubscription(input: $i) { subscription { id url eventTypes groups } secret } }',
      { i: input },
      token,
    );
  const deliveries = async (id: string) => (await gql<{ webhookDeliveries: Delivery[] }>(gw.url, 'query($id: ID!) { webhookDeliveries(subscriptionId: $id) { eventId eventType status attempts lastStatus log { attempt status at } } }', { id }, stack.adminToken)).data!.webhookDeliveries;

  it('a receiver failing twice gets each matching event on the third attempt, signed, as a CloudEvent; one always failing is dead-lettered', async () => {
    const flaky = await receiver((n) => (n <= 2 ? 503 : 204));
    const down = await receiver(() => 500);
    closers.push(flaky.close, down.close);
    const sub = await create({ url: flaky.url, eventTypes: ['CycleStarted'] });
    assert.equal(sub.errors, undefined, JSON.stringify(sub));
    const dead = await create({ url: down.url, eventTypes: ['CycleApproved'], groups: ['db'], secret: 'a-shared-secret-of-the-itsm' });
    const ignored = await create({ url: down.url, eventTypes: ['CycleApproved'], groups: ['no-such-group'] });
    const { id, subscription } = { id: sub.data!.createWebhookSubscription.subscription.id, subscription: sub.data!.createWebhookSubscription };
    await seedCycle(stack, 'c-hook');
    await until('the flaky delivery', async () => (await deliveries(id)).some((d) => d.status === 'delivered'));
    const [d] = await deliveries(id);
    assert.equal(d!.eventType, 'CycleStarted');
    assert.equal(d!.attempts, 3);
    assert.deepEqual(d!.log.map((l) => l.status), [503, 503, 204]);
    assert.equal(flaky.received.length, 3);
    const last = flaky.received[2]!;
    assert.equal(last.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
    assert.ok(verifyWebhookSignature(subscription.secret, last.body, String(last.headers[SIGNATURE_HEADER])), 'HMAC verifies with the secret');
    assert.equal(verifyWebhookSignature('another-secret-entirely', last.body, String(last.headers[SIGNATURE_HEADER])), false);
    assert.equal(verifyWebhookSignature(subscription.secret, last.body, String(last.headers[SIGNATURE_HEADER]), Math.floor(Date.now() / 1000) + 3600), false, 'a replay an hour later is refused');
    const ce = JSON.parse(last.body) as Record<string, unknown>;
    assert.equal(ce['specversion'], '1.0');
    assert.equal(ce['type'], 'io.patchbay.CycleStarted');
    assert.equal(ce['subject'], 'cycle-c-hook');
    assert.equal((ce['data'] as { cycleId: string }).cycleId, 'c-hook');
    assert.equal(ce['id'], d!.eventId);

    const deadId = dead.data!.createWebhookSubscription.subscription.id;
    await until('the dead letter', async () => (await deliveries(deadId)).some((x) => x.status === 'dead'), 20_000);
    const [dl] = await deliveries(deadId);
    assert.equal(dl!.attempts, 4, 'GATEWAY_WEBHOOK_MAX_ATTEMPTS');
    assert.equal(dl!.lastStatus, 500);
    assert.equal(dl!.eventType, 'CycleApproved');
    assert.equal((await deliveries(ignored.data!.createWebhookSubscription.subscription.id)).length, 0, 'group filter: a cycle without that group is not delivered');
    // Exponential backoff: the gaps between attempts are at least 100, 200, 400 ms.
    const at = dl!.log.map((l) => Date.parse(l.at));
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    gaps.forEach((g, i) => assert.ok(g >= 100 * 2 ** i - 5, `gap ${i + 1}: ${g} ms`));
    assert.equal(down.received.filter((r) => JSON.parse(r.body).type === 'io.patchbay.CycleApproved').length, 4);
  });

  it('subscriptions are listed, deleted, admin-only, and bad input is refused with a code', async () => {
    const list = await gql<{ webhookSubscriptions: Array<{ id: string; deletedAt: string | null }> }>(gw.url, '{ webhookSubscriptions { id deletedAt } }', undefined, stack.adminToken);
    assert.ok(list.data!.webhookSubscriptions.length >= 3);
    const id = list.data!.webhookSubscriptions[0]!.id;
    const del = await gql<{ deleteWebhookSubscription: { deletedAt: string } }>(gw.url, 'mutation($id: ID!) { deleteWebhookSubscription(id: $id) { deletedAt } }', { id }, stack.adminToken);
    assert.ok(del.data?.deleteWebhookSubscription.deletedAt);
    assert.equal(codeOf(await create({ url: 'ftp://example.invalid/x' })), 'VALIDATION_FAILED');
    assert.equal(codeOf(await create({ url: 'http://127.0.0.1:1/x', eventTypes: ['not a type'] })), 'VALIDATION_FAILED');
    assert.equal(codeOf(await create({ url: 'http://127.0.0.1:1/x', secret: 'short' })), 'VALIDATION_FAILED');
    assert.equal(codeOf(await gql(gw.url, '{ webhookDeliveries(subscriptionId: "nope") { id } }', undefined, stack.adminToken)), 'NOT_FOUND');
    const viewer = (await gql<{ createApiToken: { token: string } }>(gw.url, 'mutation { createApiToken(name: "v", roles: [viewer, operator]) { token } }', undefined, stack.adminToken)).data!.createApiToken.token;
    assert.equal(codeOf(await create({ url: 'http://127.0.0.1:1/x' }, viewer)), 'FORBIDDEN');
  });
});
