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

// ---------------------------------------------------------------------------------------------
// Cycle requests, the plan as data, and the planner's events (stream `cycle-<id>`)
// ---------------------------------------------------------------------------------------------

/** A CVE id (`CVE-2024-3094`) or a vendor advisory (`DSA-5678-1`, `RHSA-2024:1234`, `USN-6543-1`, `GHSA-xxxx-xxxx-xxxx`). */
export const advisoryIdSchema = z
  .string()
  .max(100)
  .regex(
    /^(CVE-\d{4}-\d{4,7}|(DSA|DLA|USN|RHSA|RHBA|RHEA|ALSA|ELSA|RLSA|SUSE-SU|openSUSE-SU)-[0-9][0-9:.-]{2,40}|GHSA(-[23456789cfghjmpqrvwx]{4}){3})$/,
    'advisory id: CVE-YYYY-NNNN or a vendor advisory id (DSA-, DLA-, USN-, RHSA-, ALSA-, SUSE-SU-, GHSA-)',
  );

export const CYCLE_KINDS = ['scheduled', 'manual', 'emergency'] as const;
export type CycleKind = (typeof CYCLE_KINDS)[number];

/** Which endpoints an emergency cycle targets: named reference groups, or every endpoint whose facts show a pending update of a fixing package. */
export const emergencyTargetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('groups'), groups: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/)).min(1).max(1000) }).strict(),
  z.object({ kind: z.literal('vulnerable') }).strict(),
]);
export type EmergencyTarget = z.infer<typeof emergencyTargetSchema>;

/** The zero-day part of an emergency request. */
export const emergencySpecSchema = z
  .object({
    advisoryId: advisoryIdSchema,
    title: z.string().max(500).optional(),
    /** Packages whose update fixes the advisory. */
    packages: z.array(plannedPackageSchema.shape.name).min(1).max(1000),
    target: emergencyTargetSchema,
    /** Start outside the policy's maintenance windows. */
    skipWindow: z.boolean().default(true),
    /** Explicit overrides: only an operator who asks for them gets them. */
    ignoreConcurrency: z.boolean().default(false),
    ignoreDisruptionBudget: z.boolean().default(false),
  })
  .strict();
export type EmergencySpec = z.infer<typeof emergencySpecSchema>;

/** One endpoint in a wave of a plan. Every endpoint of a plan runs the plan's workflow steps. */
export const plannedEndpointSchema = z.object({
  endpointId: endpointIdSchema,
  /** The reference group (and its tier) that placed the endpoint in this wave. */
  groupId: z.string(),
  tier: z.string(),
  /** Value of the disruption budget's cluster label, when the endpoint has one. */
  cluster: z.string().optional(),
  ssh: sshIdentitySchema,
  packages: z.array(plannedPackageSchema),
  rebootRequired: z.boolean(),
});
export type PlannedEndpoint = z.infer<typeof plannedEndpointSchema>;

/** An endpoint in the target that the plan leaves out, and why (stable code + words). */
export const skippedEndpointSchema = z.object({ endpointId: endpointIdSchema, code: z.string().max(100), reason: z.string().max(1000) });
export type SkippedEndpoint = z.infer<typeof skippedEndpointSchema>;

export const planWaveSchema = z.object({
  index: z.number().int().nonnegative(),
  /** `canary`, `tier:<tier>` or `wave-<n>`. */
  name: z.string().max(100),
  endpoints: z.array(plannedEndpointSchema),
});
export type PlanWave = z.infer<typeof planWaveSchema>;

/**
 * A cycle plan: pure data, a function of the request and the input snapshot only (no cycle id, no
 * clock), so the same inputs give the same bytes and the same hash (`sha256(canonicalJson(plan))`).
 */
