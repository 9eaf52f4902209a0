export * from './gateway.js';
export * from './server.js';
export * from './schema/health.js';
