import type { ServiceDefinition } from '@patchbay/service-host';
import { ExecutorModule, type ExecutorModuleOptions } from './executor.module.js';

/** The executor service with explicit options (tests, an embedded process with its own remote executor). */
export function createExecutorService(options: ExecutorModuleOptions = {}): ServiceDefinition {
  return { name: 'executor', imports: [ExecutorModule.forRoot(options)] };
}

/** The executor service as the host runs it (own process, or inside `patchbay up --single-process`), configured from the environment. */
export const executorService: ServiceDefinition = createExecutorService();

export { ExecutorModule, ExecutorHandle, EXECUTOR, type ExecutorModuleOptions } from './executor.module.js';
export { Executor, ExecutorAtCapacityError, RunSlots, RELEASED_DURABLE, RELEASED_SUBJECT, type ExecutorOptions, type ExecutorStats } from './executor.js';
export { EndpointRun, RunOwnershipLostError, runEventId, parseCrashFault, type CrashFault, type ExecutorLog } from './endpoint-run.js';
export { loadExecutorSettings, type ExecutorSettings } from './settings.js';
export { pinnedHostKeyVerifier } from './host-keys.js';
export * from './domain/run-state.js';
export * from './domain/package-commands.js';
export { runStep, rebootCommand, StepFailure, type StepOutcome, type StepContext } from './activities/steps.js';
