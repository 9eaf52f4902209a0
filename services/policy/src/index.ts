import type { ServiceDefinition } from '@patchbay/service-host';

/** The policy service as the host runs it (own process, or inside `patchbay up --single-process`). */
export const policyService: ServiceDefinition = {
  name: 'policy',
  imports: [],
};
