export * from './sdk.js';
export * from './trace-context.js';
export * from './logger.js';
