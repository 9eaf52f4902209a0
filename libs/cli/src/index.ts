export * from './up.js';
export * from './stack.js';
