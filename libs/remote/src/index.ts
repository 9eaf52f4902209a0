export * from './errors.js';
export type * from './port.js';
export * from './quote-argv.js';
