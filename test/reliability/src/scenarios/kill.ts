import { DatabaseSync } from 'node:sqlite';
import { Harness } from '../driver.js';
import { checkCycle, readModelViolations, readStore, waitCycleFinal } from '../invariants.js';
import { prng, ScenarioTally, seedFor, trialCount } from '../report.js';
import { SERVICES, type ServiceName } from '../stack.js';

const ENDPOINTS = 6;

/** Events stored after `from` (the store's global position), read the way an auditor would. */
function storedAfter(db: DatabaseSync, from: number): number {
  return Number((db.prepare('SELECT COUNT(*) AS n FROM events WHERE position > ?').get(from) as { n: number }).n);
}
function headPosition(db: DatabaseSync): number {
  return Number((db.prepare('SELECT COALESCE(MAX(position), 0) AS p FROM events').get() as { p: number }).p);
}

/**
 * Runs one cycle on a fresh trial fleet, applies `fault` once `killAt` events of the cycle are
 * stored, and checks the invariants once the cycle has ended.
 */
export async function faultedCycle(
  h: Harness,
  tally: ScenarioTally,
  label: string,
  killAt: number,
  fault: () => Promise<void>,
  /** Run failures the fault may legitimately cause (by code); any other failure, or a cycle that does not complete, is a violation. */
  allowedFailures: readonly string[] = [],
  timeoutMs = 120_000,
): Promise<void> {
  const fleet = await h.prepareTrial(label, ENDPOINTS, { concurrency: 3 });
  const db = new DatabaseSync(h.storePath, { readOnly: true });
  let faulted = false;
  try {
    const from = headPosition(db);
    const cycleId = await h.requestCycle(label);
    const deadline = Date.now() + timeoutMs;
    while (storedAfter(db, from) < killAt && Date.now() < deadline) {
      const done = db.prepare("SELECT 1 FROM events WHERE stream = ? AND type IN ('CycleCompleted','CycleHalted','CycleAborted')").get(`cycle-${cycleId}`);
      if (done) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const at = storedAfter(db, from);
    await fault();
    faulted = true;
    tally.count(at >= killAt ? 'faults mid-cycle' : 'faults after the cycle ended');
    const final = await waitCycleFinal(h.storePath, cycleId, timeoutMs);
    tally.trials++;
    if (!final) {
      tally.violation(label, `cycle ${cycleId} did not end within ${timeoutMs / 1000} s (fault after ${at} events)`);
      return;
    }
    const all = await readStore(h.storePath);
    const verdict = checkCycle(all, cycleId, fleet, { expectEndpoints: ENDPOINTS });
    // The gateway (killed, or fed by a relay or bus that was) ends up agreeing with the store.
    for (const v of await readModelViolations((q, vars) => h.stack.graphql(q, vars), all, cycleId)) tally.violation(label, v);
    for (const v of verdict.violations) tally.violation(label, v);
    if (verdict.runs.length !== ENDPOINTS) tally.violation(label, `${verdict.runs.length} of ${ENDPOINTS} endpoints reached a final state`);
    for (const r of verdict.runs) tally.count(r.final === 'RunSucceeded' ? 'runs succeeded' : `runs ${r.final} ${r.code ?? ''}`.trim());
    tally.count(`cycles ${final}`);
    if (final !== 'CycleCompleted') tally.violation(label, `cycle ended ${final}`);
    for (const r of verdict.runs)
      if (r.final !== 'RunSucceeded' && !allowedFailures.includes(r.code ?? '')) tally.violation(label, `${r.endpointId}: ${r.final} ${r.code ?? ''}`);
    const dead = h.stack.dead();
    if (dead.length) tally.violation(label, `processes died on their own: ${dead.join(', ')}`);
  } finally {
    db.close();
    if (!faulted) await fault().catch(() => undefined);
  }
}

/**
 * Scenario 1: kill -9 of one service (inventory, policy, planner, executor, relay, gateway) once a
 * random number of the cycle's events are stored, restarted after a random pause. Invariants: the
 * cycle ends, every endpoint reaches a final state, no step lost or applied twice (store and hosts),
 * no second reboot for one boot id, every hash chain verifies, the gateway's read model agrees.
 */
export async function killServices(h: Harness): Promise<ScenarioTally> {
  const seed = seedFor('kill-9');
  const random = prng(seed);
  const tally = new ScenarioTally('1-kill-9', 'kill -9 of a service at a random point of a cycle', seed);
  return tally.run(async () => {
    const trials = trialCount(SERVICES.length, 60);
    // Rounds of every service once, each round in a seeded order: the bounded form is one round.
    let order: ServiceName[] = [];
    for (let t = 0; t < trials; t++) {
      if (t % SERVICES.length === 0) order = [...SERVICES].sort(() => random() - 0.5);
      const service = order[t % SERVICES.length]!;
      const killAt = 1 + Math.floor(random() * 110);
      const restartAfterMs = Math.floor(random() * 800);
      const label = `k${t}`;
      process.stdout.write(`[reliability] trial ${label}: kill -9 ${service} after ${killAt} events, restart after ${restartAfterMs} ms\n`);
      // Without reboot markers (the simulated shell has none), an executor killed between RebootIssued and
      // the reboot command waits for a boot that never comes: REBOOT_TIMEOUT is the documented outcome.
      const allowed = service === 'executor' ? ['REBOOT_TIMEOUT'] : [];
      await faultedCycle(
        h,
        tally,
        label,
        killAt,
        async () => {
          await h.stack.kill(service);
          tally.count(`killed ${service}`);
          await new Promise((r) => setTimeout(r, restartAfterMs));
          await h.stack.startService(service);
        },
        allowed,
      );
    }
    await h.stack.waitHealthy();
    // The gateway's read models, rebuilt or caught up after its restarts, agree with the store.
    const r = await h.stack.graphql<{ cycles: { edges: Array<{ node: { id: string; status: string } }> } }>(
      '{ cycles(first: 100) { edges { node { id status } } } }',
    );
    if (r.errors) tally.violation('gateway', `cycles query failed: ${JSON.stringify(r.errors)}`);
    const open = (r.data?.cycles.edges ?? []).map((e) => e.node).filter((c) => !['completed', 'halted', 'aborted'].includes(c.status));
    if (open.length) tally.violation('gateway', `cycles not final in the read model: ${JSON.stringify(open)}`);
  });
}

/** Scenario 2: nats-server SIGKILLed at a random point of a cycle and restarted: the cycle completes, same invariants. */
export async function restartNats(h: Harness): Promise<ScenarioTally> {
  const seed = seedFor('nats-restart');
  const random = prng(seed);
  const tally = new ScenarioTally('2-nats-restart', 'nats-server SIGKILLed and restarted mid-cycle', seed);
  return tally.run(async () => {
    const trials = trialCount(1, 20);
    for (let t = 0; t < trials; t++) {
      const killAt = 1 + Math.floor(random() * 110);
      const downMs = Math.floor(random() * 1500);
      const label = `n${t}`;
      process.stdout.write(`[reliability] trial ${label}: nats-server down after ${killAt} events for ${downMs} ms\n`);
      await faultedCycle(h, tally, label, killAt, async () => {
        await h.stack.nats.kill();
        await new Promise((r) => setTimeout(r, downMs));
        await h.stack.nats.restart();
      });
    }
  });
}
