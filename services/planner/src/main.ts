#!/usr/bin/env node
import { runServiceProcess } from '@patchbay/service-host';
import { plannerService } from './index.js';

runServiceProcess(plannerService);
