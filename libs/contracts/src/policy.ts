import { z } from 'zod';
import { defineEvent } from './event.js';
import { endpointIdSchema, labelKeySchema } from './inventory.js';
import { workflowIdSchema, workflowRefSchema, type DefinitionIssueCodes } from './workflow.js';

/**
 * Policy contracts: reference groups (severity tier, label selector, static members and
 * exclusions; stream `group-<id>`) and patch policies bound to groups (which updates, approval,
 * maintenance windows, rollout, concurrency, disruption budget, error threshold, reboot, workflow;
 * stream `policy-<id>`). Selector syntax and cron expressions are checked by the policy service's
 * domain code; these schemas check shape and safe values.
 */

/** Default severity tiers, most important first; a policy may give its own order. */
export const DEFAULT_SEVERITY_TIERS = ['critical', 'high', 'medium', 'low'] as const;

const slug = (what: string) => z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, `${what}: lower-case letters, digits and -, starting with a letter or digit (max 63)`);
export const groupIdSchema = slug('group id');
export const policyIdSchema = slug('policy id');
export const tierSchema = slug('tier');

// ---------------------------------------------------------------------------------------------
// Reference groups
// ---------------------------------------------------------------------------------------------

export const referenceGroupSchema = z
  .object({
    id: groupIdSchema,
    name: z.string().max(200).optional(),
    description: z.string().max(4000).optional(),
    /** Severity tier: rollout order and planning priority. */
    tier: tierSchema,
    /** Label selector, e.g. `env=prod,role in (db,web),!legacy`. Omitted: static members only. */
    selector: z.string().min(1).max(4000).optional(),
    /** Endpoints in the group whatever their labels (once registered and not retired). */
    members: z.array(endpointIdSchema).max(100_000).default([]),
    /** Endpoints never in the group, whatever the selector or static members say. */
    exclusions: z.array(endpointIdSchema).max(100_000).default([]),
  })
  .strict();
export type ReferenceGroup = z.infer<typeof referenceGroupSchema>;
export type ReferenceGroupInput = z.input<typeof referenceGroupSchema>;

export const GROUP_ISSUE_CODES: DefinitionIssueCodes = {
  unknownType: 'GROUP_INVALID_VALUE',
  missing: 'GROUP_MISSING_FIELD',
  unknownField: 'GROUP_UNKNOWN_FIELD',
  timeout: 'GROUP_INVALID_VALUE',
  invalid: 'GROUP_INVALID_VALUE',
};

// ---------------------------------------------------------------------------------------------
// Patch policies
// ---------------------------------------------------------------------------------------------

/** A number of endpoints (`5`) or a share of them (`"10%"`). */
export const quantitySchema = z.union([
  z.number().int().min(0).max(1_000_000),
  z.string().regex(/^(100|[1-9]?[0-9])(\.[0-9]{1,2})?%$/, 'a number or a percentage such as "10%" (0–100)'),
]);
export type Quantity = z.infer<typeof quantitySchema>;

/** Resolves a quantity against a total: percentages round up, so "10%" of 5 is 1, never 0 (unless the share is 0%). */
export function resolveQuantity(q: Quantity, total: number): number {
  if (typeof q === 'number') return Math.min(q, total);
  const pct = Number(q.slice(0, -1));
  return Math.min(total, Math.ceil((pct * total) / 100));
}

/** True when the IANA zone is known to this runtime's time-zone database. */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'date: YYYY-MM-DD')
  .refine((d) => {
    const t = new Date(`${d}T00:00:00Z`);
    return !Number.isNaN(t.getTime()) && t.toISOString().startsWith(d);
  }, 'not a calendar date');

export const maintenanceWindowSchema = z
  .object({
    /** Cron expression of window starts (5 fields, or 6 with seconds), read in `timezone`. */
    cron: z.string().min(1).max(200),
    /** Elapsed length of the window (a window over a DST change keeps its length, not its wall-clock end). */
    durationMinutes: z.number().int().min(1).max(7 * 24 * 60),
    /** IANA time zone (`Europe/Paris`). */
    timezone: z.string().min(1).max(100).refine(isKnownTimeZone, { message: 'unknown IANA time zone', params: { code: 'POLICY_INVALID_TIMEZONE' } }),
    /** Local dates (in `timezone`) on which no window starts. */
    blackoutDates: z.array(isoDate).max(1000).default([]),
  })
  .strict();
