// Embedded event store benchmark: durable appends (1 and 100 events per transaction) and replay,
// each next to the bare node:sqlite floor measured in the same run on the same disk.
//
//   ./node_modules/.bin/node bench/event-store.mjs [--events 1000000] [--single 5000] [--batched 200000] [--keep]
//
// --events: events replayed (default 1,000,000); --single: appends of one event each;
// --batched: events appended 100 per transaction. Build first (npx tsc -b libs/event-store).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { SqliteEventStore } from '@patchbay/event-store';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer`);
  return v;
};
const REPLAY = opt('--events', 1_000_000);
const SINGLE = opt('--single', Math.min(5_000, REPLAY));
const BATCHED = Math.max(100, Math.floor(opt('--batched', Math.min(200_000, REPLAY)) / 100) * 100);
const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-es-'));

const payload = (i) => ({ endpointId: `ep-${i % 1000}`, step: 'upgrade', status: i % 7 === 0 ? 'failed' : 'ok', packages: ['openssl', 'curl', 'tzdata'], durationMs: i % 5000 });
const rate = (n, ms) => Math.round((n * 1000) / ms);
const fmt = (n) => n.toLocaleString('en-US');
const time = (fn) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};
const timeAsync = async (fn) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

/** The floor: a plain table, same pragmas, SHA-256 chain over the data, nothing else. */
function bareWrite(file, total, perTx) {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
  db.exec('CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (stream, revision))');
  const insert = db.prepare('INSERT INTO events (stream, revision, data, hash) VALUES (?, ?, ?, ?)');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  let prev = '0'.repeat(64);
  const ms = time(() => {
    for (let i = 0; i < total; i += perTx) {
      begin.run();
      for (let j = 0; j < perTx; j++) {
        const data = JSON.stringify(payload(i + j));
        prev = createHash('sha256').update(prev).update(data).digest('hex');
        insert.run(`s-${Math.floor((i + j) / 100)}`, (i + j) % 100, data, prev);
      }
      commit.run();
    }
  });
  db.close();
  return rate(total, ms);
}

/** The floor: read every row's data and JSON.parse it, folding a count. */
function bareReplay(file) {
  const db = new DatabaseSync(file, { readOnly: true });
  const stmt = db.prepare('SELECT data FROM events ORDER BY position');
  stmt.setReturnArrays(true);
  let n = 0;
  let failed = 0;
  const ms = time(() => {
    for (const row of stmt.iterate()) {
      const d = JSON.parse(row[0]);
      if (d.status === 'failed') failed++;
      n++;
    }
  });
  db.close();
  return { rate: rate(n, ms), n, failed };
}

async function ourSingle(file, total) {
  const store = SqliteEventStore.open(file);
  const revisions = new Map();
  const ms = await timeAsync(async () => {
    for (let i = 0; i < total; i++) {
      const stream = `endpoint-${i % 100}`;
      const expected = revisions.get(stream) ?? 'no-stream';
      const r = await store.append(stream, [{ eventId: `single-${i}`, type: 'StepCompleted', data: payload(i), correlationId: 'cycle-1', actor: 'bench' }], expected);
      revisions.set(stream, r.nextExpectedRevision);
    }
  });
  await store.close();
  return rate(total, ms);
}

async function ourBatched(file, total, perTx) {
  const store = SqliteEventStore.open(file);
  const ms = await timeAsync(async () => {
    for (let i = 0; i < total; i += perTx) {
      const events = [];
      for (let j = 0; j < perTx; j++) events.push({ eventId: `batch-${i + j}`, type: 'StepCompleted', data: payload(i + j), correlationId: 'cycle-1', actor: 'bench' });
      await store.append(`run-${i / perTx}`, events, 'no-stream');
    }
  });
  await store.close();
  return rate(total, ms);
}

/**
 * Many writers at once, as the executor's concurrent runs append: `writers` loops, each appending
 * one event at a time to its own stream with its expected revision. With group commit the appends
 * made in one turn of the event loop share a transaction; without, each is its own.
 */
async function ourConcurrent(file, total, writers, groupCommit) {
  const store = SqliteEventStore.open(file, { groupCommit });
  const per = Math.ceil(total / writers);
  const cpu0 = process.cpuUsage();
  const ms = await timeAsync(async () => {
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        let expected = 'no-stream';
        for (let i = 0; i < per; i++) {
          const r = await store.append(`run-w${w}`, [{ eventId: `c-${w}-${i}`, type: 'StepCompleted', data: payload(i), correlationId: 'cycle-1', actor: 'bench' }], expected);
          expected = r.nextExpectedRevision;
        }
      }),
    );
  });
  const cpu = process.cpuUsage(cpu0);
  await store.close();
  return { rate: rate(per * writers, ms), cpuUsPerEvent: (cpu.user + cpu.system) / (per * writers) };
}

