export * from './up.js';
export * from './stack.js';
export * from './demo.js';
