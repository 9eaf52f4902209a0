#!/usr/bin/env node
import { runServiceProcess } from '@patchbay/service-host';
import { executorService } from './index.js';

runServiceProcess(executorService);
