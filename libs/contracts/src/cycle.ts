import { z } from 'zod';
import { defineEvent } from './event.js';
import { endpointIdSchema, sshIdentitySchema } from './inventory.js';
import { workflowIdSchema, workflowStepSchema } from './workflow.js';

/**
 * Cycle contracts shared by the planner (which owns `cycle-<id>` streams) and the executor (which
 * runs what the planner releases). The planner extends this file with its own events
 * (requested, planned, approved, wave released/completed, halted, paused, resumed, completed);
 * the two events below are the hand-over points and must stay stable.
 */

export const cycleIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'cycle id: letters, digits, _ and -, starting with a letter or digit (max 100)');
export type CycleId = z.infer<typeof cycleIdSchema>;

/** One package the plan expects to install on one endpoint (from the endpoint's gathered facts). */
export const plannedPackageSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+._-]{0,199}$/),
  from: z.string().max(200).optional(),
  to: z.string().max(200),
  security: z.boolean().default(false),
});
export type PlannedPackage = z.infer<typeof plannedPackageSchema>;

/**
 * The planner hands one endpoint to the executors: everything needed to run its workflow without
 * asking anyone else (SSH identity by key reference, the resolved steps, the packages). Exactly
 * one executor runs it: it claims the run by appending `RunStarted` to `run-<cycle>.<endpoint>`
 * with expected revision `no-stream`.
 */
export const EndpointReleased = defineEvent(
  'EndpointReleased',
  1,
  z.object({
    cycleId: cycleIdSchema,
    endpointId: endpointIdSchema,
    /** 0-based wave index in the plan. */
    wave: z.number().int().nonnegative(),
    ssh: sshIdentitySchema,
    workflow: z.object({
      workflowId: workflowIdSchema,
      version: z.number().int().min(1),
      /** The steps in run order (pre, patch, post), each tagged with its phase. */
      steps: z.array(z.object({ phase: z.enum(['pre', 'patch', 'post']), step: workflowStepSchema })).min(1),
      /** Steps that run only as compensations, by step id. */
      compensations: z.array(workflowStepSchema).default([]),
    }),
    /** Exactly what to install; empty with `scope: 'all'` means every pending update. */
    packages: z.array(plannedPackageSchema),
    rebootPolicy: z.enum(['never', 'if-required', 'always']),
    /** Roll packages back to their recorded versions when validation fails after patching. */
    rollbackOnValidationFailure: z.boolean().default(false),
    emergency: z.boolean().default(false),
  }),
);

/** The cycle was aborted: executors cancel in-flight steps (running compensations where defined). */
export const CycleAborted = defineEvent('CycleAborted', 1, z.object({ cycleId: cycleIdSchema, by: z.string().max(200), reason: z.string().max(2000) }));
