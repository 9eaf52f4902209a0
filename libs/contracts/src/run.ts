import { z } from 'zod';
import { defineEvent } from './event.js';
import { endpointIdSchema } from './inventory.js';
import { cycleIdSchema } from './cycle.js';

/**
 * Endpoint-run contracts: one endpoint's path through one cycle, stream `run-<cycle>.<endpoint>`.
 * The executor owns these streams and extends this file with the per-step events (run started,
 * step started/succeeded/failed/skipped, reboot issued/confirmed, packages before/after,
 * compensation). The three final events below are what the planner's supervision consumes to
 * free a slot and count failures; they must stay stable.
 */

const runRef = { cycleId: cycleIdSchema, endpointId: endpointIdSchema };

export const RunSucceeded = defineEvent('RunSucceeded', 1, z.object({ ...runRef, durationMs: z.number().nonnegative() }));

export const RunFailed = defineEvent(
  'RunFailed',
  1,
  z.object({
    ...runRef,
    /** The step that failed (or `connect` when the endpoint was never reached). */
    stepId: z.string().max(100),
    /** Stable error code (`STEP_FAILED`, `REBOOT_TIMEOUT`, `HOST_UNREACHABLE`, `HOST_KEY_REJECTED` …). */
    code: z.string().max(100),
    message: z.string().max(2000),
    /** Whether compensating steps ran (and all succeeded). */
    compensated: z.boolean().default(false),
    durationMs: z.number().nonnegative(),
  }),
);

export const RunCancelled = defineEvent('RunCancelled', 1, z.object({ ...runRef, reason: z.string().max(2000), durationMs: z.number().nonnegative() }));

/** Final run events: exactly one of them ends every run stream. */
export const RUN_FINAL_EVENTS = [RunSucceeded, RunFailed, RunCancelled] as const;
