import type { ServiceDefinition } from '@patchbay/service-host';

/** The executor service as the host runs it (own process, or inside `patchbay up --single-process`). */
export const executorService: ServiceDefinition = {
  name: 'executor',
  imports: [],
};
