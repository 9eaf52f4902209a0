export * from './config.js';
export * from './health.js';
export * from './bootstrap.js';
