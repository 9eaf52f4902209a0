import type { ServiceDefinition } from '@patchbay/service-host';

/** The planner service as the host runs it (own process, or inside `patchbay up --single-process`). */
export const plannerService: ServiceDefinition = {
  name: 'planner',
  imports: [],
};
