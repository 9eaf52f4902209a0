import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { verifyChain, type RecordedEvent } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { NatsBus } from '@patchbay/messaging';
import { freePort, NatsServer } from '@patchbay/testing';
import { startSimStack, type SimStack } from './sim-stack.js';

/**
 * The whole stack on a three-node JetStream cluster (streams R3): the node leading the event
 * stream is killed in the middle of a cycle. The cycle still completes; no step runs twice, every
 * endpoint ends once and every hash chain verifies.
 */
describe('a cycle on a three-node NATS cluster survives the loss of the stream leader mid-cycle', { timeout: 300_000 }, () => {
  const nodes: NatsServer[] = [];
  let sim: SimStack;
  const ENDPOINTS = 6;

  before(async () => {
    const clientPorts = [await freePort(), await freePort(), await freePort()];
    const routePorts = [await freePort(), await freePort(), await freePort()];
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
    for (let i = 0; i < 3; i++) nodes.push(await NatsServer.start({ port: clientPorts[i], serverName: `pb-${i}`, extraConfig: `cluster { name: patchbay, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }` }));
    const servers = nodes.map((n) => n.url);
    // The relay creates the event stream with one replica unless told otherwise: create it R3 first,
    // as deploy/ does (relay --replicas 3); processes that do not ask keep what they find.
    for (let i = 0; ; i++) {
      try {
        const admin = await NatsBus.connect({ servers, name: 'cluster-setup', replicas: 3, publishTimeoutMs: 2000 });
        assert.equal((await admin.streamInfo()).config.num_replicas, 3);
        await admin.close();
        break;
      } catch (err) {
        if (i > 60) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    sim = await startSimStack({ endpoints: ENDPOINTS, basePort: 27500, rebootDelayMs: 1500, aptLatencyMs: 300, env: { NATS_URL: servers.join(',') } });
  });

  after(async () => {
    await sim?.close();
    for (const n of nodes) await n.stop().catch(() => undefined);
  });

  it('completes the cycle with every step once after the stream leader is killed', async () => {
    const servers = nodes.map((n) => n.url);
    const probe = await NatsBus.connect({ servers, name: 'cluster-probe' });
    const cycleId = await sim.requestCycle();
    // Kill the stream leader once endpoints are running.
    for (let i = 0; ; i++) {
      const runs = await sim.api<{ endpointRuns: { edges: Array<{ node: { status: string } }> } }>('query($id: ID!) { endpointRuns(cycleId: $id, first: 50) { edges { node { status } } } }', { id: cycleId });
      if (runs.endpointRuns.edges.some((e) => e.node.status === 'running')) break;
      if (i > 600) assert.fail('no endpoint started running');
      await new Promise((r) => setTimeout(r, 50));
    }
    const leaderName = (await probe.streamInfo()).cluster?.leader;
    await probe.close();
    const leader = nodes.find((_, i) => `pb-${i}` === leaderName);
    assert.ok(leader, `the stream has a leader (${leaderName})`);
    await leader.kill();
    const status = await sim.waitCycle(cycleId, 180_000);
    await leader.restart();
    assert.equal(status, 'completed', `cycle ${cycleId} completed with ${leaderName} down`);

    const store = SqliteEventStore.open(join(sim.dir, 'data', 'events.db'));
    try {
      const all = await store.readAll({ categories: ['cycle', 'run'] });
      const streams = new Map<string, RecordedEvent[]>();
      for (const e of all) streams.set(e.metadata.stream, [...(streams.get(e.metadata.stream) ?? []), e]);
      const runs = [...streams.entries()].filter(([s, events]) => s.startsWith('run-') && events.some((e) => (e.data as { cycleId?: string }).cycleId === cycleId));
      assert.equal(runs.length, ENDPOINTS, 'one run per endpoint');
      for (const [stream, events] of runs) {
        const types = events.map((e) => e.type);
        assert.deepEqual(types.filter((t) => /^Run(Succeeded|Failed|Cancelled)$/.test(t)), ['RunSucceeded'], `${stream} ends once, successfully`);
        const started = events.filter((e) => e.type === 'StepStarted').map((e) => `${(e.data as { stepKey: string }).stepKey}#${(e.data as { attempt?: number }).attempt ?? 1}`);
        assert.equal(new Set(started).size, started.length, `${stream}: no step attempt started twice (${started.join(', ')})`);
        const succeeded = events.filter((e) => e.type === 'StepSucceeded').map((e) => (e.data as { stepKey: string }).stepKey);
        assert.equal(new Set(succeeded).size, succeeded.length, `${stream}: no step succeeded twice`);
      }
      for (const [stream, events] of streams) assert.equal(verifyChain(stream, events).ok, true, `chain of ${stream}`);
    } finally {
      await store.close();
    }
  });
});
