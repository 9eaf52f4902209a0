#!/usr/bin/env node
import { loadConfig } from '@patchbay/service-host';
import { manageHeap } from '@patchbay/telemetry';
import { startGateway, type RunningGateway } from './gateway.js';

let running: RunningGateway | undefined;
const stop = async () => {
  try {
    await running?.close();
  } finally {
    process.exit(0);
  }
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
// The process's own settings first (V8's heap growth, as every Patchbay process), then the gateway.
const started = (async () => {
  const config = loadConfig();
  manageHeap(config.nodeHeapGrowingPercent);
  return startGateway(config);
})();
started.then(
  (g) => {
    running = g;
    // The one line `patchbay up` waits for.
    process.stdout.write(`${JSON.stringify({ level: 'info', service: 'gateway', msg: 'listening', url: g.url })}\n`);
  },
  (err: Error & { code?: string }) => {
    process.stderr.write(`${JSON.stringify({ level: 'fatal', service: 'gateway', code: err.code ?? 'STARTUP_FAILED', msg: err.message })}\n`);
    process.exit(err.code === 'CONFIG_INVALID' ? 2 : 1);
  },
);