export const cyclePlanSchema = z.object({
  formatVersion: z.literal(1),
  kind: z.enum(CYCLE_KINDS),
  policy: z.object({ id: z.string(), version: z.number().int().min(1) }),
  workflow: EndpointReleased.schema.shape.workflow,
  rebootPolicy: z.enum(['never', 'if-required', 'always']),
  emergency: emergencySpecSchema.optional(),
  /** Endpoints released at once, resolved from the policy (or unlimited when overridden). */
  concurrency: z.object({ limit: z.number().int().min(1), from: z.union([z.number(), z.string()]) }),
  /** Per-cluster limits on endpoints down at once, by cluster label value. */
  disruptionBudget: z.object({ clusterLabel: z.string(), maxUnavailable: z.union([z.number(), z.string()]), limits: z.record(z.string(), z.number().int().min(1)) }).optional(),
  errorThreshold: z.object({ limit: z.number().int().min(1), from: z.union([z.number(), z.string()]) }),
  approval: z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('auto'), afterDays: z.number().int().min(0) }),
    z.object({ mode: z.literal('manual'), approvers: z.array(z.string()), minApprovals: z.number().int().min(1) }),
  ]),
  waves: z.array(planWaveSchema),
  skipped: z.array(skippedEndpointSchema),
});
export type CyclePlan = z.infer<typeof cyclePlanSchema>;
/** The plan without its endpoint lists (what `CyclePlanned` carries; the lists follow in parts). */
export const cyclePlanHeaderSchema = cyclePlanSchema.omit({ waves: true, skipped: true }).extend({
  waves: z.array(z.object({ index: z.number().int().nonnegative(), name: z.string().max(100), size: z.number().int().nonnegative() })),
  skippedCount: z.number().int().nonnegative(),
});
export type CyclePlanHeader = z.infer<typeof cyclePlanHeaderSchema>;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const by = z.string().min(1).max(200);

/** A cycle was asked for (by a person, the scheduler, or an emergency request). */
export const CycleRequested = defineEvent(
  'CycleRequested',
  1,
  z.object({
    cycleId: cycleIdSchema,
    kind: z.enum(CYCLE_KINDS),
    policyId: z.string(),
    requestedBy: by,
    requestedAt: z.string().datetime({ offset: true }),
    /** Not started before this moment (deferral); emergencies: the request time. */
    notBefore: z.string().datetime({ offset: true }),
    /** For scheduled cycles: the maintenance window occurrence that requested it. */
    window: z.object({ index: z.number().int().nonnegative(), start: z.string(), end: z.string() }).optional(),
    emergency: emergencySpecSchema.optional(),
  }),
);

/** The plan header and its hash; the endpoint lists follow in `CyclePlanPartRecorded` events of the same append. */
export const CyclePlanned = defineEvent(
  'CyclePlanned',
  1,
  z.object({
    cycleId: cycleIdSchema,
    planHash: sha256Hex,
    header: cyclePlanHeaderSchema,
    parts: z.number().int().min(1),
    endpoints: z.number().int().nonnegative(),
    skipped: z.number().int().nonnegative(),
  }),
);

/** A slice of the plan's endpoints (in wave order) and skipped endpoints, kept small enough for one bus message. */
export const CyclePlanPartRecorded = defineEvent(
  'CyclePlanPartRecorded',
  1,
  z.object({
    cycleId: cycleIdSchema,
    part: z.number().int().nonnegative(),
    endpoints: z.array(plannedEndpointSchema.extend({ wave: z.number().int().nonnegative() })),
    skipped: z.array(skippedEndpointSchema),
  }),
);

/** The policy wants people to approve: `minApprovals` distinct approvers from `approvers`, never the requester. */
export const CycleApprovalRequired = defineEvent('CycleApprovalRequired', 1, z.object({ cycleId: cycleIdSchema, approvers: z.array(z.string()), minApprovals: z.number().int().min(1) }));

/** One approval; the cycle is approved once `approvals >= required` (auto approval: by `policy`). */
export const CycleApproved = defineEvent(
  'CycleApproved',
  1,
  z.object({ cycleId: cycleIdSchema, by, auto: z.boolean(), approvals: z.number().int().min(1), required: z.number().int().min(1), comment: z.string().max(2000).optional() }),
);

/** The cycle left the queue and began releasing endpoints. */
export const CycleStarted = defineEvent(
  'CycleStarted',
  1,
  z.object({ cycleId: cycleIdSchema, at: z.string().datetime({ offset: true }), windowEndsAt: z.string().datetime({ offset: true }).optional() }),
);

/** A wave opened: its endpoints are released as slots free up. */
export const WaveReleased = defineEvent('WaveReleased', 1, z.object({ cycleId: cycleIdSchema, wave: z.number().int().nonnegative(), name: z.string(), endpoints: z.number().int().nonnegative() }));

/** The planner recorded the final event of one endpoint's run (its own copy, so the cycle stream alone drives supervision). */
export const EndpointRunFinished = defineEvent(
  'EndpointRunFinished',
  1,
  z.object({
    cycleId: cycleIdSchema,
    endpointId: endpointIdSchema,
    wave: z.number().int().nonnegative(),
    outcome: z.enum(['succeeded', 'failed', 'cancelled']),
    code: z.string().max(100).optional(),
    /** Event id of the run's final event. */
    runEventId: z.string().max(200),
  }),
);

