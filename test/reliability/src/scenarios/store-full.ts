import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Harness } from '../driver.js';
import { chainViolations, checkCycle, STABLE_CODE, readStore, waitCycleFinal } from '../invariants.js';
import { prng, ScenarioTally, seedFor, trialCount } from '../report.js';

const ENDPOINTS = 6;

/** Fills the file system holding `dir` until ENOSPC; returns the filler's path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'a');
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 512]) {
      const buf = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          writeSync(fd, buf);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

const probeGroup = (id: string) => `kind: ReferenceGroup\nid: ${id}\nname: probe\ntier: low\nselector: trial=none\n`;

/**
 * The event store's file system fills up mid-cycle (a small tmpfs under the SQLite file): writes
 * are refused with a stable code, nothing stored before is lost or altered, and once space is
 * back the cycle carries on to its end.
 */
export async function storeFull(h: Harness, mnt: string): Promise<ScenarioTally> {
  const seed = seedFor('store-full');
  const random = prng(seed);
  const tally = new ScenarioTally('3-store-full', 'event store file system full mid-cycle, then freed', seed);
  return tally.run(async () => {
    const trials = trialCount(1, 8);
    for (let t = 0; t < trials; t++) {
      const label = `f${t}`;
      const fleet = await h.prepareTrial(label, ENDPOINTS, { concurrency: 3 });
      const before = new Map((await readStore(h.storePath)).map((e) => [e.metadata.eventId, e.metadata.hash]));
      const db = new DatabaseSync(h.storePath, { readOnly: true });
      const from = Number((db.prepare('SELECT MAX(position) AS p FROM events').get() as { p: number }).p);
      const cycleId = await h.requestCycle(label);
      const fullAt = 3 + Math.floor(random() * 60);
      while (Number((db.prepare('SELECT COUNT(*) AS n FROM events WHERE position > ?').get(from) as { n: number }).n) < fullAt)
        await new Promise((r) => setTimeout(r, 5));
      db.close();
      const filler = fillDisk(mnt);
      const tFull = Date.now();
      try {
        // A command that must append: refused with a stable code (a few may still fit in the WAL's slack).
        let accepted = 0;
        let code: string | undefined;
        for (let i = 0; Date.now() - tFull < 20_000; i++) {
          try {
            await h.send('policy', 'bundle.apply', { files: [{ name: 'probe.yaml', content: probeGroup(`probe-${label}-${i}`) }] }, { timeoutMs: 20_000 });
            accepted++;
          } catch (e) {
            code = (e as { code?: string }).code;
            tally.notes[`refusal ${label}`] = `${code}: ${(e as Error).message.slice(0, 160)}`;
            const refused = `group-probe-${label}-${i}`;
            await new Promise((r) => setTimeout(r, 300));
            const stored = new Set((await readStore(h.storePath)).map((ev) => ev.metadata.stream));
            if (stored.has(refused)) tally.violation(label, `${refused} was stored although the command was refused`);
            // Writes accepted while the WAL still had room are really stored.
            for (let j = 0; j < i; j++)
              if (!stored.has(`group-probe-${label}-${j}`)) tally.violation(label, `group-probe-${label}-${j} was accepted but is not stored`);
            break;
          }
        }
        tally.notes[`writes accepted after the disk filled ${label}`] = accepted;
        if (!code) tally.violation(label, 'the store never refused a write in 20 s on a full file system');
        else if (!STABLE_CODE.test(code) || code === 'INTERNAL') tally.violation(label, `refusal without a stable code: ${code}`);
        // The same through the API.
        const gq = await h.stack.graphql<unknown>('mutation($f: [BundleFileInput!]!) { applyPolicyBundle(files: $f) { commandId } }', {
          f: [{ name: 'probe.yaml', content: probeGroup(`probe-${label}-gql`) }],
        });
        const gcode = gq.errors?.[0]?.extensions?.code;
        tally.notes[`graphql refusal ${label}`] = gcode ?? (gq.errors ? JSON.stringify(gq.errors).slice(0, 200) : 'accepted');
        if (gq.errors && (!gcode || !STABLE_CODE.test(gcode) || gcode === 'INTERNAL'))
          tally.violation(label, `GraphQL refusal without a stable code: ${JSON.stringify(gq.errors)}`);
        // Reads go on while full, and nothing stored before is lost or altered.
        const during = await readStore(h.storePath);
        const byId = new Map(during.map((e) => [e.metadata.eventId, e.metadata.hash]));
        for (const [id, hash] of before) if (byId.get(id) !== hash) tally.violation(label, `event ${id} lost or altered while the disk was full`);
        for (const v of chainViolations(during)) tally.violation(label, v);
        await new Promise((r) => setTimeout(r, 1000 + Math.floor(random() * 3000)));
      } finally {
        rmSync(filler, { force: true });
      }
      tally.notes[`full for ms ${label}`] = Date.now() - tFull;
      const final = await waitCycleFinal(h.storePath, cycleId, 120_000);
      tally.trials++;
      if (!final) {
        tally.violation(label, `cycle ${cycleId} did not end within 120 s after space came back`);
        continue;
      }
      const all = await readStore(h.storePath);
      const verdict = checkCycle(all, cycleId, fleet, { expectEndpoints: ENDPOINTS });
      for (const v of verdict.violations) tally.violation(label, v);
      for (const r of verdict.runs) tally.count(r.final === 'RunSucceeded' ? 'runs succeeded' : `runs ${r.final} ${r.code ?? ''}`.trim());
      const byId = new Map(all.map((e) => [e.metadata.eventId, e.metadata.hash]));
      for (const [id, hash] of before) if (byId.get(id) !== hash) tally.violation(label, `event ${id} lost or altered after the disk was freed`);
      tally.count(`cycles ${final}`);
      const dead = h.stack.dead();
      if (dead.length) tally.violation(label, `processes died on a full store: ${dead.join(', ')}: ${dead.map((d) => h.stack.logTail(d, 5)).join('\n')}`);
    }
  });
}
