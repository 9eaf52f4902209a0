import { DatabaseSync } from 'node:sqlite';
import type { EndpointLookup } from '../domain/group-decider.js';
import type { EndpointFacts } from '../domain/membership.js';

/**
 * Opens the policy service's own SQLite file (endpoint directory and applied-event ledger). WAL
 * with `synchronous=NORMAL`: a crash may lose the last commits, never corrupt; lost facts are
 * redelivered by JetStream because their "applied" marks are lost with them.
 */
export function openPolicyDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;');
  return db;
}

/**
 * The endpoints policy knows of, built from inventory's lifecycle events (registered, labels
 * changed, retired) and kept in the policy service's own SQLite file, in the same database as the
 * applied-event ledger so a fact and its "applied" mark commit together. A copy in memory answers
 * membership computations.
 */
export class EndpointDirectory implements EndpointLookup {
  private readonly facts = new Map<string, EndpointFacts>();

  constructor(private readonly db: DatabaseSync) {
    db.exec(`CREATE TABLE IF NOT EXISTS policy_endpoints (
      endpoint_id TEXT PRIMARY KEY,
      labels TEXT NOT NULL,
      retired INTEGER NOT NULL,
      updated_at TEXT NOT NULL
    ) WITHOUT ROWID`);
    for (const row of db.prepare('SELECT endpoint_id, labels, retired FROM policy_endpoints').all() as Array<{ endpoint_id: string; labels: string; retired: number }>) {
      this.facts.set(row.endpoint_id, { endpointId: row.endpoint_id, labels: JSON.parse(row.labels) as Record<string, string>, retired: row.retired === 1 });
    }
  }

  get(endpointId: string): EndpointFacts | undefined {
    return this.facts.get(endpointId);
  }

  ids(): Iterable<string> {
    return this.facts.keys();
  }

  get size(): number {
    return this.facts.size;
  }

  /**
   * Records new facts (inside the caller's transaction) and shows them at once to membership
   * computations; returns an undo for when the transaction rolls back.
   */
  put(facts: EndpointFacts): () => void {
    const previous = this.facts.get(facts.endpointId);
    this.db
      .prepare(
        `INSERT INTO policy_endpoints (endpoint_id, labels, retired, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (endpoint_id) DO UPDATE SET labels = excluded.labels, retired = excluded.retired, updated_at = excluded.updated_at`,
      )
      .run(facts.endpointId, JSON.stringify(facts.labels), facts.retired ? 1 : 0, new Date().toISOString());
    this.facts.set(facts.endpointId, facts);
    return () => {
      if (previous) this.facts.set(facts.endpointId, previous);
      else this.facts.delete(facts.endpointId);
    };
  }
}
