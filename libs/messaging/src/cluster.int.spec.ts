import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NatsServer, freePort } from '@patchbay/testing';
import { NatsBus } from './bus.js';
import { SqliteAppliedEventLedger, idempotent } from './applied-ledger.js';
import { EventRelay } from './relay.js';
import { eventually, newEvent, tempStore } from './spec-fixtures.js';

describe('a three-node JetStream cluster with R3 streams', () => {
  const nodes: NatsServer[] = [];
  let fixture: ReturnType<typeof tempStore>;

  before(async () => {
    const clientPorts = [await freePort(), await freePort(), await freePort()];
    const routePorts = [await freePort(), await freePort(), await freePort()];
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
    for (let i = 0; i < 3; i++) {
      nodes.push(await NatsServer.start({ port: clientPorts[i], serverName: `pb-${i}`, extraConfig: `cluster { name: patchbay, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }` }));
    }
    fixture = tempStore();
  });
  after(async () => {
    for (const n of nodes) await n.stop();
    await fixture.dispose();
  });

  it('keeps relaying and consuming exactly once while a node is down', async () => {
    const t0 = Date.now();
    const servers = nodes.map((n) => n.url);
    let bus: NatsBus | undefined;
    // The cluster needs a JetStream meta leader before streams can be created.
    await eventually('JetStream cluster ready', async () => {
      try {
        bus = await NatsBus.connect({ servers, name: 'relay', replicas: 3, publishTimeoutMs: 2000, reconnectTimeWaitMs: 100 });
        return true;
      } catch {
        return false;
      }
    }, 30_000);
    const relayBus = bus!;
    const ready = Date.now() - t0;
    const consumerBus = await NatsBus.connect({ servers, name: 'consumer', reconnectTimeWaitMs: 100 });
    const ledger = new SqliteAppliedEventLedger(join(fixture.dir, 'consumer.db'));
    const relay = new EventRelay({ store: fixture.store, bus: relayBus, retryMinMs: 50, retryMaxMs: 500 });
    try {
      const info = await relayBus.streamInfo();
      assert.equal(info.config.num_replicas, 3);
      assert.equal(info.cluster?.replicas?.length, 2, 'a leader and two replicas');

      const applied = new Map<string, number>();
      const c = await consumerBus.consume('spec_cluster', 'patchbay.evt.>', idempotent(ledger, 'spec_cluster', (e) => {
        applied.set(e.metadata.eventId, (applied.get(e.metadata.eventId) ?? 0) + 1);
      }), { ackWaitMs: 2000, backoff: [50] });
      relay.start();
      for (let i = 0; i < 50; i++) await fixture.store.append(`endpoint-n${i % 5}`, [newEvent('FactsGathered', { i })], 'any');
      await eventually('first 50 applied', () => applied.size === 50, 30_000);

      const leaderName = (await relayBus.streamInfo()).cluster?.leader;
      const leader = nodes.find((n) => `pb-${nodes.indexOf(n)}` === leaderName)!;
      await leader.kill();
      const killedAt = Date.now();
      for (let i = 50; i < 100; i++) await fixture.store.append(`endpoint-n${i % 5}`, [newEvent('FactsGathered', { i })], 'any');
      await eventually('all 100 applied with the stream leader down', () => applied.size === 100, 60_000);
      process.stderr.write(`cluster: JetStream ready after ${ready} ms; 50 events relayed and applied ${Date.now() - killedAt} ms after killing the stream leader ${leaderName}\n`);
      await leader.restart();
      await c.stop();

      assert.ok([...applied.values()].every((n) => n === 1), 'no event applied twice');
      assert.equal((await relayBus.streamInfo()).state.messages, 100);
    } finally {
      await relay.stop();
      await relayBus.close();
      await consumerBus.close();
      await ledger.close();
    }
  });
});
