export * from './scenario.js';
export * from './lab/index.js';
