export * from './sdk.js';
export * from './trace-context.js';
export * from './logger.js';
export * from './metrics.js';
export * from './metric-reader.js';
export * from './runtime.js';
export * from './heap.js';
