import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordedEvent } from '@patchbay/contracts';
import type { NatsBus } from '@patchbay/messaging';
import { EventFanout, FanoutPubSub } from './fanout.js';

let pos = 0n;
const ev = (stream: string, type = 'StepStarted'): RecordedEvent => ({
  type,
  data: {},
  position: ++pos,
  metadata: { eventId: `e-${pos}`, stream, revision: 0, correlationId: 'c', causationId: 'c', actor: 'a', recordedAt: '2026-01-01T00:00:00.000Z', schemaVersion: 1, prevHash: '0'.repeat(64), hash: '0'.repeat(64) },
});

/** publish() never touches the bus: the fan-out's delivery side alone. */
const fanout = (maxSubscriberBacklog?: number): EventFanout => new EventFanout(undefined as unknown as NatsBus, undefined, { maxSubscriberBacklog });

describe('event fan-out: delivery to subscribers in this replica', () => {
  it('a subscriber that reads nothing while 5,000 events pass gets all of them afterwards, in order', async () => {
    const f = fanout();
    const all = f.pubsub.subscribe('patch-event');
    const cycle = f.pubsub.subscribe('cycle', 'c1');
    const sent: RecordedEvent[] = [];
    for (let i = 0; i < 5000; i++) {
      const e = ev(i % 2 ? 'run-c1.web-1' : 'cycle-c1');
      sent.push(e);
      f.publish(e); // threw RepeaterOverflowError from the 1,025th queued event before
    }
    for (const it of [all, cycle]) {
      const got: bigint[] = [];
      for (let i = 0; i < 5000; i++) got.push((await it.next()).value!.position);
      assert.deepEqual(got, sent.map((e) => e.position));
      await it.return!();
    }
    assert.equal(f.pubsub.subscribers, 0);
  });

  it('cycleProgress gets only its cycle; token events reach nobody', async () => {
    const f = fanout();
    const c1 = f.pubsub.subscribe('cycle', 'c1');
    const all = f.pubsub.subscribe('patch-event');
    f.publish(ev('cycle-c2'));
    f.publish(ev('api-token-0123456789ab', 'ApiTokenIssued'));
    const mine = ev('run-c1.db-1');
    f.publish(mine);
    assert.equal((await c1.next()).value!.position, mine.position);
    assert.equal((await all.next()).value!.metadata.stream, 'cycle-c2');
    assert.equal((await all.next()).value!.position, mine.position, 'the token event was never queued');
  });

  it('a subscriber too far behind ends with SUBSCRIPTION_TOO_SLOW and is unregistered; the others go on', async () => {
    const f = fanout(100);
    const slow = f.pubsub.subscribe('patch-event');
    const fast = f.pubsub.subscribe('patch-event');
    for (let i = 0; i < 101; i++) {
      f.publish(ev('cycle-c1'));
      await fast.next();
    }
    assert.equal(f.pubsub.subscribers, 1, 'the slow one is gone');
    await assert.rejects(slow.next(), (err: { code?: string; details?: { backlog?: number } }) => err.code === 'SUBSCRIPTION_TOO_SLOW' && err.details?.backlog === 100);
    assert.equal((await slow.next()).done, true, 'and then it is over');
    const later = ev('cycle-c1');
    f.publish(later);
    assert.equal((await fast.next()).value!.position, later.position);
  });

  it('return() ends a waiting read and unregisters; 200 subscribers of one cycle raise no listener warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const ps = new FanoutPubSub();
      const subs = Array.from({ length: 200 }, () => ps.subscribe('cycle', 'c1'));
      const waiting = subs[0]!.next();
      await subs[0]!.return!();
      assert.equal((await waiting).done, true);
      assert.equal(ps.subscribers, 199);
      const e = ev('cycle-c1');
      ps.publish('cycle', 'c1', e);
      for (const s of subs.slice(1)) assert.equal((await s.next()).value, e);
      for (const s of subs) await s.return!();
      assert.equal(ps.subscribers, 0);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.map((w) => w.name), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
