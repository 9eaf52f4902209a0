import { ValidationError } from '@patchbay/contracts';
import type { EventStore } from './port.js';
import { SqliteEventStore } from './sqlite.js';
import type { SqliteEventStoreOptions } from './sqlite.js';

/** Where the embedded store lives when nothing else is configured. */
export const DEFAULT_SQLITE_PATH = './.patchbay/events.db';

/** Configuration read by {@link openEventStore}; usually `process.env`. */
export interface EventStoreConfig {
  /** `kurrentdb://…` or `esdb://…` selects KurrentDB; empty or unset selects SQLite. */
  EVENTSTORE_URL?: string;
  /** SQLite file path (default `./.patchbay/events.db`). */
  EVENTSTORE_SQLITE_PATH?: string;
  /** `false` turns the SQLite store's group commit off (one transaction per append); default on. */
  EVENTSTORE_SQLITE_GROUP_COMMIT?: string;
  sqlite?: SqliteEventStoreOptions;
}

/**
 * Opens the configured event store: KurrentDB when `EVENTSTORE_URL` is a `kurrentdb://`,
 * `kurrentdb+discover://`, `esdb://` or `esdb+discover://` connection string, else the embedded
 * SQLite store at `EVENTSTORE_SQLITE_PATH` (default `./.patchbay/events.db`).
 */
export async function openEventStore(config: EventStoreConfig = process.env): Promise<EventStore> {
  const url = config.EVENTSTORE_URL?.trim();
  if (url) {
    if (!/^(kurrentdb|kdb|esdb)(\+discover)?:\/\//i.test(url)) {
      throw new ValidationError('EVENTSTORE_URL must be a kurrentdb:// or esdb:// connection string', { field: 'EVENTSTORE_URL' });
    }
    const { KurrentEventStore } = await import('./kurrentdb.js');
    return KurrentEventStore.connect(url);
  }
  const group = config.EVENTSTORE_SQLITE_GROUP_COMMIT?.trim().toLowerCase();
  if (group && !['true', 'false', '1', '0', 'on', 'off'].includes(group)) throw new ValidationError('EVENTSTORE_SQLITE_GROUP_COMMIT must be true or false', { field: 'EVENTSTORE_SQLITE_GROUP_COMMIT' });
  const groupCommit = group === undefined || group === '' ? undefined : ['true', '1', 'on'].includes(group);
  return SqliteEventStore.open(config.EVENTSTORE_SQLITE_PATH || DEFAULT_SQLITE_PATH, { ...(groupCommit === undefined ? {} : { groupCommit }), ...config.sqlite });
}
