export * from './port.js';
export * from './errors.js';
export {
  SUPPORTED_LOGICAL_OPERATORS,
  SUPPORTED_FIELD_OPERATORS,
  SUPPORTED_UPDATE_OPERATORS,
  SUPPORTED_PIPELINE_STAGES,
  SUPPORTED_ACCUMULATORS,
  CODE_EXECUTING_OPERATORS,
  checkFilter,
  checkUpdate,
  checkPipeline,
} from './dialect.js';
export { EmbeddedReadStore } from './embedded.js';
export type { EmbeddedReadStoreOptions } from './embedded.js';
export { MongoReadStore } from './mongo.js';
export type { MongoReadStoreOptions } from './mongo.js';
export { findPage } from './pagination.js';
export type { Edge, Page, PageRequest } from './pagination.js';
export { runProjection, rebuildProjection, loadProjectionPosition, positionKey, PROJECTIONS_COLLECTION } from './projection.js';
export type { ProjectionContext, ProjectionDefinition, RunProjectionOptions, RunningProjection } from './projection.js';
export { openReadStore, DEFAULT_READ_STORE_PATH } from './open.js';
export type { ReadStoreConfig } from './open.js';
export { FerretDbServer, FerretDbMissingError, findFerretDbBinary, defaultFerretDbBinary, FERRETDB_VERSION } from './ferretdb-server.js';
export type { FerretDbServerOptions } from './ferretdb-server.js';
export { PortReadStore, serveReadStore, plainError, reviveError } from './remote.js';
export type { PlainError } from './remote.js';
