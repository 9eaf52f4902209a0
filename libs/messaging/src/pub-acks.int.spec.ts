import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, headers, RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import { NatsServer } from '@patchbay/testing';
import { PubAckError, PubAckInbox } from './pub-acks.js';

const data = (s: string) => new TextEncoder().encode(s);
const hdrs = (msgId: string, stream = 'PUBACKS') => {
  const h = headers();
  h.set('Nats-Msg-Id', msgId);
  h.set('Nats-Expected-Stream', stream);
  return h;
};
const rejection = async (p: Promise<unknown>): Promise<PubAckError> => {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PubAckError, `a PubAckError, got ${String(err)}`);
    return err;
  }
  assert.fail('the publish was acknowledged');
};

/** JetStream publishes acknowledged on one inbox, against a real nats-server. */
describe('PubAckInbox against a real nats-server', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'PUBACKS', subjects: ['acks.>'], storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window: 60_000_000_000 });
  });
  after(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('acknowledges with the stream sequence, in order for pipelined publishes, and flags a republished message id as a duplicate', async () => {
    const inbox = new PubAckInbox(nc, 5000);
    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => inbox.publish(`acks.one.${i}`, data(`m${i}`), hdrs(`id-${i}`))));
    assert.deepEqual(
      acks.map((a) => a.seq),
      acks.map((_, i) => acks[0]!.seq + i),
    );
    assert.ok(acks.every((a) => a.stream === 'PUBACKS' && !a.duplicate));
    const again = await inbox.publish('acks.one.7', data('m7'), hdrs('id-7'));
    assert.deepEqual(again, { stream: 'PUBACKS', seq: acks[7]!.seq, duplicate: true });
    assert.equal(inbox.inFlight, 0);
    inbox.close();
  });

  it('refuses with a clear code: no stream for the subject (503), the wrong stream expected, no answer in time', async () => {
    const inbox = new PubAckInbox(nc, 300);
    const none = await rejection(inbox.publish('nostream.x', data('x'), hdrs('n-1')));
    assert.equal(none.code, '503');
    const wrong = await rejection(inbox.publish('acks.two', data('x'), hdrs('w-1', 'OTHER')));
    assert.match(wrong.message, /stream/);
    assert.notEqual(wrong.code, 'TIMEOUT');
    // A plain subscriber that never answers: the server has a responder, nobody acknowledges.
    const silent = nc.subscribe('silent.x');
    const t = performance.now();
    const late = await rejection(inbox.publish('silent.x', data('x'), hdrs('s-1')));
    assert.equal(late.code, 'TIMEOUT');
    assert.ok(performance.now() - t >= 290, 'not before its deadline');
    silent.unsubscribe();
    assert.equal(inbox.inFlight, 0);
    inbox.close();
  });

  it('goes on after nats-server restarts (the inbox is subscribed again), and fails what is pending when the connection closes', async () => {
    const own = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const inbox = new PubAckInbox(own, 2000);
    const before = await inbox.publish('acks.restart.1', data('a'), hdrs('r-1'));
    await server.restart();
    let after;
    for (let i = 0; !after; i++) {
      try {
        after = await inbox.publish('acks.restart.2', data('b'), hdrs('r-2'));
      } catch (err) {
        // While the server is coming back a publish may time out or find no stream yet: retried, same id.
        if (i > 20) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.equal(after.seq, before.seq + 1);
    // Nothing answers this one before the connection closes: it fails, as does a publish after.
    const silent = own.subscribe('silent.y');
    const pending = inbox.publish('silent.y', data('x'), hdrs('c-1'));
    await own.flush();
    void silent;
    await own.close();
    assert.equal((await rejection(pending)).code, 'CLOSED');
    assert.equal((await rejection(inbox.publish('acks.restart.3', data('c'), hdrs('r-3')))).code, 'CLOSED');
  });
});
