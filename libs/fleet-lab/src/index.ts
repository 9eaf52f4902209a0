export * from './scenario.js';
export * from './sim/index.js';
export * from './lab/index.js';
export * from './driver/index.js';
export * from './bundles.js';