export type MaintenanceWindow = z.infer<typeof maintenanceWindowSchema>;

const packageGlob = z.string().regex(/^[A-Za-z0-9+._:*?[\]-]{1,256}$/, 'package glob: letters, digits, + . _ : - and the wildcards * ? [ ]');

export const UPDATE_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

export const patchPolicySchema = z
  .object({
    id: policyIdSchema,
    name: z.string().max(200).optional(),
    description: z.string().max(4000).optional(),
    /** Reference groups the policy applies to. */
    groups: z.array(groupIdSchema).min(1).max(1000),
    updates: z
      .object({
        include: z.enum(['all', 'security']).default('all'),
        /** Only updates at least this severe (when the package manager classifies them). */
        minSeverity: z.enum(UPDATE_SEVERITIES).optional(),
        packages: z.object({ allow: z.array(packageGlob).max(1000).default([]), deny: z.array(packageGlob).max(1000).default([]) }).strict().default({ allow: [], deny: [] }),
        /** Only the updates fixing these CVEs (empty: no CVE filter). */
        cves: z.array(z.string().regex(/^CVE-\d{4}-\d{4,7}$/, 'CVE id: CVE-YYYY-NNNN')).max(10_000).default([]),
      })
      .strict()
      .default({ include: 'all', packages: { allow: [], deny: [] }, cves: [] }),
    approval: z
      .discriminatedUnion('mode', [
        /** Approved by itself once the cycle's updates are `afterDays` old (0: at once). */
        z.object({ mode: z.literal('auto'), afterDays: z.number().int().min(0).max(365).default(0) }).strict(),
        z.object({ mode: z.literal('manual'), approvers: z.array(z.string().min(1).max(200)).min(1).max(100), minApprovals: z.number().int().min(1).max(100).default(1) }).strict(),
      ])
      .default({ mode: 'auto', afterDays: 0 }),
    /** When cycles may run; none: at any time. */
    windows: z.array(maintenanceWindowSchema).max(50).default([]),
    rollout: z
      .object({
        /** Tier order, most important first; groups go in this order (unknown tiers last). */
        tierOrder: z.array(tierSchema).min(1).max(50).default([...DEFAULT_SEVERITY_TIERS]),
        /** Endpoints patched first, alone, before any wave. */
        canary: quantitySchema.optional(),
        /** Sizes of the waves after the canary; what is left goes in a last wave. */
        waves: z.array(quantitySchema).max(100).default([]),
      })
      .strict()
      .default({ tierOrder: [...DEFAULT_SEVERITY_TIERS], waves: [] }),
    maxConcurrency: quantitySchema.default('10%'),
    /** Never more than `maxUnavailable` members of one cluster (endpoints sharing `clusterLabel`) down at once. */
    disruptionBudget: z.object({ clusterLabel: labelKeySchema, maxUnavailable: quantitySchema }).strict().optional(),
    /** Halt the cycle once this many (or this share of) endpoints failed. */
    errorThreshold: quantitySchema.default(1),
    reboot: z.enum(['never', 'if-required', 'always']).default('if-required'),
    workflow: workflowRefSchema,
  })
  .strict()
  .superRefine((p, ctx) => {
    const dup = (list: readonly string[], path: (string | number)[], what: string) => {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [...path, i], message: `duplicate ${what} "${v}"`, params: { code: 'POLICY_INVALID_VALUE' } });
        seen.add(v);
      });
    };
    dup(p.groups, ['groups'], 'group');
    dup(p.rollout.tierOrder, ['rollout', 'tierOrder'], 'tier');
    if (p.disruptionBudget && p.disruptionBudget.maxUnavailable === 0)
      ctx.addIssue({ code: 'custom', path: ['disruptionBudget', 'maxUnavailable'], message: 'a disruption budget of 0 would never let a cluster member be patched', params: { code: 'POLICY_INVALID_VALUE' } });
    if (p.maxConcurrency === 0 || p.maxConcurrency === '0%') ctx.addIssue({ code: 'custom', path: ['maxConcurrency'], message: 'max concurrency must allow at least one endpoint', params: { code: 'POLICY_INVALID_VALUE' } });
  });
