// Inventory import benchmark: 10,000 endpoints from one Ansible INI inventory into the embedded
// SQLite event store, through the inventory service's import (parse, validate everything, plan,
// append per endpoint stream). Prints the figures; target: <= 5 s, all-or-nothing.
//   npx tsc -b services/inventory && ./node_modules/.bin/node bench/inventory-import.mjs [--endpoints 10000] [--runs 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteEventStore } from '@patchbay/event-store';
import { InventoryService } from '@patchbay/inventory';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = opt('--endpoints', 10_000);
const RUNS = opt('--runs', 3);

/** A realistic inventory: 40 groups of web/db/cache hosts in ranges, children, group vars, host vars. */
function inventory(n) {
  const lines = ['# generated fleet', '[all:vars]', 'ansible_user=patchbay', 'ansible_become=true', 'patchbay_key_ref=env:PATCHBAY_FLEET_KEY', 'owner=ops', ''];
  const perGroup = Math.ceil(n / 40);
  let made = 0;
  for (let g = 0; g < 40 && made < n; g++) {
    const role = ['web', 'db', 'cache', 'app'][g % 4];
    lines.push(`[${role}_${g}]`);
    for (let i = 0; i < perGroup && made < n; i++, made++) lines.push(`${role}-${g}-${String(i).padStart(4, '0')}.dc${g % 3}.example.com ansible_host=10.${g}.${Math.floor(i / 250)}.${(i % 250) + 1} rack=r${i % 16}`);
    lines.push('', `[${role}_${g}:vars]`, `role=${role}`, `site=dc${g % 3}`, '');
  }
  for (const role of ['web', 'db', 'cache', 'app']) {
    lines.push(`[${role}:children]`);
    for (let g = 0; g < 40; g++) if (['web', 'db', 'cache', 'app'][g % 4] === role) lines.push(`${role}_${g}`);
    lines.push('');
  }
  return lines.join('\n');
}

const content = inventory(N);
const results = [];
for (let run = 1; run <= RUNS; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-inventory-'));
  const store = SqliteEventStore.open(join(dir, 'events.db'));
  try {
    const service = new InventoryService(store, 'explicit');
    const meta = { commandId: `bench-${run}`, actor: 'bench' };
    const t0 = performance.now();
    const first = await service.import({ format: 'ansible-ini', fileName: 'fleet.ini', content, retireMissing: false, dryRun: false, defaults: {} }, meta);
    const t1 = performance.now();
    const again = await service.import({ format: 'ansible-ini', fileName: 'fleet.ini', content, retireMissing: false, dryRun: false, defaults: {} }, { ...meta, commandId: `bench-${run}-again` });
    const t2 = performance.now();
    const bad = content.replace(/rack=r15\n/, 'rack=r15 ansible_port=0\n');
    let refused = false;
    try {
      await service.import({ format: 'ansible-ini', fileName: 'fleet.ini', content: bad, retireMissing: false, dryRun: false, defaults: {} }, { ...meta, commandId: `bench-${run}-bad` });
    } catch (err) {
      refused = err.code === 'INVALID_SSH_IDENTITY';
    }
    const t3 = performance.now();
    if (first.summary.registered !== N || first.eventsAppended !== N) throw new Error(`expected ${N} registrations, got ${JSON.stringify(first)}`);
    if (again.eventsAppended !== 0) throw new Error('re-import appended events');
    if (!refused) throw new Error('a bad file was not refused');
    // Floor in the same run: the same 10,000 registrations appended straight to a fresh store
    // (one stream each, as the import must), without parsing, validation or planning.
    const floorStore = SqliteEventStore.open(join(dir, 'floor.db'));
    const stored = await store.readAll({ categories: ['endpoint'] });
    const t4 = performance.now();
    for (const e of stored) await floorStore.append(e.metadata.stream, [{ eventId: e.metadata.eventId, type: e.type, data: e.data }], 'no-stream');
    const t5 = performance.now();
    await floorStore.close();
    results.push({ run, importSeconds: (t1 - t0) / 1000, reimportSeconds: (t2 - t1) / 1000, rejectSeconds: (t3 - t2) / 1000, floorSeconds: (t5 - t4) / 1000 });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (s) => `${s.toFixed(2)} s`;
console.log(`inventory import: ${N} endpoints from one Ansible INI file (${(content.length / 1024).toFixed(0)} KiB), embedded SQLite store, ${cpus().length} cores / ${Math.round(totalmem() / 2 ** 30)} GiB`);
for (const r of results) console.log(`  run ${r.run}: import ${fmt(r.importSeconds)}, re-import (no change) ${fmt(r.reimportSeconds)}, bad file refused ${fmt(r.rejectSeconds)}; floor (bare appends of the same events) ${fmt(r.floorSeconds)}, ratio ${(r.importSeconds / r.floorSeconds).toFixed(2)}`);
const m = median(results.map((r) => r.importSeconds));
console.log(`median import: ${fmt(m)} (${Math.round(N / m)} endpoints/s) — target <= 5 s: ${m <= 5 ? 'met' : 'MISSED'}`);
console.log(`median floor: ${fmt(median(results.map((r) => r.floorSeconds)))}; median ratio import/floor: ${median(results.map((r) => r.importSeconds / r.floorSeconds)).toFixed(2)}`);
console.log(`median re-import: ${fmt(median(results.map((r) => r.reimportSeconds)))}; median refusal of a file with one bad entry: ${fmt(median(results.map((r) => r.rejectSeconds)))}`);
