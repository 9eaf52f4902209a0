#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { registerLabCommands } from '@patchbay/fleet-lab';
import { registerClientCommands } from './client/commands.js';
import { runDemo } from './demo.js';
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

program
  .command('demo')
  .description('the main job on the embedded default: stack, real lab hosts, inventory, groups, workflow, policy, a cycle and an emergency cycle (as root)')
  .option('--hosts <n>', 'lab hosts (default 5)', (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 50) throw new InvalidArgumentError('must be 1-50');
    return n;
  })
  .option('--data-dir <dir>', 'where the store, JetStream data, logs and the lab live (default ./.patchbay)')
  .option('--port <port>', 'GraphQL port (default any free port)', port)
  .option('--single-process', 'run the services in one process')
  .option('--exit', 'stop everything once both cycles are done')
  .action(async (opts: { hosts?: number; dataDir?: string; port?: number; singleProcess?: boolean; exit?: boolean }) => {
    const r = await runDemo({ hosts: opts.hosts, dataDir: opts.dataDir, port: opts.port, singleProcess: opts.singleProcess, exitWhenDone: opts.exit });
    if (r.cycles.some((c) => c.status !== 'completed')) process.exitCode = 1;
  });

registerLabCommands(program);
registerClientCommands(program);

program.parseAsync(process.argv).catch((err: Error & { code?: string }) => {
  process.stderr.write(`patchbay: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`);
  process.exit(err.code === 'CONFIG_INVALID' ? 2 : 1);
});
