export * from './errors.js';
export * from './shell-words.js';
export * from './debian-version.js';
export * from './host-keys.js';
export * from './simulated-host.js';
export * from './fleet.js';
export * from './scenario-file.js';
