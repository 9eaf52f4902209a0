#!/usr/bin/env node
import { runServiceProcess } from '@patchbay/service-host';
import { policyService } from './index.js';

runServiceProcess(policyService);
