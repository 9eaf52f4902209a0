export * from './port.js';
export { SqliteEventStore } from './sqlite.js';
export type { SqliteEventStoreOptions } from './sqlite.js';
// The KurrentDB adapter (and its gRPC client, ~35 MB per process) is loaded only when
// EVENTSTORE_URL asks for it, by `openEventStore`; import `@patchbay/event-store/dist/kurrentdb.js`
// to use it directly.
export type { KurrentEventStore, KurrentEventStoreOptions } from './kurrentdb.js';
export { openEventStore, DEFAULT_SQLITE_PATH } from './open.js';
export type { EventStoreConfig } from './open.js';
