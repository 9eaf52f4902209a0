#!/usr/bin/env node
import { runServiceProcess } from '@patchbay/service-host';
import { inventoryService } from './index.js';

runServiceProcess(inventoryService);
