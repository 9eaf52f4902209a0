export * from './errors.js';
export type * from './port.js';
export * from './quote-argv.js';
export * from './remote-command.js';
export * from './host-key.js';
export * from './secret-resolver.js';
export * from './ssh2-executor.js';
