import { DatabaseSync } from 'node:sqlite';
import { PatchbayError, type RecordedEvent } from '@patchbay/contracts';
import type { EventDelivery, EventHandler } from './bus.js';

/**
 * The idempotency rule of every consumer:
 *
 *   an event is applied by consumer C only if its stream revision is greater than the last
 *   revision C applied from that stream; applying it and recording the new revision happen in
 *   one unit of work (one SQLite transaction, for the SQLite ledger).
 *
 * Duplicates (JetStream redelivery, a relay republishing after a crash, a republish outside the
 * de-duplication window) carry a revision already recorded and are skipped. Per-stream order is
 * the precondition: consumers keep `maxAckPending: 1` (the default) so an older event of a stream
 * is never delivered after a newer one.
 */
export interface AppliedEventLedger {
  /** Last applied revision of `stream` for `consumer`; undefined when nothing was applied. */
  lastApplied(consumer: string, stream: string): Promise<number | undefined>;
  /**
   * Runs `effect` and records the event as applied, unless it was already applied. When `effect`
   * throws nothing is recorded (and, for SQLite, the effect's own writes to the ledger's database
   * are rolled back).
   */
  applyOnce<T>(consumer: string, event: RecordedEvent, effect: () => Promise<T> | T): Promise<ApplyOutcome<T>>;
  close(): Promise<void>;
}

export type ApplyOutcome<T> = { applied: true; result: T } | { applied: false; lastApplied: number };

/** Serialises async work so one transaction never interleaves with another. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Ledger in memory: for tests and for read models that are rebuilt from scratch on start. */
export class InMemoryAppliedEventLedger implements AppliedEventLedger {
  private readonly revisions = new Map<string, number>();
  private readonly serial = new Serial();

  private key(consumer: string, stream: string): string {
    return `${consumer}\u0000${stream}`;
  }

  async lastApplied(consumer: string, stream: string): Promise<number | undefined> {
    return this.revisions.get(this.key(consumer, stream));
  }

  applyOnce<T>(consumer: string, event: RecordedEvent, effect: () => Promise<T> | T): Promise<ApplyOutcome<T>> {
    return this.serial.run(async () => {
      const key = this.key(consumer, event.metadata.stream);
      const last = this.revisions.get(key);
      if (last !== undefined && event.metadata.revision <= last) return { applied: false, lastApplied: last };
      const result = await effect();
      this.revisions.set(key, event.metadata.revision);
      return { applied: true, result };
    });
  }

  async close(): Promise<void> {}
}

/** The ledger's database could not be opened or written. */
export class LedgerUnavailableError extends PatchbayError {
  constructor(message: string) {
    super('LEDGER_UNAVAILABLE', message);
  }
}

/**
 * Ledger in a SQLite file (`node:sqlite`). Give it the same `DatabaseSync` the consumer keeps its
 * read model in, and the effect's writes commit or roll back together with the applied revision:
 * exactly-once application even across crashes.
 */
export class SqliteAppliedEventLedger implements AppliedEventLedger {
  readonly db: DatabaseSync;
  private readonly ownsDb: boolean;
  private readonly serial = new Serial();

  /** @param target a file path (opened and owned here) or an open database (owned by the caller). */
  constructor(target: string | DatabaseSync) {
    try {
      this.ownsDb = typeof target === 'string';
      this.db = typeof target === 'string' ? new DatabaseSync(target) : target;
      if (this.ownsDb) this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
      this.db.exec(`CREATE TABLE IF NOT EXISTS patchbay_applied_events (
        consumer TEXT NOT NULL,
        stream TEXT NOT NULL,
        revision INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        position TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        PRIMARY KEY (consumer, stream)
      ) WITHOUT ROWID`);
    } catch (err) {
      throw new LedgerUnavailableError(`cannot open the applied-event ledger: ${(err as Error).message}`);
    }
  }

  async lastApplied(consumer: string, stream: string): Promise<number | undefined> {
    const row = this.db.prepare('SELECT revision FROM patchbay_applied_events WHERE consumer = ? AND stream = ?').get(consumer, stream) as { revision: number } | undefined;
    return row?.revision;
  }

  applyOnce<T>(consumer: string, event: RecordedEvent, effect: () => Promise<T> | T): Promise<ApplyOutcome<T>> {
    return this.serial.run(async () => {
      const m = event.metadata;
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const last = await this.lastApplied(consumer, m.stream);
        if (last !== undefined && m.revision <= last) {
          this.db.exec('ROLLBACK');
          return { applied: false, lastApplied: last };
        }
        const result = await effect();
        this.db
          .prepare(
            `INSERT INTO patchbay_applied_events (consumer, stream, revision, event_id, position, applied_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (consumer, stream) DO UPDATE SET revision = excluded.revision, event_id = excluded.event_id, position = excluded.position, applied_at = excluded.applied_at`,
          )
          .run(consumer, m.stream, m.revision, m.eventId, event.position.toString(), new Date().toISOString());
        this.db.exec('COMMIT');
        return { applied: true, result };
      } catch (err) {
        if (this.db.isTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.ownsDb && this.db.isOpen) this.db.close();
  }
}

/**
 * Wraps a consumer handler so it follows the idempotency rule of `AppliedEventLedger`: duplicates
 * are acked without running the handler. `consumer` names the ledger's entries (usually the durable).
 */
export function idempotent(ledger: AppliedEventLedger, consumer: string, handler: (event: RecordedEvent, delivery: EventDelivery) => Promise<void> | void): EventHandler {
  return async (event, delivery) => {
    await ledger.applyOnce(consumer, event, () => handler(event, delivery));
  };
}
