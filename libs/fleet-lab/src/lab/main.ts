#!/usr/bin/env node
import { Command } from 'commander';
import { registerLabCommands } from './cli.js';

// Stand-alone entry (`node dist/lab/main.js lab up --hosts 3`); the patchbay CLI mounts the same commands.
const program = new Command('patchbay-lab');
registerLabCommands(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
