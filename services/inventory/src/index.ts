import type { ServiceDefinition } from '@patchbay/service-host';

/** The inventory service as the host runs it (own process, or inside `patchbay up --single-process`). */
export const inventoryService: ServiceDefinition = {
  name: 'inventory',
  imports: [],
};
