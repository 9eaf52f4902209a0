export * from './port.js';
export { SqliteEventStore } from './sqlite.js';
export type { SqliteEventStoreOptions } from './sqlite.js';
export { KurrentEventStore, KurrentCheckpointStore, toKurrentEventId, fromKurrentPosition, toKurrentPosition } from './kurrentdb.js';
export type { KurrentEventStoreOptions } from './kurrentdb.js';
export { openEventStore, DEFAULT_SQLITE_PATH } from './open.js';
export type { EventStoreConfig } from './open.js';
