#!/usr/bin/env node
import { setPriority } from 'node:os';
import { runServiceProcess } from '@patchbay/service-host';
import { executorService } from './index.js';
import { loadExecutorSettings } from './settings.js';

// The executor's own process yields the CPU to the event path when it is short (PATCHBAY_EXECUTOR_NICE).
runServiceProcess(executorService, {
  beforeStart: () => {
    const { nice } = loadExecutorSettings();
    if (nice > 0) setPriority(nice);
  },
});
