import {
  patchPolicySchema,
  sshIdentitySchema,
  workflowTemplateSchema,
  type Labels,
  type PatchPolicy,
  type PendingUpdate,
  type RecordedEvent,
  type SshIdentity,
  type WorkflowTemplate,
} from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import { UnknownPolicyError, UnknownWorkflowError } from './domain/errors.js';
import type { EndpointSnapshot, PlanningSnapshot } from './domain/snapshot.js';

/** The categories of streams the planner reads but never writes. */
export const INPUT_CATEGORIES = ['endpoint', 'group', 'policy', 'workflow'] as const;

interface EndpointRow {
  labels: Labels;
  ssh: SshIdentity;
  retired: boolean;
  facts?: { updatesKnown: boolean; rebootRequired: boolean; updates: PendingUpdate[] };
}

/**
 * The planner's own projection of the inventory's and the policy service's events (endpoints,
 * labels, SSH identity, facts; groups, tiers, membership; policies; workflow template versions),
 * read from the event store in global order. It is rebuilt in memory at start and brought up to
 * the head of the store before every plan, so a plan sees every event stored before its request.
 */
export class PlanningInputs {
  private after: bigint | undefined;
  private pending: Promise<void> = Promise.resolve();
  readonly endpoints = new Map<string, EndpointRow>();
  readonly groups = new Map<string, { tier: string }>();
  readonly members = new Map<string, Set<string>>();
  readonly policies = new Map<string, { version: number; definition: PatchPolicy }>();
  readonly workflows = new Map<string, WorkflowTemplate>();
  /** Events of these categories that could not be read (kept out of planning, reported here). */
  readonly rejected: Array<{ eventId: string; type: string; message: string }> = [];

  constructor(private readonly store: EventStore) {}

  /** Reads every input event stored since the last refresh (calls are serialised). */
  refresh(): Promise<void> {
    this.pending = this.pending.then(async () => {
      for (;;) {
        const page = await this.store.readAll({ ...(this.after !== undefined ? { after: this.after } : {}), categories: INPUT_CATEGORIES, maxCount: 2000 });
        for (const e of page) {
          this.apply(e);
          this.after = e.position;
        }
        if (page.length < 2000) return;
      }
    });
    return this.pending;
  }

  private apply(e: RecordedEvent): void {
    const d = e.data as Record<string, unknown> & { endpointId: string; groupId: string; policyId: string; workflowId: string };
    try {
      switch (e.type) {
        case 'EndpointRegistered':
          this.endpoints.set(d.endpointId, { labels: d.labels as Labels, ssh: sshIdentitySchema.parse(d.ssh), retired: false, ...(this.endpoints.get(d.endpointId)?.facts ? { facts: this.endpoints.get(d.endpointId)!.facts } : {}) });
          break;
        case 'EndpointLabelsChanged':
          this.withEndpoint(d.endpointId, (r) => (r.labels = d.labels as Labels));
          break;
        case 'EndpointSshIdentityChanged':
          this.withEndpoint(d.endpointId, (r) => (r.ssh = sshIdentitySchema.parse(d.ssh)));
          break;
        case 'EndpointRetired':
          this.withEndpoint(d.endpointId, (r) => (r.retired = true));
          break;
        case 'FactsGathered': {
          const f = d.facts as { updatesKnown: boolean; rebootRequired: boolean; updates: PendingUpdate[] };
          this.withEndpoint(d.endpointId, (r) => (r.facts = { updatesKnown: f.updatesKnown, rebootRequired: f.rebootRequired, updates: f.updates }));
          break;
        }
        case 'ReferenceGroupDefined':
        case 'ReferenceGroupUpdated':
          this.groups.set(d.groupId, { tier: (d.definition as { tier: string }).tier });
          break;
        case 'ReferenceGroupDeleted':
          this.groups.delete(d.groupId);
          this.members.delete(d.groupId);
          break;
        case 'GroupMembershipChanged': {
          const set = this.members.get(d.groupId) ?? new Set<string>();
          for (const a of d.added as Array<{ endpointId: string }>) set.add(a.endpointId);
          for (const r of d.removed as Array<{ endpointId: string }>) set.delete(r.endpointId);
          this.members.set(d.groupId, set);
          break;
        }
        case 'PatchPolicyDefined':
        case 'PatchPolicyUpdated':
          this.policies.set(d.policyId, { version: d.version as number, definition: patchPolicySchema.parse(d.definition) });
          break;
        case 'PatchPolicyDeleted':
          this.policies.delete(d.policyId);
          break;
        case 'WorkflowTemplateVersionSaved':
          this.workflows.set(`${d.workflowId}@${d.version as number}`, workflowTemplateSchema.parse(d.template));
          break;
        default:
          break;
      }
    } catch (err) {
      this.rejected.push({ eventId: e.metadata.eventId, type: e.type, message: (err as Error).message });
    }
  }

  private withEndpoint(id: string, change: (row: EndpointRow) => void): void {
    const row = this.endpoints.get(id);
    if (row) change(row);
  }

  /** The policy's current definition, or undefined. */
  policy(policyId: string): { version: number; definition: PatchPolicy } | undefined {
    return this.policies.get(policyId);
  }

  /**
   * Everything a plan of this policy reads.
   *
   * @throws UnknownPolicyError, UnknownWorkflowError
   */
  snapshot(policyId: string): PlanningSnapshot {
    const policy = this.policies.get(policyId);
    if (!policy) throw new UnknownPolicyError(policyId);
    const ref = policy.definition.workflow;
    const template = this.workflows.get(`${ref.id}@${ref.version}`);
    if (!template) throw new UnknownWorkflowError(ref.id, ref.version);
    const endpoints: EndpointSnapshot[] = [...this.endpoints].map(([endpointId, r]) => ({ endpointId, labels: r.labels, ssh: r.ssh, retired: r.retired, ...(r.facts ? { facts: r.facts } : {}) }));
    const groups = [...this.groups].map(([id, g]) => ({ id, tier: g.tier, members: [...(this.members.get(id) ?? [])] }));
    return { policy: { id: policyId, version: policy.version, definition: policy.definition }, workflow: { id: ref.id, version: ref.version, template }, groups, endpoints };
  }
}
