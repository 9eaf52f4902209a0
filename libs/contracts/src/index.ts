export * from './canonical-json.js';
export * from './errors.js';
export * from './event.js';
export * from './stream-names.js';
export * from './commands.js';
export * from './inventory.js';
export * from './workflow.js';
export * from './policy.js';
