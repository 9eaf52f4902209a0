#!/usr/bin/env node
import { setPriority } from 'node:os';
import { runServiceProcess } from '@patchbay/service-host';
import { executorService } from './index.js';
import { loadExecutorSettings } from './settings.js';

// The executor's own process yields the CPU to the event path when it is short (PATCHBAY_EXECUTOR_NICE).
try {
  const { nice } = loadExecutorSettings();
  if (nice > 0) setPriority(nice);
} catch (err) {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', service: 'executor', code: (err as { code?: string }).code ?? 'STARTUP_FAILED', msg: (err as Error).message })}\n`);
  process.exit((err as { code?: string }).code === 'CONFIG_INVALID' ? 2 : 1);
}
runServiceProcess(executorService);
