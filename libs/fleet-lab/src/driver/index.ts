export * from './errors.js';
export * from './quote-argv.js';
export * from './ssh-host.js';
export * from './workflow.js';
