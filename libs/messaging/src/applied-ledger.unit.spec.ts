import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS_HASH, type RecordedEvent } from '@patchbay/contracts';
import { InMemoryAppliedEventLedger, SqliteAppliedEventLedger, type AppliedEventLedger } from './applied-ledger.js';

const at = (stream: string, revision: number, position = BigInt(revision + 1)): RecordedEvent => ({
  type: 'T',
  data: {},
  position,
  metadata: { eventId: `${stream}@${revision}`, stream, revision, correlationId: 'c', causationId: 'c', actor: 'a', recordedAt: '2026-01-01T00:00:00Z', schemaVersion: 1, prevHash: GENESIS_HASH, hash: GENESIS_HASH },
});

const ledgers: [string, () => { ledger: AppliedEventLedger; done: () => Promise<void> }][] = [
  ['in memory', () => {
    const ledger = new InMemoryAppliedEventLedger();
    return { ledger, done: () => ledger.close() };
  }],
  ['SQLite', () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-ledger-'));
    const ledger = new SqliteAppliedEventLedger(join(dir, 'ledger.db'));
    return { ledger, done: async () => { await ledger.close(); rmSync(dir, { recursive: true, force: true }); } };
  }],
];

for (const [name, make] of ledgers) {
  describe(`${name} applied-event ledger`, () => {
    it('applies each stream revision once and skips duplicates and older revisions', async () => {
      const { ledger, done } = make();
      try {
        const applied: string[] = [];
        const apply = (e: RecordedEvent) => ledger.applyOnce('c1', e, () => applied.push(e.metadata.eventId));
        for (const e of [at('s', 0), at('s', 1), at('s', 1), at('t', 0), at('s', 0), at('s', 3), at('s', 2)]) await apply(e);
        assert.deepEqual(applied, ['s@0', 's@1', 't@0', 's@3']);
        assert.equal(await ledger.lastApplied('c1', 's'), 3);
        assert.equal(await ledger.lastApplied('c2', 's'), undefined, 'consumers are independent');
        assert.deepEqual(await ledger.applyOnce('c1', at('s', 3), () => 'x'), { applied: false, lastApplied: 3 });
      } finally {
        await done();
      }
    });

    it('records nothing when the effect fails, so the retry applies it', async () => {
      const { ledger, done } = make();
      try {
        await assert.rejects(ledger.applyOnce('c', at('s', 0), () => Promise.reject(new Error('down'))), /down/);
        assert.equal(await ledger.lastApplied('c', 's'), undefined);
        assert.deepEqual(await ledger.applyOnce('c', at('s', 0), () => 7), { applied: true, result: 7 });
      } finally {
        await done();
      }
    });

    it('runs concurrent calls one at a time so a duplicate racing its original is still skipped', async () => {
      const { ledger, done } = make();
      try {
        let runs = 0;
        const slow = () => new Promise<void>((r) => setTimeout(() => { runs++; r(); }, 20));
        await Promise.all([ledger.applyOnce('c', at('s', 0), slow), ledger.applyOnce('c', at('s', 0), slow)]);
        assert.equal(runs, 1);
      } finally {
        await done();
      }
    });
  });
}

describe('SQLite ledger sharing the read model database', () => {
  it('rolls back the effect writes together with the mark, and keeps both across a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-ledger-'));
    try {
      const path = join(dir, 'model.db');
      let ledger = new SqliteAppliedEventLedger(path);
      ledger.db.exec('CREATE TABLE endpoints (id TEXT PRIMARY KEY)');
      const insert = () => ledger.db.prepare('INSERT INTO endpoints (id) VALUES (?)');
      await assert.rejects(ledger.applyOnce('rm', at('endpoint-a', 0), () => {
        insert().run('a');
        throw new Error('crash after the write');
      }));
      assert.equal((ledger.db.prepare('SELECT count(*) AS n FROM endpoints').get() as { n: number }).n, 0);
      await ledger.applyOnce('rm', at('endpoint-a', 0), () => insert().run('a'));
      await ledger.close();
      ledger = new SqliteAppliedEventLedger(path);
      const outcome = await ledger.applyOnce('rm', at('endpoint-a', 0), () => insert().run('a'));
      assert.equal(outcome.applied, false);
      assert.equal((ledger.db.prepare('SELECT count(*) AS n FROM endpoints').get() as { n: number }).n, 1);
      await ledger.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports an unusable file with LEDGER_UNAVAILABLE', () => {
    assert.throws(() => new SqliteAppliedEventLedger(join(tmpdir(), 'no-such-dir-patchbay', 'x', 'ledger.db')), { code: 'LEDGER_UNAVAILABLE' });
  });
});