/** Every endpoint of the wave finished with failures under the threshold: the wave passed. */
export const WaveCompleted = defineEvent('WaveCompleted', 1, z.object({ cycleId: cycleIdSchema, wave: z.number().int().nonnegative(), succeeded: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }));

/** No new endpoint is released; runs in flight finish. */
export const CycleHalted = defineEvent(
  'CycleHalted',
  1,
  z.object({ cycleId: cycleIdSchema, code: z.string().max(100), reason: z.string().max(2000), failed: z.number().int().nonnegative(), threshold: z.number().int().min(1), inFlight: z.number().int().nonnegative() }),
);

/** No new endpoint is released until resumed; `windowClosed`: the planner paused it because its maintenance window ended, and resumes it in the next one. */
export const CyclePaused = defineEvent('CyclePaused', 1, z.object({ cycleId: cycleIdSchema, by, reason: z.string().max(2000), windowClosed: z.boolean().default(false) }));
/** Releases go on (`windowEndsAt`: the end of the window it resumed in). */
export const CycleResumed = defineEvent('CycleResumed', 1, z.object({ cycleId: cycleIdSchema, by, windowEndsAt: z.string().datetime({ offset: true }).optional() }));
/** Every wave passed. */
export const CycleCompleted = defineEvent(
  'CycleCompleted',
  1,
  z.object({ cycleId: cycleIdSchema, succeeded: z.number().int().nonnegative(), failed: z.number().int().nonnegative(), skipped: z.number().int().nonnegative() }),
);

/** Every event type of the `cycle-<id>` streams. */
export const CYCLE_EVENTS = [
  CycleRequested,
  CyclePlanned,
  CyclePlanPartRecorded,
  CycleApprovalRequired,
  CycleApproved,
  CycleStarted,
  WaveReleased,
  EndpointReleased,
  EndpointRunFinished,
  WaveCompleted,
  CycleHalted,
  CyclePaused,
  CycleResumed,
  CycleAborted,
  CycleCompleted,
] as const;

// ---------------------------------------------------------------------------------------------
// Commands (`patchbay.cmd.planner.<name>`)
// ---------------------------------------------------------------------------------------------

export const PLANNER_COMMANDS = {
  request: 'cycle.request',
  emergency: 'cycle.emergency',
  preview: 'cycle.preview',
  approve: 'cycle.approve',
  pause: 'cycle.pause',
  resume: 'cycle.resume',
  abort: 'cycle.abort',
  get: 'cycle.get',
  list: 'cycle.list',
} as const;

/** A manual cycle of a policy. `cycleId` defaults to one derived from the command id (so a retry is harmless). */
export const requestCycleCommandSchema = z.object({ cycleId: cycleIdSchema.optional(), policyId: z.string().min(1).max(63) }).strict();
export const emergencyCycleCommandSchema = z.object({ cycleId: cycleIdSchema.optional(), policyId: z.string().min(1).max(63), emergency: z.unknown() }).strict();
/** Dry run of either request: the plan, its hash and its printed form; nothing stored. */
export const previewCycleCommandSchema = z.object({ policyId: z.string().min(1).max(63), emergency: z.unknown().optional() }).strict();
export const approveCycleCommandSchema = z.object({ cycleId: cycleIdSchema, comment: z.string().max(2000).optional() }).strict();
export const cycleReasonCommandSchema = z.object({ cycleId: cycleIdSchema, reason: z.string().min(1).max(2000) }).strict();
export const cycleRefCommandSchema = z.object({ cycleId: cycleIdSchema }).strict();

/** Reply of `cycle.preview`. */
export interface CyclePreviewReply {
  plan: CyclePlan;
  planHash: string;
  /** The plan as a person reads it. */
  text: string;
}

/** What the planner's commands reply about a cycle. */
export const cycleSummarySchema = z.object({
  cycleId: cycleIdSchema,
  status: z.enum(['new', 'awaiting-approval', 'queued', 'running', 'paused', 'halted', 'aborted', 'completed']),
  kind: z.enum(CYCLE_KINDS).optional(),
  policyId: z.string().optional(),
  requestedBy: z.string().optional(),
  planHash: sha256Hex.optional(),
  /** Advisory id of an emergency cycle. */
  emergency: z.string().optional(),
  currentWave: z.number().int().nonnegative(),
  waves: z.number().int().nonnegative(),
  endpoints: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  released: z.number().int().nonnegative(),
  inFlight: z.number().int().nonnegative(),
  succeeded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  approvedBy: z.array(z.string()),
  haltReason: z.string().optional(),
});
export type CycleSummary = z.infer<typeof cycleSummarySchema>;
