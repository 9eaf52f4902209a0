#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { registerLabCommands } from '@patchbay/fleet-lab';
import { up } from './up.js';

const program = new Command('patchbay').description('Patchbay: event-sourced patch orchestration').version('0.1.0');

const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
};

program
  .command('up')
  .description('start the whole stack on the embedded default (nats-server, SQLite store, services, relay, gateway)')
  .option('--single-process', 'run every service in this process (they still talk only through NATS)')
  .option('--data-dir <dir>', 'where the SQLite store, JetStream data and logs live (default ./.patchbay)')
  .option('--port <port>', 'GraphQL port (0 = any free port; default GATEWAY_PORT or 4000)', port)
  .action(async (opts: { singleProcess?: boolean; dataDir?: string; port?: number }) => {
    await up({ singleProcess: opts.singleProcess, dataDir: opts.dataDir, port: opts.port });
  });

registerLabCommands(program);

program.parseAsync(process.argv).catch((err: Error & { code?: string }) => {
  process.stderr.write(`patchbay: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`);
  process.exit(err.code === 'CONFIG_INVALID' ? 2 : 1);
});
