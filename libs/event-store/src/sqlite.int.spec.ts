import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { verifyChain } from '@patchbay/contracts';
import type { RecordedEvent } from '@patchbay/contracts';
import { describeEventStoreConformance, rejectsWithCode, until } from './conformance.js';
import { openEventStore } from './open.js';
import { CorruptEventError, DuplicateEventIdError, EventStoreUnavailableError } from './port.js';
import { SqliteEventStore } from './sqlite.js';

const WORKER = join(__dirname, 'sqlite-append-worker.js');

describeEventStoreConformance('SQLite (node:sqlite, WAL)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-es-conf-'));
  const file = join(dir, 'events.db');
  return {
    open: async () => SqliteEventStore.open(file),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

/** A worker process with its stdout as parsed JSON lines. */
function worker(args: string[]): { child: ChildProcess; lines: unknown[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: unknown[] = [];
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l)));
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal === null) process.stderr.write(`worker ${args[0]} failed: ${stderr}\n`);
      resolve(code);
    }),
  );
  return { child, lines, exited };
}

describe('SqliteEventStore on a shared file', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  const file = (name: string): string => join(dir, name);
  const spawnWorker = (args: string[]): ReturnType<typeof worker> => {
    const w = worker(args);
    children.push(w.child);
    return w;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-es-sqlite-'));
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('two writer processes deciding on one stream: exactly one wins each revision', async () => {
    const path = file('duel.db');
    await SqliteEventStore.open(path).close();
    const attempts = 150;
    const [a, b] = [spawnWorker(['duel', path, 'duel-1', 'A', String(attempts)]), spawnWorker(['duel', path, 'duel-1', 'B', String(attempts)])];
    await until(() => a.lines.length > 0 && b.lines.length > 0, 10_000, 'workers ready');
    a.child.stdin!.end('go\n');
    b.child.stdin!.end('go\n');
    assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
    type Outcome = { won: boolean; expected: number | 'no-stream'; revision?: number };
    const outcomes = [...a.lines.slice(1), ...b.lines.slice(1)] as Outcome[];
    assert.equal(outcomes.length, 2 * attempts);
    const wins = outcomes.filter((o) => o.won);
    const losses = outcomes.length - wins.length;
    assert.ok(losses > 0, 'the writers really contended (some attempts lost)');
    const winsPerExpected = new Map<string, number>();
    for (const w of wins) winsPerExpected.set(String(w.expected), (winsPerExpected.get(String(w.expected)) ?? 0) + 1);
    for (const [expected, count] of winsPerExpected) assert.equal(count, 1, `expected revision ${expected} won once`);
    const store = SqliteEventStore.open(path);
    try {
      const stream = await store.readStream('duel-1');
      assert.equal(stream.length, wins.length, 'every win is stored, nothing else');
      assert.equal(verifyChain('duel-1', stream).ok, true);
    } finally {
      await store.close();
    }
  });

  it('a writer killed with SIGKILL while appending large batches leaves only complete batches', async () => {
    const path = file('killed.db');
    const size = 200;
    let reported = 0;
    for (let round = 0; round < 3; round++) {
      const w = spawnWorker(['batches', path, `fill${round}`, String(size)]);
      await until(() => w.lines.length >= 3 + round, 30_000, 'some committed batches');
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 20)));
      w.child.kill('SIGKILL');
      await w.exited;
      reported += w.lines.length;
    }
    const store = SqliteEventStore.open(path);
    try {
      const all = await store.readAll();
      const byStream = new Map<string, RecordedEvent[]>();
      for (const e of all) byStream.set(e.metadata.stream, [...(byStream.get(e.metadata.stream) ?? []), e]);
      assert.ok(byStream.size >= reported, `every batch reported committed is stored (${byStream.size} >= ${reported})`);
      for (const [stream, events] of byStream) {
        assert.equal(events.length, size, `${stream} is complete`);
        assert.equal(verifyChain(stream, events).ok, true);
        for (let i = 1; i < events.length; i++) assert.equal(events[i]!.position, events[i - 1]!.position + 1n, `${stream} is contiguous in $all`);
      }
    } finally {
      await store.close();
    }
  });

  it('a writer killed with SIGKILL in the middle of large appendMany calls leaves each call all or nothing', async (t) => {
    const path = file('killed-many.db');
    const streams = 2_000;
    const committed = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const w = spawnWorker(['many', path, `many${round}`, String(streams)]);
      await until(() => w.lines.length >= 1 + (round % 2), 60_000, 'some committed calls');
      // Each call spends most of its time inside its transaction: a kill lands there.
      const { ms } = w.lines[0] as { ms: number };
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * ms)));
      w.child.kill('SIGKILL');
      await w.exited;
      for (const l of w.lines as { committed: number }[]) committed.add(`many${round}-${l.committed}`);
      t.diagnostic(`round ${round}: ${w.lines.length} calls reported committed, ${ms} ms per call`);
    }
    const store = SqliteEventStore.open(path);
    try {
      const all = await store.readAll();
      const byCall = new Map<string, RecordedEvent[]>();
      for (const e of all) {
        const call = e.metadata.stream.slice(0, e.metadata.stream.lastIndexOf('-'));
        byCall.set(call, [...(byCall.get(call) ?? []), e]);
      }
      for (const c of committed) assert.ok(byCall.has(c), `call ${c} reported committed is stored`);
      assert.ok(byCall.size <= committed.size + 4, 'at most one unreported (committed just before the kill) call per round');
      for (const [call, events] of byCall) {
        assert.equal(events.length, streams, `${call} is complete: every stream or none`);
        assert.equal(new Set(events.map((e) => e.metadata.stream)).size, streams);
        for (const e of events) assert.equal(verifyChain(e.metadata.stream, [e]).ok, true);
        for (let i = 1; i < events.length; i++) assert.equal(events[i]!.position, events[i - 1]!.position + 1n, `${call} is contiguous in $all`);
      }
    } finally {
      await store.close();
    }
  });

  it('a subscription sees events appended by another process within tens of milliseconds', async (t) => {
    const path = file('live.db');
    const store = SqliteEventStore.open(path);
    const latencies: number[] = [];
    const sub = store.subscribe({
      name: 'live',
      categories: ['remote'],
      handler: async (e) => void latencies.push(Date.now() - (e.data as { sentAt: number }).sentAt),
    });
    try {
      await sub.caughtUp;
      const w = spawnWorker(['append', path, 'remote-1', '20', '10']);
      assert.equal(await w.exited, 0);
      await until(() => latencies.length === 20, 5_000, 'all remote events');
      latencies.sort((x, y) => x - y);
      t.diagnostic(`cross-process delivery latency ms: median ${latencies[10]}, max ${latencies[19]}`);
      assert.ok(latencies[10]! < 100, `median latency ${latencies[10]} ms`);
    } finally {
      await sub.stop();
      await store.close();
    }
  });


  it('waitForAppend wakes at a commit by another process, and times out when nothing is written', async (t) => {
    const path = file('wake.db');
    const store = SqliteEventStore.open(path);
    try {
      // Nothing written: the wait lasts its full time.
      let started = performance.now();
      await store.waitForAppend(150);
      assert.ok(performance.now() - started >= 140, 'an idle wait lasts its timeout');
      // Another process commits 5 events 300 ms apart: each wait of 10 s ends at a commit.
      const w = spawnWorker(['append', path, 'wake-1', '5', '300']);
      const woken: number[] = [];
      let stored = 0;
      while (woken.length < 5) {
        started = performance.now();
        await store.waitForAppend(10_000);
        woken.push(performance.now() - started);
        // The wait ends once the commit is visible, not when it starts writing the WAL file.
        const now = (await store.readAll()).length;
        assert.ok(now > stored, `the commit that ended wait ${woken.length} is readable (${now} events, ${stored} before)`);
        stored = now;
        if (stored >= 5) break;
      }
      assert.equal(await w.exited, 0);
      t.diagnostic(`waits ended after ${woken.map((ms) => ms.toFixed(0)).join(', ')} ms`);
      assert.ok(woken.every((ms) => ms < 5_000), `every wait ended at a commit, not at its 10 s timeout: ${woken.join(', ')}`);
      assert.equal((await store.readAll()).length, 5);
    } finally {
      await store.close();
    }
    await rejectsWithCode(store.waitForAppend(10), 'EVENT_STORE_UNAVAILABLE');
  });
  it('waitForAppend does not sleep through a commit made while its caller was reading', async () => {
    const path = file('missed.db');
    const reader = SqliteEventStore.open(path);
    const writer = SqliteEventStore.open(path);
    try {
      await reader.waitForAppend(50); // starts watching; nothing written: times out
      // The caller is busy (not waiting) when another connection commits...
      await writer.append('missed-1', [{ eventId: 'missed-1/1', type: 'T', data: {} }], 'any');
      await new Promise((r) => setTimeout(r, 200));
      // ...so the next wait ends at once instead of at its timeout (or the next commit).
      const started = performance.now();
      await reader.waitForAppend(10_000);
      assert.ok(performance.now() - started < 1_000, `woken by the commit made before the wait (${(performance.now() - started).toFixed(0)} ms)`);
      // Seen once: the wait after that lasts its timeout again.
      const again = performance.now();
      await reader.waitForAppend(150);
      assert.ok(performance.now() - again >= 140, 'a commit is not seen twice');
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('keeps subscription checkpoints across closing and reopening the file', async () => {
    const path = file('restart.db');
    let store = SqliteEventStore.open(path);
    await store.append('job-1', [{ eventId: 'j0', type: 'T', data: 0 }, { eventId: 'j1', type: 'T', data: 1 }], 'no-stream');
    const first: string[] = [];
    let sub = store.subscribe({ name: 'jobs', handler: async (e) => void first.push(e.metadata.eventId) });
    await sub.caughtUp;
    await store.close(); // stops the subscription and saves its checkpoint
    assert.deepEqual(first, ['j0', 'j1']);
    store = SqliteEventStore.open(path);
    assert.equal(await store.checkpoints.load('jobs'), 2n);
    await store.append('job-1', [{ eventId: 'j2', type: 'T', data: 2 }], 1);
    const second: string[] = [];
    sub = store.subscribe({ name: 'jobs', handler: async (e) => void second.push(e.metadata.eventId) });
    await sub.caughtUp;
    await sub.stop();
    await store.close();
    assert.deepEqual(second, ['j2']);
  });

  it('finds tampering done directly in the file: edited, deleted and reordered rows', async () => {
    const path = file('tamper.db');
    const store = SqliteEventStore.open(path);
    try {
      for (const s of ['edit-1', 'delete-1', 'swap-1']) {
        await store.append(s, [0, 1, 2, 3].map((i) => ({ eventId: `${s}/${i}`, type: 'Step', data: { i } })), 'no-stream');
        assert.equal(verifyChain(s, await store.readStream(s)).ok, true);
      }
      const raw = new DatabaseSync(path);
      try {
        raw.prepare("UPDATE events SET data = '{\"i\":42}' WHERE stream = 'edit-1' AND revision = 2").run();
        raw.prepare("DELETE FROM events WHERE stream = 'delete-1' AND revision = 1").run();
        // Swap the contents of revisions 1 and 2 while keeping the revision numbers in order.
        raw.exec(`UPDATE events SET revision = -1 WHERE stream = 'swap-1' AND revision = 1;
                  UPDATE events SET revision = 1 WHERE stream = 'swap-1' AND revision = 2;
                  UPDATE events SET revision = 2 WHERE stream = 'swap-1' AND revision = -1;`);
      } finally {
        raw.close();
      }
      const verdict = async (s: string): Promise<unknown> => {
        const v = verifyChain(s, await store.readStream(s));
        return v.ok ? 'ok' : v.brokenAt;
      };
      assert.equal(await verdict('edit-1'), 2);
      assert.equal(await verdict('delete-1'), 1);
      assert.equal(await verdict('swap-1'), 1);
    } finally {
      await store.close();
    }
  });

  it('reports rows that cannot be decoded as CorruptEventError', async () => {
    const path = file('corrupt.db');
    const store = SqliteEventStore.open(path);
    try {
      await store.append('bad-1', [{ eventId: 'b0', type: 'T', data: {} }], 'no-stream');
      await store.append('bad-2', [{ eventId: 'b1', type: 'T', data: {} }], 'no-stream');
      const raw = new DatabaseSync(path);
      raw.exec("UPDATE events SET data = '{not json' WHERE event_id = 'b0'; UPDATE events SET hash = 'short' WHERE event_id = 'b1';");
      raw.close();
      const e1 = await rejectsWithCode(store.readStream('bad-1'), 'CORRUPT_EVENT', CorruptEventError);
      assert.equal(e1.details.stream, 'bad-1');
      const e2 = await rejectsWithCode(store.readAll({ categories: ['bad'], after: 1n }), 'CORRUPT_EVENT', CorruptEventError);
      assert.equal(e2.details.field, 'hash');
    } finally {
      await store.close();
    }
  });

  it('refuses an event id already used in another stream', async () => {
    const store = SqliteEventStore.open(file('ids.db'));
    try {
      await store.append('one-1', [{ eventId: 'shared', type: 'T', data: {} }], 'no-stream');
      await rejectsWithCode(store.append('two-1', [{ eventId: 'shared', type: 'T', data: {} }], 'no-stream'), 'DUPLICATE_EVENT_ID', DuplicateEventIdError);
      assert.deepEqual(await store.readStream('two-1', { ifMissing: 'empty' }), []);
    } finally {
      await store.close();
    }
  });

  it('maps a read-only file to EventStoreUnavailableError', async () => {
    const path = file('readonly.db');
    const writer = SqliteEventStore.open(path);
    await writer.append('ro-1', [{ eventId: 'r0', type: 'T', data: {} }], 'no-stream');
    const reader = SqliteEventStore.open(path, { readOnly: true });
    try {
      const error = await rejectsWithCode(reader.append('ro-1', [{ eventId: 'r1', type: 'T', data: {} }], 0), 'EVENT_STORE_UNAVAILABLE', EventStoreUnavailableError);
      assert.match(error.message, /SQLITE_READONLY/);
      assert.equal((await reader.readStream('ro-1')).length, 1, 'reads still work');
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  it('maps a full store to EventStoreUnavailableError and keeps nothing of the failed batch', async () => {
    const path = file('full.db');
    const small = SqliteEventStore.open(path, { maxPageCount: 40 });
    const payload = 'y'.repeat(2000);
    let failedAt = -1;
    try {
      for (let k = 0; k < 100 && failedAt < 0; k++) {
        const events = Array.from({ length: 10 }, (_, i) => ({ eventId: `full-${k}/${i}`, type: 'T', data: { payload } }));
        try {
          await small.append(`full-${k}`, events, 'no-stream');
        } catch (error) {
          assert.ok(error instanceof EventStoreUnavailableError, String(error));
          assert.match(error.message, /SQLITE_FULL/);
          failedAt = k;
        }
      }
      assert.ok(failedAt > 0, 'the cap was reached');
      // The same connection still works for reads and for what fits.
      assert.deepEqual(await small.readStream(`full-${failedAt}`, { ifMissing: 'empty' }), []);
    } finally {
      await small.close();
    }
    const roomy = SqliteEventStore.open(path);
    try {
      const all = await roomy.readAll();
      assert.equal(all.length, failedAt * 10, 'only complete batches are stored');
      assert.equal((await roomy.append(`full-${failedAt}`, [{ eventId: `full-${failedAt}/0`, type: 'T', data: { payload } }], 'no-stream')).duplicate, false);
    } finally {
      await roomy.close();
    }
  });

  it('fails on a closed store with EventStoreUnavailableError', async () => {
    const store = SqliteEventStore.open(file('closed.db'));
    await store.close();
    await rejectsWithCode(store.append('x-1', [{ eventId: 'c', type: 'T', data: {} }], 'any'), 'EVENT_STORE_UNAVAILABLE', EventStoreUnavailableError);
    await rejectsWithCode(store.readAll(), 'EVENT_STORE_UNAVAILABLE', EventStoreUnavailableError);
  });

  it('openEventStore picks SQLite without EVENTSTORE_URL and refuses an unknown URL scheme', async () => {
    const path = file('factory/events.db');
    const store = await openEventStore({ EVENTSTORE_SQLITE_PATH: path });
    try {
      assert.ok(store instanceof SqliteEventStore);
      assert.equal(store.path, path);
    } finally {
      await store.close();
    }
    await rejectsWithCode(openEventStore({ EVENTSTORE_URL: 'postgres://db/events' }), 'VALIDATION_FAILED');
  });
});

describe('SqliteEventStore group commit (appends in one turn of the event loop share a transaction)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-es-group-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ev = (id: string, data: Record<string, unknown> = {}) => ({ eventId: id, type: 'T', data });

  it('commits many concurrent appends together: each resolves with its own result, all durable and chained', async () => {
    const path = join(dir, 'group.db');
    const store = SqliteEventStore.open(path);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.append(`g-${i % 10}`, [ev(`g-${i}`, { i })], 'any')));
    assert.equal(results.length, 50);
    assert.equal(new Set(results.map((r) => r.position)).size, 50, 'every append has its own position');
    const all = await store.readAll();
    assert.equal(new Set(all.map((e) => e.metadata.recordedAt)).size, 1, 'one transaction: one recorded-at for the batch');
    for (let s = 0; s < 10; s++) {
      const events = await store.readStream(`g-${s}`);
      assert.deepEqual(events.map((e) => e.metadata.revision), [0, 1, 2, 3, 4], 'appends to one stream in one batch get consecutive revisions');
      assert.equal(verifyChain(`g-${s}`, events).ok, true);
    }
    await store.close();
    const reopened = SqliteEventStore.open(path);
    assert.equal((await reopened.readAll()).length, 50, 'all of it survives a reopen');
    await reopened.close();
  });

  it('a refused append in a batch is rejected alone; the others in the same batch are stored', async () => {
    const store = SqliteEventStore.open(join(dir, 'refused.db'));
    try {
      const outcomes = await Promise.allSettled([
        store.append('race-1', [ev('race-a')], 'no-stream'),
        store.append('race-1', [ev('race-b')], 'no-stream'),
        store.append('other-1', [ev('other-a')], 'no-stream'),
        store.append('other-2', [ev('race-a')], 'no-stream'),
      ]);
      assert.equal(outcomes[0]!.status, 'fulfilled');
      assert.equal(outcomes[1]!.status, 'rejected');
      assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, 'WRONG_EXPECTED_VERSION');
      assert.equal(outcomes[2]!.status, 'fulfilled');
      assert.equal(outcomes[3]!.status, 'rejected', 'an event id already used in the batch by another stream is refused');
      assert.equal((outcomes[3] as PromiseRejectedResult).reason.code, 'DUPLICATE_EVENT_ID');
      assert.deepEqual((await store.readAll()).map((e) => e.metadata.eventId), ['race-a', 'other-a']);
    } finally {
      await store.close();
    }
  });

  it('appends the disk cannot hold are rejected with EVENT_STORE_UNAVAILABLE; exactly the appends that resolved are stored', async () => {
    const path = join(dir, 'full-batch.db');
    const small = SqliteEventStore.open(path, { maxPageCount: 40 });
    const payload = 'z'.repeat(3000);
    try {
      await small.append('keep-1', [ev('keep-1', { note: 'before the batch' })], 'no-stream');
      const outcomes = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => small.append(`fill-${i}`, [ev(`fill-${i}`, { payload })], 'no-stream')));
      const rejected = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
      assert.ok(rejected.length > 0, 'the cap was reached');
      for (const r of rejected) assert.equal(r.reason.code, 'EVENT_STORE_UNAVAILABLE');
      const stored = (await small.readAll()).map((e) => e.metadata.eventId);
      const fulfilled = outcomes.filter((o) => o.status === 'fulfilled').length;
      assert.equal(stored.length, 1 + fulfilled, 'exactly the appends that resolved are stored');
      assert.equal(stored[0], 'keep-1', 'what was stored before is untouched');
    } finally {
      await small.close();
    }
  });

  it('close() commits the appends already accepted before it closes the file', async () => {
    const path = join(dir, 'close.db');
    const store = SqliteEventStore.open(path);
    const pending = Array.from({ length: 5 }, (_, i) => store.append(`c-${i}`, [ev(`c-${i}`)], 'no-stream'));
    await store.close();
    await Promise.all(pending);
    const reopened = SqliteEventStore.open(path);
    assert.equal((await reopened.readAll()).length, 5);
    await reopened.close();
  });
});

describe('openEventStore: EVENTSTORE_SQLITE_GROUP_COMMIT', () => {
  it('accepts true/false and refuses anything else with VALIDATION_FAILED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-es-open-'));
    try {
      for (const v of ['false', 'true', '']) await (await openEventStore({ EVENTSTORE_SQLITE_PATH: join(dir, 'e.db'), EVENTSTORE_SQLITE_GROUP_COMMIT: v })).close();
      const off = await openEventStore({ EVENTSTORE_SQLITE_PATH: join(dir, 'off.db'), EVENTSTORE_SQLITE_GROUP_COMMIT: 'false' });
      await Promise.all([off.append('o-1', [{ eventId: 'o1', type: 'T', data: {} }], 'any'), off.append('o-2', [{ eventId: 'o2', type: 'T', data: {} }], 'any')]);
      assert.equal((await off.readAll()).length, 2);
      await off.close();
      await rejectsWithCode(openEventStore({ EVENTSTORE_SQLITE_PATH: join(dir, 'x.db'), EVENTSTORE_SQLITE_GROUP_COMMIT: 'sometimes' }), 'VALIDATION_FAILED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
