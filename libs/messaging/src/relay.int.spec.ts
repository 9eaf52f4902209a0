import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { SqliteEventStore } from '@patchbay/event-store';
import { NatsServer } from '@patchbay/testing';
import type { RecordedEvent } from '@patchbay/contracts';
import { EVENTS_STREAM, NatsBus, type EventConsumer } from './bus.js';
import { EVENT_HEADERS } from './codec.js';
import { SqliteAppliedEventLedger, idempotent } from './applied-ledger.js';
import { EventRelay } from './relay.js';
import { FAULT_KILL_AFTER_ACKS_ENV } from './relay-main.js';
import { eventually, newEvent, tempStore } from './spec-fixtures.js';

const STREAMS = ['endpoint-a', 'endpoint-b', 'cycle-c1', 'run-c1.a', 'run-c1.b'];

/** A consumer whose effect (a row per applied event) commits with the ledger: exactly-once evidence. */
function appliedLogConsumer(ledger: SqliteAppliedEventLedger) {
  ledger.db.exec('CREATE TABLE IF NOT EXISTS applied_log (n INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT, revision INTEGER, event_id TEXT)');
  const insert = ledger.db.prepare('INSERT INTO applied_log (stream, revision, event_id) VALUES (?, ?, ?)');
  let deliveries = 0;
  const handler = idempotent(ledger, 'spec_applied', (e: RecordedEvent) => {
    insert.run(e.metadata.stream, e.metadata.revision, e.metadata.eventId);
  });
  return {
    handler: async (e: RecordedEvent, d: Parameters<typeof handler>[1]) => {
      deliveries++;
      await handler(e, d);
    },
    deliveries: () => deliveries,
    count: () => (ledger.db.prepare('SELECT count(*) AS c FROM applied_log').get() as { c: number }).c,
    /** Asserts every appended event was applied exactly once and each stream in revision order. */
    assertExactlyOnceInOrder(expected: number) {
      const rows = ledger.db.prepare('SELECT stream, revision, event_id FROM applied_log ORDER BY n').all() as { stream: string; revision: number; event_id: string }[];
      assert.equal(rows.length, expected, 'one application per appended event');
      assert.equal(new Set(rows.map((r) => r.event_id)).size, expected, 'no event applied twice');
      const next = new Map<string, number>();
      for (const r of rows) {
        assert.equal(r.revision, next.get(r.stream) ?? 0, `stream ${r.stream} applied in order`);
        next.set(r.stream, r.revision + 1);
      }
    },
  };
}