/** Replay as a service rebuilding state does: read pages of $all and evolve a fold. */
async function ourReplay(file) {
  const store = SqliteEventStore.open(file, { readOnly: true });
  const evolve = (state, e) => {
    state.events++;
    if (e.data.status === 'failed') state.failed++;
    state.lastRevision[e.metadata.stream] = e.metadata.revision;
    return state;
  };
  let state = { events: 0, failed: 0, lastRevision: Object.create(null) };
  const ms = await timeAsync(async () => {
    let after;
    for (;;) {
      const page = await store.readAll({ after, maxCount: 10_000 });
      if (page.length === 0) break;
      for (const e of page) state = evolve(state, e);
      after = page[page.length - 1].position;
    }
  });
  await store.close();
  return { rate: rate(state.events, ms), n: state.events, failed: state.failed };
}

try {
  console.log(`event store benchmark: ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  console.log(`durable: WAL + synchronous=FULL, files in ${tmpdir()}\n`);

  const bareSingle = bareWrite(join(dir, 'bare-1.db'), SINGLE, 1);
  const oursSingle = await ourSingle(join(dir, 'ours-1.db'), SINGLE);
  const bareBatched = bareWrite(join(dir, 'bare-100.db'), BATCHED, 100);
  const oursBatched = await ourBatched(join(dir, 'ours-100.db'), BATCHED, 100);

  // Replay file: REPLAY events written through the store (1,000 per transaction).
  const replayFile = join(dir, 'replay.db');
  const fill = SqliteEventStore.open(replayFile);
  const fillMs = await timeAsync(async () => {
    for (let i = 0; i < REPLAY; i += 1000) {
      const events = [];
      for (let j = i; j < Math.min(REPLAY, i + 1000); j++) events.push({ eventId: `r-${j}`, type: 'StepCompleted', data: payload(j), correlationId: 'cycle-1', actor: 'bench' });
      await fill.append(`replay-${i / 1000}`, events, 'no-stream');
    }
  });
  await fill.close();
  const bareRead = bareReplay(replayFile);
  const ours = await ourReplay(replayFile);
  if (ours.n !== REPLAY || bareRead.n !== REPLAY || ours.failed !== bareRead.failed) throw new Error(`replay mismatch: ${JSON.stringify({ ours, bareRead })}`);

  const rows = [
    ['appends, 1 event per transaction (events/s)', SINGLE, oursSingle, bareSingle, 3_000],
    ['appends, 100 events per transaction (events/s)', BATCHED, oursBatched, bareBatched, 20_000],
    ['replay: read + parse + evolve (events/s)', REPLAY, ours.rate, bareRead.rate, 250_000],
  ];
  console.log('| measure | events | Patchbay | bare node:sqlite | ratio | target | met |');
  console.log('|---|---:|---:|---:|---:|---:|:-:|');
  for (const [what, n, us, bare, target] of rows) {
    console.log(`| ${what} | ${fmt(n)} | ${fmt(us)} | ${fmt(bare)} | ${(us / bare).toFixed(2)} | ≥ ${fmt(target)} | ${us >= target ? 'yes' : 'NO'} |`);
  }
  console.log(`\n(replay file filled through the store at ${fmt(rate(REPLAY, fillMs))} events/s, 1,000 per transaction)`);

  const WRITERS = 200;
  const off = await ourConcurrent(join(dir, 'conc-off.db'), SINGLE, WRITERS, false);
  const on = await ourConcurrent(join(dir, 'conc-on.db'), SINGLE, WRITERS, true);
  console.log(`\n${WRITERS} concurrent writers, 1 event per append (the executor's many runs), ${fmt(SINGLE)} events:`);
  console.log('| group commit | events/s | CPU µs per event |');
  console.log('|---|---:|---:|');
  console.log(`| off (one transaction per append) | ${fmt(off.rate)} | ${off.cpuUsPerEvent.toFixed(0)} |`);
  console.log(`| on (default) | ${fmt(on.rate)} | ${on.cpuUsPerEvent.toFixed(0)} |`);
} finally {
  if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
}