export type PatchPolicy = z.infer<typeof patchPolicySchema>;
export type PatchPolicyInput = z.input<typeof patchPolicySchema>;

export const POLICY_ISSUE_CODES: DefinitionIssueCodes = {
  unknownType: 'POLICY_INVALID_VALUE',
  missing: 'POLICY_MISSING_FIELD',
  unknownField: 'POLICY_UNKNOWN_FIELD',
  timeout: 'POLICY_INVALID_VALUE',
  invalid: 'POLICY_INVALID_VALUE',
};

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

const groupDefinition = z.custom<ReferenceGroup>((v) => referenceGroupSchema.safeParse(v).success, 'invalid reference group');
const policyDefinition = z.custom<PatchPolicy>((v) => patchPolicySchema.safeParse(v).success, 'invalid patch policy');

export const ReferenceGroupDefined = defineEvent('ReferenceGroupDefined', 1, z.object({ groupId: groupIdSchema, version: z.number().int().min(1), definition: groupDefinition }));
export const ReferenceGroupUpdated = defineEvent(
  'ReferenceGroupUpdated',
  1,
  z.object({ groupId: groupIdSchema, version: z.number().int().min(2), definition: groupDefinition, changed: z.array(z.string()) }),
);
export const ReferenceGroupDeleted = defineEvent('ReferenceGroupDeleted', 1, z.object({ groupId: groupIdSchema, version: z.number().int().min(1) }));

/** Why one endpoint entered or left a group (the reason at that moment; it is not rewritten while the endpoint stays) (`selector env=prod matched`, `excluded by static exclusion` …). */
export const membershipReasonSchema = z.object({ endpointId: endpointIdSchema, reason: z.string().max(2000) });
export type MembershipReason = z.infer<typeof membershipReasonSchema>;

/** Membership moved: after an endpoint event, or after the group's definition changed. */
export const GroupMembershipChanged = defineEvent(
  'GroupMembershipChanged',
  1,
  z.object({
    groupId: groupIdSchema,
    /** Group definition version the membership was computed with. */
    definitionVersion: z.number().int().min(1),
    added: z.array(membershipReasonSchema),
    removed: z.array(membershipReasonSchema),
    /**
     * What caused the recomputation: the group's definition changed; endpoint events (for each
     * endpoint of this change, the id of the latest event that moved it); or a reconciliation at
     * start, which catches up with endpoint facts recorded just before a stop.
     */
    trigger: z.object({
      kind: z.enum(['definition', 'endpoint', 'reconcile']),
      causes: z.array(z.object({ endpointId: endpointIdSchema, eventId: z.string().min(1).max(200) })).max(1000).optional(),
    }),
  }),
);

export const PatchPolicyDefined = defineEvent('PatchPolicyDefined', 1, z.object({ policyId: policyIdSchema, version: z.number().int().min(1), definition: policyDefinition }));
export const PatchPolicyUpdated = defineEvent(
  'PatchPolicyUpdated',
  1,
  z.object({ policyId: policyIdSchema, version: z.number().int().min(2), definition: policyDefinition, changed: z.array(z.string()) }),
);
export const PatchPolicyDeleted = defineEvent('PatchPolicyDeleted', 1, z.object({ policyId: policyIdSchema, version: z.number().int().min(1) }));

export const GROUP_EVENTS = [ReferenceGroupDefined, ReferenceGroupUpdated, ReferenceGroupDeleted, GroupMembershipChanged] as const;
export const POLICY_EVENTS = [PatchPolicyDefined, PatchPolicyUpdated, PatchPolicyDeleted] as const;

// ---------------------------------------------------------------------------------------------
// Commands (`patchbay.cmd.policy.<name>`)
// ---------------------------------------------------------------------------------------------