describe('EventRelay', () => {
  let server: NatsServer;
  let fixture: ReturnType<typeof tempStore>;
  let ledger: SqliteAppliedEventLedger;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    server = await NatsServer.start();
    fixture = tempStore();
    ledger = new SqliteAppliedEventLedger(join(fixture.dir, 'consumer.db'));
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await ledger.close();
    await server.stop();
    await fixture.dispose();
  });

  let appended = 0;
  const appendSome = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const stream = STREAMS[appended % STREAMS.length]!;
      await fixture.store.append(stream, [newEvent('Happened', { n: appended }, `evt-${appended}`)], 'any');
      appended++;
    }
  };
  beforeEach(() => {
    appended = 0;
  });

  it('publishes every stored event once, in global order, and checkpoints after the ack', async () => {
    await appendSome(40);
    const bus = await NatsBus.connect({ servers: server.url, name: 'relay' });
    cleanups.push(() => bus.close());
    const relay = new EventRelay({ store: fixture.store, bus, pollIntervalMs: 10 });
    relay.start();
    cleanups.push(() => relay.stop());
    const head = (await fixture.store.readAll()).at(-1)!.position;
    await relay.waitFor(head);
    assert.equal(await fixture.store.checkpoints.load('relay-jetstream'), head);
    assert.equal((await bus.streamInfo()).state.messages, 40);
    // Live: events appended after catch-up follow.
    await appendSome(10);
    await relay.waitFor((await fixture.store.readAll()).at(-1)!.position);
    assert.equal((await bus.streamInfo()).state.messages, 50);
    const consumed: bigint[] = [];
    const c = await bus.consume('spec_relay_order', 'patchbay.evt.>', (e) => {
      consumed.push(e.position);
    });
    cleanups.push(() => c.stop());
    await eventually('50 consumed', () => consumed.length === 50);
    assert.deepEqual(consumed, (await fixture.store.readAll()).map((e) => e.position), 'JetStream order is the store order');
  });

  it('is woken by commits of another connection (no polling) and saves its checkpoint within its interval once caught up', async () => {
    await appendSome(5);
    // The relay reads through its own connection to the file, as the relay process does; its
    // poll interval is a minute, so only the commit wake-up can be quick.
    const relayStore = SqliteEventStore.open(fixture.path);
    cleanups.push(() => relayStore.close());
    const bus = await NatsBus.connect({ servers: server.url, name: 'relay' });
    cleanups.push(() => bus.close());
    const relay = new EventRelay({ store: relayStore, bus, pollIntervalMs: 60_000, checkpointIntervalMs: 300 });
    relay.start();
    cleanups.push(() => relay.stop());
    await relay.waitFor((await fixture.store.readAll()).at(-1)!.position);
    for (let round = 0; round < 3; round++) {
      await appendSome(3);
      const head = (await fixture.store.readAll()).at(-1)!.position;
      const started = performance.now();
      await eventually(`round ${round}: on JetStream`, async () => (await bus.streamInfo()).state.messages === 5 + 3 * (round + 1), 5_000);
      const published = performance.now() - started;
      await Promise.race([relay.waitFor(head), new Promise((_, reject) => setTimeout(() => reject(new Error(`round ${round}: not checkpointed within 5 s`)), 5_000))]);
      const saved = performance.now() - started;
      assert.ok(published < 5_000, 'woken by the commit, not the minute-long poll');
      assert.ok(saved < 5_000, `the checkpoint is saved within its interval once caught up (${Math.round(saved)} ms)`);
      assert.equal(await fixture.store.checkpoints.load('relay-jetstream'), head);
    }
    assert.equal((await bus.streamInfo()).state.messages, 14);
  });

  it('survives a nats-server kill and restart mid-stream: nothing lost, nothing applied twice', async () => {
    const relayBus = await NatsBus.connect({ servers: server.url, name: 'relay', publishTimeoutMs: 1000, reconnectTimeWaitMs: 100 });
    const consumerBus = await NatsBus.connect({ servers: server.url, name: 'consumer', reconnectTimeWaitMs: 100 });
    cleanups.push(() => relayBus.close(), () => consumerBus.close());
    const relay = new EventRelay({ store: fixture.store, bus: relayBus, pollIntervalMs: 10, retryMinMs: 50, retryMaxMs: 500 });
    relay.start();
    cleanups.push(() => relay.stop());
    const applied = appliedLogConsumer(ledger);
    const consumer: EventConsumer | undefined = await consumerBus.consume('spec_applied', 'patchbay.evt.>', applied.handler, { ackWaitMs: 2000, backoff: [50] });
    cleanups.push(() => consumer?.stop());

    await appendSome(60);
    await eventually('some applied', () => applied.count() > 10);
    await server.kill();
    await appendSome(60); // written while the bus is down: the store is the truth
    await new Promise((r) => setTimeout(r, 500));
    await server.restart();
    await appendSome(60);
    await eventually('all 180 applied', () => applied.count() === 180, 30_000);
    await relay.waitFor((await fixture.store.readAll()).at(-1)!.position);
    assert.ok(relay.stats.retries > 0, 'the relay did see the outage');
    assert.equal((await relayBus.streamInfo()).state.messages, 180, 'JetStream stored each event once');
    await new Promise((r) => setTimeout(r, 300));
    applied.assertExactlyOnceInOrder(180);
  });

  it('relay-main refuses bad arguments with VALIDATION_FAILED and exit code 2', async () => {
    const relayMain = join(__dirname, 'relay-main.js');
    const env = { ...process.env, NATS_URL: '' };
    for (const args of [['--store', fixture.path], ['--store', fixture.path, '--nats', server.url, '--replicas', 'three'], ['--store', fixture.path, '--nats', server.url, '--duplicate-window-ms', '0'], ['--store', fixture.path, '--nats', server.url, '--bogus']]) {
      const r = spawnSync(process.execPath, [relayMain, ...args], { env, encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 2, `exit code for ${args.join(' ')}`);
      assert.match(r.stderr, /^VALIDATION_FAILED/);
    }
    // Its V8 setting, read from the environment as every Patchbay process reads it.
    const r = spawnSync(process.execPath, [relayMain, '--store', fixture.path, '--nats', server.url], { env: { ...env, PATCHBAY_NODE_HEAP_GROWING_PERCENT: 'double' }, encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^CONFIG_INVALID: PATCHBAY_NODE_HEAP_GROWING_PERCENT/);
  });

  /**
   * Kills a relay child process many times right after a PubAck (before the checkpoint) and at
   * random moments. With `duplicateWindowMs` set tiny, JetStream keeps the republished copies and
   * only the consumer's ledger stands between them and a second application.
   */
  const crashRelayRepeatedly = async (duplicateWindowMs: number | undefined) => {
    const TOTAL = 300;
    const windowArgs = duplicateWindowMs === undefined ? [] : ['--duplicate-window-ms', String(duplicateWindowMs)];
    const relayMain = join(__dirname, 'relay-main.js');
    let child: ChildProcess | undefined;
    cleanups.push(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const consumerBus = await NatsBus.connect({ servers: server.url, name: 'consumer', duplicateWindowMs });
    cleanups.push(() => consumerBus.close());
    const applied = appliedLogConsumer(ledger);
    const consumer = await consumerBus.consume('spec_applied', 'patchbay.evt.>', applied.handler, { ackWaitMs: 2000, backoff: [50] });
    cleanups.push(() => consumer.stop());

    let started = false;
    const runRelay = (env: Record<string, string>, killAfterMs?: number): Promise<NodeJS.Signals | number | null> =>
      new Promise((resolve) => {
        started = false;
        child = spawn(process.execPath, [relayMain, '--store', fixture.path, '--nats', server.url, ...windowArgs], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
        const c = child;
        c.stdout!.on('data', (d: Buffer) => {
          // Only this child's line counts: a killed child's output can arrive after its exit.
          if (child === c && d.toString().includes('relay started')) started = true;
        });
        const timer = killAfterMs === undefined ? undefined : setTimeout(() => c.kill('SIGKILL'), killAfterMs);
        c.once('close', (code, signal) => {
          clearTimeout(timer);
          resolve(signal ?? code);
        });
      });
    const checkpoint = async () => (await fixture.store.checkpoints.load('relay-jetstream')) ?? 0n;
    const lastPublishedPosition = async (): Promise<bigint> => {
      const info = await consumerBus.streamInfo();
      if (info.state.messages === 0) return 0n;
      const m = await consumerBus.manager.streams.getMessage(EVENTS_STREAM, { seq: info.state.last_seq });
      return BigInt(m.header.get(EVENT_HEADERS.position));
    };

    let faultKills = 0;
    let externalKills = 0;
    let publishedAheadOfCheckpoint = 0;
    for (let round = 0; round < 30 && appended < TOTAL; round++) {
      await appendSome(Math.min(10, TOTAL - appended));
      if (round % 3 === 2) {
        // A kill from outside at a random moment.
        const outcome = await runRelay({}, 150 + Math.floor(Math.random() * 250));
        if (outcome === 'SIGKILL') externalKills++;
      } else {
        const outcome = await runRelay({ [FAULT_KILL_AFTER_ACKS_ENV]: String(1 + Math.floor(Math.random() * 8)) }, 10_000);
        if (outcome === 'SIGKILL') faultKills++;
        if ((await lastPublishedPosition()) > (await checkpoint())) publishedAheadOfCheckpoint++;
      }
    }
    await appendSome(TOTAL - appended);
    // A last clean run to the head.
    const head = (await fixture.store.readAll()).at(-1)!.position;
    const finalRun = runRelay({});
    await eventually('relay checkpoint at head', async () => started && (await checkpoint()) === head, 30_000);
    child!.kill('SIGTERM');
    assert.equal(await finalRun, 0, 'relay exits cleanly on SIGTERM');

    await eventually(`all ${TOTAL} applied`, () => applied.count() >= TOTAL, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(faultKills >= 15, `relay was killed after a PubAck ${faultKills} times`);
    assert.ok(publishedAheadOfCheckpoint >= 15, `events were on JetStream ahead of the checkpoint ${publishedAheadOfCheckpoint} times`);
    assert.ok(externalKills >= 1, `external SIGKILLs: ${externalKills}`);
    applied.assertExactlyOnceInOrder(TOTAL);
    const stored = (await consumerBus.streamInfo()).state.messages;
    if (duplicateWindowMs === undefined) assert.equal(stored, TOTAL, 'JetStream stored each event once (message id = event id)');
    else {
      assert.ok(stored > TOTAL, `republished copies were stored (${stored} messages)`);
      assert.ok(applied.deliveries() > TOTAL, `duplicates reached the consumer (${applied.deliveries()} deliveries)`);
    }
    process.stderr.write(`crash test (duplicate window ${duplicateWindowMs ?? 'default'}): ${stored} messages stored, ${faultKills} kills after a PubAck, ${externalKills} random kills, ${publishedAheadOfCheckpoint} times published ahead of the checkpoint, ${applied.deliveries()} deliveries for ${TOTAL} events\n`);
  };

  it('a relay process SIGKILLed between PubAck and checkpoint, many times, never makes a consumer apply an event twice', () => crashRelayRepeatedly(undefined));

  it('the same crashes with a 100 ms duplicate window: JetStream keeps the republished copies and the ledger skips them', () => crashRelayRepeatedly(100));
});
