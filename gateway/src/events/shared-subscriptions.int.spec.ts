import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { NewEvent } from '@patchbay/contracts';
import type { RunningGateway } from '../gateway.js';
import type { GatewayServices } from '../context.js';
import { startTestStack, type TestStack } from '../spec-fixtures.js';
import { sseData } from '@patchbay/testing';

const EVENTS = 300;
const A = 'subscription { cycleProgress(cycleId: "c-share") { eventId type } }';
const B = 'subscription { cycleProgress(cycleId: "c-share") { eventId stream } }';
const C = 'subscription { cycleProgress(cycleId: "c-share-other") { eventId } }';

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Subscribers asking the same thing share one execution per event: the gateway's fan-out then has
 * one subscriber per distinct (document, variables, roles), not one per client, and every client
 * still gets every event in order, over SSE and WebSocket alike.
 */
describe('shared subscriptions (real gateway, graphql-ws and SSE)', () => {
  let stack: TestStack;
  let gw: RunningGateway;
  let services: GatewayServices;
  const clients: Client[] = [];
  const aborts: AbortController[] = [];
  before(async () => {
    stack = await startTestStack({ rateLimitPerMinute: 0 });
    gw = await stack.startGateway();
    services = gw.app.get<{ services: GatewayServices }>(Symbol.for('patchbay.GatewayDeps')).services;
  });
  after(async () => {
    aborts.forEach((a) => a.abort());
    await Promise.all(clients.map((c) => c.dispose()));
    await stack?.close();
  });

  const ws = (query: string) => {
    const client = createClient({ url: gw.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${stack.adminToken}` } });
    clients.push(client);
    const ids: string[] = [];
    let stop!: () => void;
    client.subscribe<Record<string, { eventId: string }>>({ query }, { next: (v) => ids.push(Object.values(v.data!)[0]!.eventId), error: (e) => ids.push(`error ${JSON.stringify(e)}`), complete: () => undefined });
    const unsubscribe = new Promise<void>((r) => (stop = r));
    void unsubscribe.then(() => client.dispose());
    return { ids, stop };
  };
  const sse = (query: string) => {
    const abort = new AbortController();
    aborts.push(abort);
    const ids: string[] = [];
    void (async () => {
      const res = await fetch(gw.url, { method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${stack.adminToken}` }, body: JSON.stringify({ query }) });
      for await (const payload of sseData<{ data: Record<string, { eventId: string }> }>(res.body)) ids.push(Object.values(payload.data)[0]!.eventId);
    })().catch(() => undefined);
    return { ids, stop: () => abort.abort() };
  };

  it('twenty clients of one document, two of another and two of another cycle: three executions per event, every client gets every event in order', async () => {
    const baseline = services.fanout.pubsub.subscribers;
    const a = [...Array.from({ length: 10 }, () => ws(A)), ...Array.from({ length: 10 }, () => sse(A))];
    const b = [ws(B), sse(B)];
    const c = [ws(C), sse(C)];
    // Every client's subscription is running once a probe event reaches it: probe until all have one.
    await until('three shared subscriptions', () => services.fanout.pubsub.subscribers === baseline + 3);
    for (let p = 0; ![...a, ...b, ...c].every((s) => s.ids.length >= 1); p++) {
      if (p > 100) throw new Error(`clients without a probe: ${[...a, ...b, ...c].filter((s) => s.ids.length === 0).length}`);
      await stack.append('cycle-c-share', [{ eventId: `share-probe-${p}`, type: 'CycleRequested', data: { cycleId: 'c-share' } }]);
      await stack.append('cycle-c-share-other', [{ eventId: `share-other-probe-${p}`, type: 'CycleRequested', data: { cycleId: 'c-share-other' } }]);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(services.fanout.pubsub.subscribers, baseline + 3, '24 clients, 3 distinct subscriptions: 3 subscribers of the fan-out');
    for (const s of [...a, ...b, ...c]) s.ids.length = 0;

    const sent: string[] = [];
    for (let k = 0; k < EVENTS; k += 50) {
      const batch: NewEvent[] = Array.from({ length: 50 }, (_, j) => ({ eventId: `share-${k + j}`, type: 'StepStarted', data: { cycleId: 'c-share' }, actor: 'executor' }));
      await stack.append('cycle-c-share', batch);
      sent.push(...batch.map((e) => e.eventId));
    }
    await until('every client of the cycle got every event', () => [...a, ...b].every((s) => s.ids.length >= sent.length));
    for (const s of [...a, ...b]) assert.deepEqual(s.ids, sent, 'every event once, in order');
    for (const s of c) assert.deepEqual(s.ids, [], 'the other cycle\'s clients see none of them');

    // Clients leaving: the shared subscription goes on for the rest, and stops with the last one.
    for (const s of a.slice(0, 19)) s.stop();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(services.fanout.pubsub.subscribers, baseline + 3, 'one client of A is left: its shared subscription still runs');
    await stack.append('cycle-c-share', [{ eventId: 'share-last', type: 'StepStarted', data: { cycleId: 'c-share' }, actor: 'executor' }]);
    await until('the remaining client got the last event', () => a[19]!.ids.at(-1) === 'share-last');
    a[19]!.stop();
    await until('the shared subscription of A stopped with its last client', () => services.fanout.pubsub.subscribers === baseline + 2);
  });

  it('a new client joining a running shared subscription gets the events from then on', async () => {
    const first = ws(A);
    await until('first subscribed', () => services.fanout.pubsub.subscribers >= 1);
    await new Promise((r) => setTimeout(r, 200));
    await stack.append('cycle-c-share', [{ eventId: 'join-1', type: 'StepStarted', data: { cycleId: 'c-share' }, actor: 'executor' }]);
    await until('first got join-1', () => first.ids.includes('join-1'));
    const before = services.fanout.pubsub.subscribers;
    const late = sse(A);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(services.fanout.pubsub.subscribers, before, 'the late client joined the running subscription');
    await stack.append('cycle-c-share', [{ eventId: 'join-2', type: 'StepStarted', data: { cycleId: 'c-share' }, actor: 'executor' }]);
    await until('both got join-2', () => first.ids.includes('join-2') && late.ids.includes('join-2'));
    assert.deepEqual(late.ids, ['join-2']);
    first.stop();
    late.stop();
  });

  it('an SSE client that goes away leaves: the last one stops the shared subscription', async () => {
    const D = 'subscription { cycleProgress(cycleId: "c-share-leave") { eventId } }';
    // Clients of the tests before leave in the background: count from when the number holds still.
    let before = services.fanout.pubsub.subscribers;
    for (let still = 0; still < 10; ) {
      await new Promise((r) => setTimeout(r, 50));
      const now = services.fanout.pubsub.subscribers;
      still = now === before ? still + 1 : 0;
      before = now;
    }
    const one = sse(D);
    const two = sse(D);
    await until('both subscribed', () => services.fanout.pubsub.subscribers === before + 1);
    await new Promise((r) => setTimeout(r, 200));
    await stack.append('cycle-c-share-leave', [{ eventId: 'leave-1', type: 'StepStarted', data: { cycleId: 'c-share-leave' }, actor: 'executor' }]);
    await until('both got leave-1', () => one.ids.includes('leave-1') && two.ids.includes('leave-1'));
    one.stop();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(services.fanout.pubsub.subscribers, before + 1, 'one member left, the other keeps it running');
    await stack.append('cycle-c-share-leave', [{ eventId: 'leave-2', type: 'StepStarted', data: { cycleId: 'c-share-leave' }, actor: 'executor' }]);
    await until('the remaining client got leave-2', () => two.ids.includes('leave-2'));
    two.stop();
    await until('the shared subscription stopped', () => services.fanout.pubsub.subscribers === before);
  });
});
