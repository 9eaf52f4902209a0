import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { NewEvent } from '@patchbay/contracts';
import type { RunningGateway } from '../gateway.js';
import type { GatewayServices } from '../context.js';
import { startTestStack, type TestStack } from '../spec-fixtures.js';
import { FanoutPubSub } from './fanout.js';

const BACKLOG = 5;

/** `p`, or a rejection after `ms` (the timer is cleared either way, so it cannot hold the process). */
async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(what())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A graphql-ws client that stops reading while a cycle's events pour in: once the kernel buffers
 * are full the gateway's sends wait, the subscriber's queue in the fan-out grows past its limit,
 * and the client gets SUBSCRIPTION_TOO_SLOW after an unbroken prefix of the events — never a gap.
 * An SSE subscriber at the same time gets every event.
 */
describe('a subscriber that falls too far behind (real gateway, graphql-ws and SSE)', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  let client: Client | undefined;
  let socket: { _socket: { pause(): void; resume(): void; destroy(): void } } | undefined;
  const abort = new AbortController();
  before(async () => {
    stack = await startTestStack({ rateLimitPerMinute: 0 });
    gw = await stack.startGateway();
    // The limit is 100,000 events in production; a small one here so a few MB of events exceed it.
    const deps = gw.app.get<{ services: GatewayServices }>(Symbol.for('patchbay.GatewayDeps'));
    (deps.services.fanout as { pubsub: FanoutPubSub }).pubsub = new FanoutPubSub(BACKLOG);
  });
  after(async () => {
    abort.abort();
    await client?.dispose();
    // Do not wait for the closing handshake of a socket that was paused (ws waits up to 30 s).
    socket?._socket.destroy();
    await stack?.close();
  });

  it('ends the slow WebSocket subscription with SUBSCRIPTION_TOO_SLOW after the events it got, in order; SSE gets all', async () => {
    const got: string[] = [];
    let refusal: { message: string; extensions?: { code?: string; details?: { backlog?: number } } } | undefined;
    const ended = new Promise<void>((resolve) => {
      client = createClient({
        url: gw.wsUrl,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${stack.adminToken}` },
        on: { connected: (s) => (socket = s as typeof socket) },
      });
      client.subscribe<{ cycleProgress: { eventId: string } }>(
        { query: 'subscription { cycleProgress(cycleId: "c-slow") { eventId data } }' },
        {
          next: (v) => got.push(v.data!.cycleProgress.eventId),
          error: (e) => {
            refusal = (e as Array<typeof refusal>)[0];
            resolve();
          },
          complete: () => resolve(),
        },
      );
    });
    const sent: string[] = [];
    let allSent = false;
    const sseIds: string[] = [];
    // The same document as the WebSocket client's: both share one execution, and the slow one must not hold the other back.
    const res = await fetch(gw.url, { method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${stack.adminToken}` }, body: JSON.stringify({ query: 'subscription { cycleProgress(cycleId: "c-slow") { eventId data } }' }) });
    const sseDone = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        const cut = buffer.lastIndexOf('\n\n');
        if (cut < 0) continue;
        for (const m of buffer.slice(0, cut).matchAll(/"eventId":"([^"]+)"/g)) sseIds.push(m[1]!);
        buffer = buffer.slice(cut + 2);
        if (allSent && sseIds.length >= sent.length) return;
      }
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500)); // both subscriptions running
    assert.ok(socket, 'connected');
    socket._socket.pause();

    const big = 'x'.repeat(20_000);
    for (let b = 0; b < 15; b++) {
      const batch: NewEvent[] = Array.from({ length: 40 }, () => ({ eventId: `slow-${randomBytes(6).toString('hex')}`, type: 'StepStarted', data: { cycleId: 'c-slow', pad: big }, actor: 'executor', correlationId: 'slow' }));
      await stack.append('cycle-c-slow', batch);
      sent.push(...batch.map((e) => e.eventId));
    }
    allSent = true;
    socket._socket.resume();
    await within(ended, 30_000, () => `no end of the subscription; got ${got.length}`);

    assert.equal(refusal?.extensions?.code, 'SUBSCRIPTION_TOO_SLOW', JSON.stringify(refusal));
    assert.equal(refusal?.extensions?.details?.backlog, BACKLOG);
    assert.ok(got.length > 0 && got.length < sent.length, `got ${got.length} of ${sent.length} before the refusal`);
    assert.deepEqual(got, sent.slice(0, got.length), 'an unbroken prefix, in order');

    await within(sseDone, 5_000, () => `SSE got ${sseIds.length} of ${sent.length}`).catch(() => undefined);
    assert.deepEqual(sseIds, sent, 'the SSE subscriber got every event');
  });
});
