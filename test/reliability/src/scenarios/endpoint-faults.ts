import { DatabaseSync } from 'node:sqlite';
import { Harness } from '../driver.js';
import { checkCycle, STABLE_CODE, readStore, waitCycleFinal } from '../invariants.js';
import { prng, ScenarioTally, seedFor, trialCount } from '../report.js';

/**
 * Six endpoints in one cycle, four of them misbehaving at once:
 * 0 network cut mid-patch (connections dropped and refused for a while), 1 slow (apt and reboot),
 * 2 back from its reboot with another host key, 3 never back from its reboot, 4-5 healthy.
 */
export async function endpointFaults(h: Harness): Promise<ScenarioTally> {
  const seed = seedFor('endpoint-faults');
  const random = prng(seed);
  const tally = new ScenarioTally('5-endpoint-faults', 'network cut mid-step, slow host, changed host key, host never back', seed);
  return tally.run(async () => {
    const trials = trialCount(1, 5);
    for (let t = 0; t < trials; t++) {
      const label = `e${t}`;
      const fleet = await h.prepareTrial(label, 6, {
        concurrency: 6,
        hosts: {
          '0': { aptLatencyMs: 2500 },
          '1': { aptLatencyMs: 1500, rebootMode: 'slow' },
          '2': { rebootMode: 'new-host-key' },
          '3': { rebootMode: 'never' },
        },
      });
      const [cut, slow, rekeyed, gone, ...healthy] = fleet.fleet.endpoints.map((e) => fleet.idOf(e));
      const db = new DatabaseSync(h.storePath, { readOnly: true });
      const t0 = Date.now();
      const cycleId = await h.requestCycle(label);
      try {
        // Cut host 0 once its patch has started (its apt takes 2.5 s), for 0.5-3 s.
        for (;;) {
          const started = db
            .prepare('SELECT 1 FROM events WHERE stream = ? AND type = \'StepStarted\' AND data LIKE \'%"stepKey":"patch"%\'')
            .get(`run-${cycleId}.${cut}`);
          if (started) break;
          if (Date.now() - t0 > 60_000) throw new Error('patch of the cut host never started');
          await new Promise((r) => setTimeout(r, 10));
        }
        await new Promise((r) => setTimeout(r, 200 + Math.floor(random() * 1500)));
        fleet.cutNetwork(cut!);
        await new Promise((r) => setTimeout(r, 500 + Math.floor(random() * 2500)));
        fleet.restoreNetwork(cut!);
      } finally {
        db.close();
      }
      // The host that never returns fails after its 30 s return timeout: the cycle must end soon after.
      const final = await waitCycleFinal(h.storePath, cycleId, 90_000);
      tally.trials++;
      tally.notes[`trial ${label} wall s`] = Math.round((Date.now() - t0) / 100) / 10;
      if (!final) {
        tally.violation(label, `cycle ${cycleId} hung (no final event in 90 s)`);
        continue;
      }
      const verdict = checkCycle(await readStore(h.storePath), cycleId, fleet, { expectEndpoints: 6 });
      for (const v of verdict.violations) tally.violation(label, v);
      const run = (id: string) => verdict.runs.find((r) => r.endpointId === id);
      for (const r of verdict.runs) {
        tally.count(`${r.endpointId.replace(/^e\d+-/, '')} ${r.final}${r.code ? ` ${r.code}` : ''}`);
        if (r.final !== 'RunSucceeded' && !STABLE_CODE.test(r.code ?? ''))
          tally.violation(label, `${r.endpointId}: ${r.final} without a stable code (${r.code})`);
      }
      if (verdict.runs.length !== 6) tally.violation(label, `${verdict.runs.length} of 6 endpoints reached a final state`);
      for (const id of [slow, ...healthy])
        if (run(id!)?.final !== 'RunSucceeded') tally.violation(label, `${id}: expected success, got ${JSON.stringify(run(id!))}`);
      // The cut host either failed with a connection code or (cut between commands) succeeded on a retry/reconnect.
      const c = run(cut!);
      if (c && c.final !== 'RunSucceeded' && !['CONNECTION_LOST', 'HOST_UNREACHABLE', 'REMOTE_TIMEOUT', 'STEP_TIMEOUT'].includes(c.code ?? ''))
        tally.violation(label, `${cut}: unexpected code ${c.code}`);
      if (run(rekeyed!)?.code !== 'HOST_KEY_REJECTED') tally.violation(label, `${rekeyed}: expected HOST_KEY_REJECTED, got ${JSON.stringify(run(rekeyed!))}`);
      const rekeyedEp = fleet.endpoint(rekeyed!)!;
      const lastBoot = rekeyedEp.machine.bootHistory.at(-1)!;
      if (rekeyedEp.machine.bootHistory.length < 2) tally.violation(label, `${rekeyed}: never rebooted`);
      else if (fleet.commandsInBoot(rekeyed!, lastBoot).length > 0)
        tally.violation(label, `${rekeyed}: commands ran on the host with the changed key: ${fleet.commandsInBoot(rekeyed!, lastBoot).join(' | ')}`);
      if (run(gone!)?.code !== 'REBOOT_TIMEOUT') tally.violation(label, `${gone}: expected REBOOT_TIMEOUT, got ${JSON.stringify(run(gone!))}`);
      tally.count(`cycles ${final}`);
    }
    const dead = h.stack.dead();
    if (dead.length) tally.violation('stack', `processes died: ${dead.join(', ')}`);
  });
}