/** Command names of the policy service; the subject is `commandSubject('policy', name)`. */
export const POLICY_COMMANDS = {
  defineGroup: 'group.define',
  updateGroup: 'group.update',
  deleteGroup: 'group.delete',
  getGroup: 'group.get',
  listGroups: 'group.list',
  explainMembership: 'membership.explain',
  /** Every active group's verdict for one endpoint. */
  endpointMemberships: 'membership.of',
  definePolicy: 'policy.define',
  updatePolicy: 'policy.update',
  deletePolicy: 'policy.delete',
  getPolicy: 'policy.get',
  listPolicies: 'policy.list',
  nextWindows: 'policy.windows',
  /** Saves a new version (also answered as `workflow.define` and `workflow.update`). */
  saveWorkflow: 'workflow.save',
  defineWorkflow: 'workflow.define',
  updateWorkflow: 'workflow.update',
  /** Retires the template (also answered as `workflow.delete`); its versions stay readable. */
  retireWorkflow: 'workflow.retire',
  deleteWorkflow: 'workflow.delete',
  getWorkflow: 'workflow.get',
  listWorkflows: 'workflow.list',
  applyBundle: 'bundle.apply',
} as const;

/** Payloads: definitions are validated by the service (so issues carry their own codes), hence `unknown`. */
export const groupDefinitionPayloadSchema = z.object({ group: z.unknown() }).strict();
export const policyDefinitionPayloadSchema = z.object({ policy: z.unknown() }).strict();
export const workflowDefinitionPayloadSchema = z.object({ template: z.unknown() }).strict();
export const groupRefPayloadSchema = z.object({ groupId: groupIdSchema }).strict();
export const policyRefPayloadSchema = z.object({ policyId: policyIdSchema }).strict();
export const workflowGetPayloadSchema = z.object({ workflowId: workflowIdSchema, version: z.number().int().min(1).optional() }).strict();
export const workflowRefPayloadSchema = z.object({ workflowId: workflowIdSchema }).strict();
export const explainMembershipPayloadSchema = z.object({ groupId: groupIdSchema, endpointId: endpointIdSchema }).strict();
export const endpointMembershipsPayloadSchema = z.object({ endpointId: endpointIdSchema }).strict();
export const nextWindowsPayloadSchema = z.object({ policyId: policyIdSchema, from: z.string().datetime({ offset: true }).optional(), count: z.number().int().min(1).max(100).default(3) }).strict();
export const emptyPayloadSchema = z.object({}).strict();
export const bundleFileSchema = z.object({ name: z.string().min(1).max(500), content: z.string().max(5_000_000) }).strict();
export const applyBundlePayloadSchema = z
  .object({
    files: z.array(bundleFileSchema).min(1).max(10_000),
    /** Delete groups and policies (and retire templates) that the bundle no longer lists. */
    prune: z.boolean().default(false),
    /** Report what would change, store nothing. */
    dryRun: z.boolean().default(false),
  })
  .strict();

/** Reply to a definition command: the id, its version now, and how many events were appended (0: nothing changed). */
export const definitionReplySchema = z.object({ id: z.string(), version: z.number().int().min(0), eventsAppended: z.number().int().min(0) });
export type DefinitionReply = z.infer<typeof definitionReplySchema>;

/** One evaluated selector requirement in a membership explanation. */
export interface RequirementVerdict {
  requirement: string;
  matched: boolean;
  /** The endpoint's value of the key, if it has it. */
  actual?: string;
}

/** Why an endpoint is in or out of a group. */
export interface MembershipExplanation {
  groupId: string;
  endpointId: string;
  member: boolean;
  /** One line a person reads: "selector env=prod matched; excluded by static exclusion → not a member". */
  summary: string;
  reasons: string[];
  endpoint: { known: boolean; retired: boolean; labels: Record<string, string> };
  selector?: { text: string; matched: boolean; requirements: RequirementVerdict[] };
  staticMember: boolean;
  excluded: boolean;
}

/** A computed maintenance window occurrence. */
export interface WindowOccurrence {
  windowIndex: number;
  start: string;
  end: string;
  timezone: string;
  /** Local wall-clock start and end in the window's time zone. */
  localStart: string;
  localEnd: string;
}
