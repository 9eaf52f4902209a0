import { z } from 'zod';
import { defineEvent } from './event.js';
import { endpointIdSchema } from './inventory.js';
import { cycleIdSchema, EndpointReleased } from './cycle.js';

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

// ---------------------------------------------------------------------------------------------
// Per-step events, written by the executor (stream `run-<cycle>.<endpoint>`). Event ids are
// deterministic (`<stream>:<step key>:<attempt>:<what>`), so a retried append cannot duplicate.
// ---------------------------------------------------------------------------------------------

/** Everything the run needs, copied from `EndpointReleased` so a resumed run reads only its own stream. */
export const runPlanSchema = EndpointReleased.schema.omit({ cycleId: true, endpointId: true });
export type RunPlan = z.infer<typeof runPlanSchema>;

/**
 * The run was claimed by one executor (appended with expected revision `no-stream`: a second
 * executor, or a redelivered `EndpointReleased`, loses the append and drops the message).
 */
export const RunStarted = defineEvent('RunStarted', 1, z.object({ ...runRef, executorId: z.string().min(1).max(200), releasedEventId: z.string().max(200), plan: runPlanSchema }));

/** An executor picked the run up again from its log (after a crash or restart). */
export const RunResumed = defineEvent('RunResumed', 1, z.object({ ...runRef, executorId: z.string().min(1).max(200), fromRevision: z.number().int().nonnegative() }));

/** Where a step sits in the run: a workflow phase, or the failure paths that undo work. */
export const stepPhaseSchema = z.enum(['pre', 'patch', 'post', 'compensate', 'rollback']);
export type StepPhase = z.infer<typeof stepPhaseSchema>;

/** One command (or HTTP call) a step made, as recorded: never the whole output, only its tail and digest. */
export const commandRecordSchema = z.object({
  /** argv of a remote or controller command, or `[METHOD, url]` of an HTTP call. */
  argv: z.array(z.string().max(8192)).max(300),
  on: z.enum(['endpoint', 'controller', 'http']),
  exitCode: z.number().int().nullable(),
  signal: z.string().max(20).optional(),
  /** HTTP status of an HTTP call. */
  status: z.number().int().optional(),
  durationMs: z.number().nonnegative(),
  /** SHA-256 over both full output streams (see `CommandResult.digest`). */
  digest: z.string().max(128),
  stdoutTail: z.string().max(16_384),
  stderrTail: z.string().max(16_384),
  stdoutBytes: z.number().int().nonnegative(),
  stderrBytes: z.number().int().nonnegative(),
  truncated: z.boolean(),
});
export type CommandRecord = z.infer<typeof commandRecordSchema>;

const stepRef = {
  ...runRef,
  /** Unique within the run: the workflow step id, or `compensate.<id>`, `rollback.<what>` for failure paths. */
  stepKey: z.string().min(1).max(200),
  /** 1 for the first try; each retry or resumed try counts up. */
  attempt: z.number().int().min(1),
};

/** Recorded before the step touches the endpoint. */
export const StepStarted = defineEvent(
  'StepStarted',
  1,
  z.object({
    ...stepRef,
    stepId: z.string().max(100),
    type: z.string().max(50),
    phase: stepPhaseSchema,
    /** This attempt continues one that a crash interrupted (the previous attempt has no outcome). */
    resumed: z.boolean().default(false),
  }),
);

export const StepSucceeded = defineEvent(
  'StepSucceeded',
  1,
  z.object({ ...stepRef, durationMs: z.number().nonnegative(), commands: z.array(commandRecordSchema).max(50), detail: z.record(z.string(), z.unknown()).default({}) }),
);

export const StepFailed = defineEvent(
  'StepFailed',
  1,
  z.object({
    ...stepRef,
    /** Stable code: `STEP_FAILED`, `CHECK_FAILED`, `DISK_LOW`, `REMOTE_TIMEOUT`, `REBOOT_TIMEOUT`, `HOST_UNREACHABLE`, `CANCELLED` … */
    code: z.string().max(100),
    message: z.string().max(2000),
    durationMs: z.number().nonnegative(),
    commands: z.array(commandRecordSchema).max(50),
    /** Another attempt follows after `retryInMs`. */
    willRetry: z.boolean(),
    retryInMs: z.number().nonnegative().optional(),
  }),
);

/** The step did not run (a reboot not required, a policy of `never`, cancelled before it began). */
export const StepSkipped = defineEvent('StepSkipped', 1, z.object({ ...stepRef, stepId: z.string().max(100), reason: z.string().max(1000) }));

/** Recorded BEFORE the reboot command is sent: a resumed run never sends it again for this boot. */
export const RebootIssued = defineEvent('RebootIssued', 1, z.object({ ...stepRef, bootIdBefore: z.string().min(1).max(100) }));

/** The endpoint came back with another boot id. */
export const RebootConfirmed = defineEvent(
  'RebootConfirmed',
  1,
  z.object({ ...stepRef, bootIdBefore: z.string().max(100), bootIdAfter: z.string().min(1).max(100), waitedMs: z.number().nonnegative() }),
);

/** Installed package versions (`dpkg-query -W` / `rpm -qa`) around the patch and after a rollback. */
export const PackagesRecorded = defineEvent(
  'PackagesRecorded',
  1,
  z.object({
    ...stepRef,
    when: z.enum(['before', 'after', 'after-rollback']),
    manager: z.enum(['apt', 'dnf', 'yum', 'zypper']),
    packages: z.record(z.string(), z.string()).refine((p) => Object.keys(p).length <= 50_000, 'at most 50,000 packages'),
  }),
);

/** Every event type of a run stream. */
export const RUN_EVENTS = [RunStarted, RunResumed, StepStarted, StepSucceeded, StepFailed, StepSkipped, RebootIssued, RebootConfirmed, PackagesRecorded, RunSucceeded, RunFailed, RunCancelled] as const;
