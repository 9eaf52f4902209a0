import type { ServiceDefinition } from '@patchbay/service-host';
import { PolicyModule } from './app/policy.module.js';

/** The policy service as the host runs it (own process, or inside `patchbay up --single-process`). */
export const policyService: ServiceDefinition = {
  name: 'policy',
  imports: [PolicyModule],
};

export { PolicyModule, POLICY_DB_FILE } from './app/policy.module.js';
export { PolicyApplication, readPolicyDirectory, ENDPOINT_CONSUMER } from './app/policy-application.js';
export type { BundleApplyReply, BundleChange } from './app/policy-application.js';
export { DefinitionRepository, deterministicEventId } from './app/definition-repository.js';
export { EndpointDirectory, openPolicyDatabase } from './app/endpoint-directory.js';
export { MembershipRefresher, type MembershipRefresherOptions } from './app/membership-refresher.js';
export * from './domain/membership.js';
export * from './domain/windows.js';
export * from './domain/definitions.js';
export * from './domain/errors.js';
export * from './domain/bundle.js';
export * from './domain/group-decider.js';
export * from './domain/policy-decider.js';
export * from './domain/workflow-decider.js';
