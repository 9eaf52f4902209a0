import type { ServiceDefinition } from '@patchbay/service-host';
import { InventoryModule } from './inventory.module.js';

export * from './domain/endpoint.js';
export * from './domain/errors.js';
export { inventoryToSpecs, hostToSpec, groupLabelKey } from './domain/import/endpoint-spec.js';
export { planImport, importSource } from './domain/import/plan.js';
export { InventoryService, ImportInterruptedError } from './inventory-service.js';
export { FactsGatherer } from './facts-gatherer.js';
export { loadInventorySettings } from './settings.js';
export { InventoryModule } from './inventory.module.js';

/** The inventory service as the host runs it (own process, or inside `patchbay up --single-process`). */
export const inventoryService: ServiceDefinition = {
  name: 'inventory',
  imports: [InventoryModule],
};
