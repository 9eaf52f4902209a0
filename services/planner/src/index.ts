import { Module } from '@nestjs/common';
import type { ServiceDefinition } from '@patchbay/service-host';
import { PlannerController, PlannerRuntime } from './controller.js';

/** The planner's Nest module: its command handlers and the running planner. */
@Module({ controllers: [PlannerController], providers: [PlannerRuntime] })
export class PlannerModule {}

/** The planner service as the host runs it (own process, or inside `patchbay up --single-process`). */
export const plannerService: ServiceDefinition = {
  name: 'planner',
  imports: [PlannerModule],
};

export { Planner, summarize, RUN_RESULT_SUBJECTS, RUN_RESULTS_DURABLE, CycleOutsideWindowError, type PlannerOptions } from './planner.js';
export { PlanningInputs, INPUT_CATEGORIES } from './inputs.js';
export { CycleRepository, cycleEventId } from './cycle-repository.js';
export { openWindow, nextWindowStart } from './windows.js';
export { planCycle, planHash, printPlan, planHeader, splitPlan, joinPlan, plannedCount } from './domain/plan.js';
export { decide, evolve, initialState, foldCycle, type CycleState, type CycleCommand, type CycleEvent, type CycleStatus } from './domain/cycle.js';
export { cyclesToStart } from './domain/queue.js';
export * from './domain/errors.js';
export type { PlanningSnapshot, EndpointSnapshot, GroupSnapshot, PlanRequest } from './domain/snapshot.js';
