import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from 'nats';
import { decodeEvent } from '@patchbay/messaging';
import { Harness } from '../driver.js';
import { byStream, checkCycle, readModelViolations, readStore, waitCycleFinal } from '../invariants.js';
import { prng, ScenarioTally, seedFor, trialCount } from '../report.js';

const ENDPOINTS = 6;
const EVENTS_STREAM = 'PATCHBAY_EVENTS';

async function lastSeq(h: Harness): Promise<number> {
  return (await h.bus.manager.streams.info(EVENTS_STREAM)).state.last_seq;
}

/**
 * Publishes every event message after `fromSeq` again, with NEW message ids (so JetStream's
 * de-duplication does not drop them) and in a shuffled order: what a relay that lost its
 * checkpoint outside the duplicate window, or a replayed backup, would deliver.
 */
async function republish(h: Harness, fromSeq: number, random: () => number): Promise<number> {
  const to = await lastSeq(h);
  const msgs = [];
  for (let seq = fromSeq + 1; seq <= to; seq++) {
    try {
      msgs.push(await h.bus.manager.streams.getMessage(EVENTS_STREAM, { seq }));
    } catch {
      /* deleted */
    }
  }
  for (let i = msgs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [msgs[i], msgs[j]] = [msgs[j]!, msgs[i]!];
  }
  for (const m of msgs) {
    const h2 = natsHeaders();
    for (const k of m.header?.keys() ?? []) if (k.toLowerCase() !== 'nats-msg-id') h2.set(k, m.header!.get(k));
    await h.bus.jetstream.publish(m.subject, m.data, { msgID: `dup-${randomUUID()}`, headers: h2 });
  }
  return msgs.length;
}

/**
 * Scenario 4: every event message of a trial republished with new message ids, shuffled, a few
 * times mid-cycle and once after the end. Invariants: the cycle completes with each endpoint
 * released, run and counted once, no step or effect twice, nothing appended after the end.
 */
export async function duplicateDeliveries(h: Harness): Promise<ScenarioTally> {
  const seed = seedFor('duplicates');
  const random = prng(seed);
  const tally = new ScenarioTally('4-duplicates', 'JetStream messages republished with new ids, out of order', seed);
  return tally.run(async () => {
    const trials = trialCount(1, 15);
    const delivered = async (durable: string) => (await h.bus.manager.consumers.info(EVENTS_STREAM, durable)).delivered.consumer_seq;
    const deliveries0 = { executor: await delivered('executor-endpoint-released'), planner: await delivered('planner_run_results') };
    for (let t = 0; t < trials; t++) {
      const label = `d${t}`;
      const seq0 = await lastSeq(h);
      const fleet = await h.prepareTrial(label, ENDPOINTS, { concurrency: 3 });
      const cycleId = await h.requestCycle(label);
      // Mid-cycle: a few rounds of everything so far (inventory, policy, cycle and run events).
      const rounds = 1 + Math.floor(random() * 3);
      let copies = 0;
      for (let r = 0; r < rounds; r++) {
        await new Promise((res) => setTimeout(res, 200 + Math.floor(random() * 1200)));
        copies += await republish(h, seq0, random);
      }
      const final = await waitCycleFinal(h.storePath, cycleId, 120_000);
      tally.trials++;
      if (!final) {
        tally.violation(label, `cycle ${cycleId} did not end`);
        continue;
      }
      // After the end: the whole trial again, then give every consumer time to (not) act on it.
      const before = byStream((await readStore(h.storePath)).filter((e) => e.metadata.correlationId === cycleId));
      copies += await republish(h, seq0, random);
      await new Promise((res) => setTimeout(res, 3000));
      const all = await readStore(h.storePath);
      const afterStreams = byStream(all.filter((e) => e.metadata.correlationId === cycleId));
      for (const [stream, evs] of afterStreams) {
        const n = before.get(stream)?.length ?? 0;
        if (evs.length !== n)
          tally.violation(
            label,
            `${stream}: ${evs.length - n} events appended after the cycle ended, in answer to duplicates (${evs
              .slice(n)
              .map((e) => e.type)
              .join(',')})`,
          );
      }
      const verdict = checkCycle(all, cycleId, fleet, { expectEndpoints: ENDPOINTS });
      for (const v of await readModelViolations((q, vars) => h.stack.graphql(q, vars), all, cycleId)) tally.violation(label, v);
      for (const v of verdict.violations) tally.violation(label, v);
      for (const r of verdict.runs) if (r.final !== 'RunSucceeded') tally.violation(label, `${r.endpointId}: ${r.final} ${r.code ?? ''}`);
      tally.count('messages republished', copies);
      tally.count(`cycles ${final}`);
      // The planner's view agrees: each endpoint counted once.
      const summary = await h.send<{ succeeded: number; failed: number; released: number }>('planner', 'cycle.get', { cycleId });
      if (summary.succeeded !== ENDPOINTS || summary.released !== ENDPOINTS) tally.violation(label, `planner counts ${JSON.stringify(summary)}`);
    }
    // The copies did reach the services' durable consumers (the test is not vacuous).
    const execDeliveries = (await delivered('executor-endpoint-released')) - deliveries0.executor;
    const plannerDeliveries = (await delivered('planner_run_results')) - deliveries0.planner;
    tally.notes['executor deliveries'] = execDeliveries;
    tally.notes['planner result deliveries'] = plannerDeliveries;
    if (execDeliveries <= trials * ENDPOINTS) tally.violation('setup', `the executor saw ${execDeliveries} releases: the copies never reached it`);
    if (plannerDeliveries <= trials * ENDPOINTS) tally.violation('setup', `the planner saw ${plannerDeliveries} run results: the copies never reached it`);
    // Every event consumed from the bus decodes: the copies are the same events, not new ones.
    const sample = await h.bus.manager.streams.getMessage(EVENTS_STREAM, { seq: await lastSeq(h) });
    decodeEvent(sample.data);
    const dead = h.stack.dead();
    if (dead.length) tally.violation('stack', `processes died: ${dead.join(', ')}`);
  });
}
