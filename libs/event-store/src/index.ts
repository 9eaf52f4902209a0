export * from './port.js';
export { SqliteEventStore } from './sqlite.js';
export type { SqliteEventStoreOptions } from './sqlite.js';
export { KurrentEventStore } from './kurrentdb.js';
export { openEventStore, DEFAULT_SQLITE_PATH } from './open.js';
export type { EventStoreConfig } from './open.js';
