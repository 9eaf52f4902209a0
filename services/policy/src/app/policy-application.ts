import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { context, propagation } from '@opentelemetry/api';
import { z } from 'zod';
import {
  applyBundlePayloadSchema,
  EndpointLabelsChanged,
  EndpointRegistered,
  EndpointRetired,
  endpointMembershipsPayloadSchema,
  explainMembershipPayloadSchema,
  groupDefinitionPayloadSchema,
  groupRefPayloadSchema,
  nextWindowsPayloadSchema,
  policyDefinitionPayloadSchema,
  policyRefPayloadSchema,
  ValidationError,
  workflowDefinitionPayloadSchema,
  workflowGetPayloadSchema,
  workflowRefPayloadSchema,
  type CommandEnvelope,
  type DefinitionReply,
  type MembershipExplanation,
  type RecordedEvent,
  type WindowOccurrence,
} from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import type { AppliedEventLedger } from '@patchbay/messaging';
import { checkBundleReferences, parseBundle, type BundleFile } from '../domain/bundle.js';
import { checkGroup, checkPolicy, checkWorkflow, orThrow, sameDefinition } from '../domain/definitions.js';
import { DefinitionNotFoundError } from '../domain/errors.js';
import { decideGroup, type GroupState } from '../domain/group-decider.js';
import { explainMembership, type EndpointFacts } from '../domain/membership.js';
import { decidePolicy, type PolicyReferences } from '../domain/policy-decider.js';
import { decideWorkflow, latestVersion } from '../domain/workflow-decider.js';
import { nextWindows } from '../domain/windows.js';
import { DefinitionRepository, type CommandMeta } from './definition-repository.js';
import { MembershipRefresher, type MembershipRefresherOptions } from './membership-refresher.js';
import { EndpointDirectory } from './endpoint-directory.js';

/** Consumer name of the endpoint-events durable (ledger entries are kept under it). */
export const ENDPOINT_CONSUMER = 'policy-endpoint-membership';

function payload<S extends z.ZodType>(schema: S, envelope: CommandEnvelope): z.infer<S> {
  const r = schema.safeParse(envelope.payload ?? {});
  if (!r.success) throw new ValidationError(`invalid payload: ${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return r.data;
}

/** W3C trace context of the active span (the transport's `handle <subject>` span), so events join the command's trace. */
function activeTrace(): { traceparent?: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'] ? { traceparent: carrier['traceparent'] } : {};
}

const metaOf = (envelope: CommandEnvelope): CommandMeta => ({ commandId: envelope.commandId, actor: envelope.actor, ...(envelope.correlationId ? { correlationId: envelope.correlationId } : {}), ...activeTrace() });

/** One change a bundle apply made (or would make, in a dry run). */
export interface BundleChange {
  kind: 'ReferenceGroup' | 'PatchPolicy' | 'WorkflowTemplate';
  id: string;
  action: 'define' | 'update' | 'delete' | 'save-version' | 'retire';
  version: number;
  events: number;
}

/** What a bundle apply reports. */
export interface BundleApplyReply {
  dryRun: boolean;
  eventsAppended: number;
  changes: BundleChange[];
  unchanged: number;
}

/** Reads every `*.yaml` / `*.yml` file under a directory (recursively) as a bundle. */
export function readPolicyDirectory(dir: string): BundleFile[] {
  const out: BundleFile[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/i.test(name)) out.push({ name: relative(dir, p), content: readFileSync(p, 'utf8') });
    }
  };
  walk(dir);
  return out;
}

/**
 * The policy service's use cases: definition commands, queries, policy-as-code bundles and the
 * membership recomputation that follows inventory's endpoint events. Transport-free: the Nest
 * controller hands it envelopes and events.
 */
export class PolicyApplication {
  readonly repository: DefinitionRepository;
  readonly endpoints: EndpointDirectory;

  readonly refresher: MembershipRefresher;

  constructor(
    store: EventStore,
    db: DatabaseSync,
    private readonly ledger: AppliedEventLedger,
    options: MembershipRefresherOptions = {},
  ) {
    this.repository = new DefinitionRepository(store);
    this.endpoints = new EndpointDirectory(db);
    this.refresher = new MembershipRefresher(this.repository, this.endpoints, () => this.activeGroups(), options);
  }

  /** Loads the definition streams, then reconciles membership with the recorded endpoint facts. */
  async start(): Promise<void> {
    await this.repository.load();
    await this.refresher.reconcile({ commandId: `reconcile-${randomUUID()}`, actor: 'policy' });
  }

  private activeGroups(): Array<[string, GroupState]> {
    return this.repository.cached('group').filter(([, s]) => s.status === 'active');
  }

  private async references(): Promise<PolicyReferences> {
    await Promise.all([this.repository.refresh('group'), this.repository.refresh('workflow')]);
    const workflows = new Map<string, number>();
    for (const [id, s] of this.repository.cached('workflow')) if (!s.retired && s.versions.length) workflows.set(id, latestVersion(s));
    return { groups: new Set(this.activeGroups().map(([id]) => id)), workflows };
  }

  private async policiesUsing(test: (p: { groups: string[]; workflow: { id: string } }) => boolean): Promise<string[]> {
    await this.repository.refresh('policy');
    return this.repository
      .cached('policy')
      .filter(([, s]) => s.status === 'active' && test(s.definition!))
      .map(([id]) => id)
      .sort();
  }

  // ----- reference groups -------------------------------------------------------------------

  async defineGroup(envelope: CommandEnvelope, mode: 'define' | 'update'): Promise<DefinitionReply & { members: number }> {
    const def = orThrow(checkGroup(payload(groupDefinitionPayloadSchema, envelope).group), 'reference group');
    const endpoints = this.endpoints;
    const r = await this.repository.execute('group', def.id, (s) => decideGroup(mode === 'define' ? { type: 'DefineGroup', definition: def, endpoints } : { type: 'UpdateGroup', definition: def, endpoints, upsert: false }, s), metaOf(envelope));
    return { id: def.id, version: r.state.version, eventsAppended: r.appended, members: r.state.members.size };
  }

  async deleteGroup(envelope: CommandEnvelope): Promise<DefinitionReply> {
    const { groupId } = payload(groupRefPayloadSchema, envelope);
    const usedBy = await this.policiesUsing((p) => p.groups.includes(groupId));
    const r = await this.repository.execute('group', groupId, (s) => decideGroup({ type: 'DeleteGroup', groupId, usedBy }, s), metaOf(envelope));
    return { id: groupId, version: r.state.version, eventsAppended: r.appended };
  }

  async getGroup(envelope: CommandEnvelope) {
    const { groupId } = payload(groupRefPayloadSchema, envelope);
    const s = await this.repository.get('group', groupId);
    if (s.status !== 'active') throw new DefinitionNotFoundError('group', groupId);
    return {
      id: groupId,
      version: s.version,
      definition: s.definition!,
      members: [...s.members.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([endpointId, reason]) => ({ endpointId, reason })),
    };
  }

  async listGroups() {
    await this.repository.refresh('group');
    return {
      groups: this.activeGroups()
        .map(([id, s]) => ({ id, version: s.version, tier: s.definition!.tier, selector: s.definition!.selector ?? null, memberCount: s.members.size }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }

  async explain(envelope: CommandEnvelope): Promise<MembershipExplanation> {
    const { groupId, endpointId } = payload(explainMembershipPayloadSchema, envelope);
    const s = await this.repository.get('group', groupId);
    if (s.status !== 'active') throw new DefinitionNotFoundError('group', groupId);
    return explainMembership(s.compiled!, this.endpoints.get(endpointId), endpointId, s.members.has(endpointId));
  }

  /** Every active group's verdict for one endpoint, members first. */
  async membershipsOf(envelope: CommandEnvelope): Promise<{ endpointId: string; known: boolean; groups: Array<{ groupId: string; tier: string; member: boolean; summary: string }> }> {
    const { endpointId } = payload(endpointMembershipsPayloadSchema, envelope);
    await this.repository.refresh('group');
    const facts = this.endpoints.get(endpointId);
    const groups = this.activeGroups()
      .map(([groupId, s]) => {
        const x = explainMembership(s.compiled!, facts, endpointId, s.members.has(endpointId));
        return { groupId, tier: s.definition!.tier, member: x.member, summary: x.summary };
      })
      .sort((a, b) => Number(b.member) - Number(a.member) || (a.groupId < b.groupId ? -1 : 1));
    return { endpointId, known: facts !== undefined, groups };
  }

  // ----- patch policies ---------------------------------------------------------------------

  async definePolicy(envelope: CommandEnvelope, mode: 'define' | 'update'): Promise<DefinitionReply> {
    const def = orThrow(checkPolicy(payload(policyDefinitionPayloadSchema, envelope).policy), 'patch policy');
    const references = await this.references();
    const r = await this.repository.execute('policy', def.id, (s) => decidePolicy(mode === 'define' ? { type: 'DefinePolicy', definition: def, references } : { type: 'UpdatePolicy', definition: def, references, upsert: false }, s), metaOf(envelope));
    return { id: def.id, version: r.state.version, eventsAppended: r.appended };
  }

  async deletePolicy(envelope: CommandEnvelope): Promise<DefinitionReply> {
    const { policyId } = payload(policyRefPayloadSchema, envelope);
    const r = await this.repository.execute('policy', policyId, (s) => decidePolicy({ type: 'DeletePolicy', policyId }, s), metaOf(envelope));
    return { id: policyId, version: r.state.version, eventsAppended: r.appended };
  }

  async getPolicy(envelope: CommandEnvelope) {
    const { policyId } = payload(policyRefPayloadSchema, envelope);
    const s = await this.repository.get('policy', policyId);
    if (s.status !== 'active') throw new DefinitionNotFoundError('policy', policyId);
    return { id: policyId, version: s.version, definition: s.definition! };
  }

  async listPolicies() {
    await this.repository.refresh('policy');
    return {
      policies: this.repository
        .cached('policy')
        .filter(([, s]) => s.status === 'active')
        .map(([id, s]) => ({ id, version: s.version, groups: s.definition!.groups, workflow: s.definition!.workflow }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }

  async windows(envelope: CommandEnvelope): Promise<{ policyId: string; from: string; windows: WindowOccurrence[] }> {
    const { policyId, from, count } = payload(nextWindowsPayloadSchema, envelope);
    const s = await this.repository.get('policy', policyId);
    if (s.status !== 'active') throw new DefinitionNotFoundError('policy', policyId);
    const at = from ? new Date(from) : new Date();
    return { policyId, from: at.toISOString(), windows: nextWindows(s.definition!.windows, at, count) };
  }

  // ----- workflow templates -----------------------------------------------------------------

  async saveWorkflow(envelope: CommandEnvelope): Promise<DefinitionReply> {
    const t = orThrow(checkWorkflow(payload(workflowDefinitionPayloadSchema, envelope).template), 'workflow template');
    const r = await this.repository.execute('workflow', t.id, (s) => decideWorkflow({ type: 'SaveWorkflow', template: t }, s), metaOf(envelope));
    return { id: t.id, version: latestVersion(r.state), eventsAppended: r.appended };
  }

  async retireWorkflow(envelope: CommandEnvelope): Promise<DefinitionReply> {
    const { workflowId } = payload(workflowRefPayloadSchema, envelope);
    const usedBy = await this.policiesUsing((p) => p.workflow.id === workflowId);
    const r = await this.repository.execute('workflow', workflowId, (s) => decideWorkflow({ type: 'RetireWorkflow', workflowId, usedBy }, s), metaOf(envelope));
    return { id: workflowId, version: latestVersion(r.state), eventsAppended: r.appended };
  }

  async getWorkflow(envelope: CommandEnvelope) {
    const { workflowId, version } = payload(workflowGetPayloadSchema, envelope);
    const s = await this.repository.get('workflow', workflowId);
    if (s.versions.length === 0) throw new DefinitionNotFoundError('workflow', workflowId);
    const v = version ?? s.versions.length;
    const template = s.versions[v - 1];
    if (!template) throw new DefinitionNotFoundError('workflow', workflowId, v);
    return { id: workflowId, version: v, latestVersion: s.versions.length, retired: s.retired, template };
  }

  async listWorkflows() {
    await this.repository.refresh('workflow');
    return {
      workflows: this.repository
        .cached('workflow')
        .filter(([, s]) => s.versions.length > 0)
        .map(([id, s]) => ({ id, latestVersion: s.versions.length, retired: s.retired }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }

  // ----- policy as code ---------------------------------------------------------------------

  /**
   * Applies a bundle: every document is validated and every cross-reference checked before the
   * first append, so a bad file stores nothing. Unchanged definitions append nothing; changed ones
   * append only their difference. Templates first, then groups, then policies; with `prune`,
   * definitions the bundle no longer lists are removed afterwards (policies before the groups and
   * templates they use).
   */
  async applyBundle(envelope: CommandEnvelope): Promise<BundleApplyReply> {
    const { files, prune, dryRun } = payload(applyBundlePayloadSchema, envelope);
    const bundle = parseBundle(files);
    await Promise.all([this.repository.refresh('group'), this.repository.refresh('workflow'), this.repository.refresh('policy')]);
    const workflowStates = new Map(this.repository.cached('workflow'));
    const workflowVersionsAfter = new Map<string, number>();
    for (const [id, s] of workflowStates) if (!s.retired && s.versions.length && !(prune && !bundle.workflows.has(id))) workflowVersionsAfter.set(id, s.versions.length);
    for (const [id, { value }] of bundle.workflows) {
      const s = workflowStates.get(id);
      const latest = s?.versions[s.versions.length - 1];
      const unchanged = s && !s.retired && latest && sameDefinition(latest, value);
      workflowVersionsAfter.set(id, unchanged ? s.versions.length : (s?.versions.length ?? 0) + 1);
    }
    const activeGroups = new Set(this.activeGroups().map(([id]) => id));
    checkBundleReferences(bundle, { activeGroups, workflowVersionsAfter, prune });
    const references: PolicyReferences = { groups: new Set([...bundle.groups.keys(), ...(prune ? [] : activeGroups)]), workflows: workflowVersionsAfter };

    const changes: BundleChange[] = [];
    let unchanged = 0;
    const meta = metaOf(envelope);
    if (dryRun) {
      for (const [id, { value }] of bundle.workflows) {
        const s = workflowStates.get(id);
        const latest = s?.versions[s.versions.length - 1];
        if (s && !s.retired && latest && sameDefinition(latest, value)) unchanged++;
        else changes.push({ kind: 'WorkflowTemplate', id, action: 'save-version', version: workflowVersionsAfter.get(id)!, events: 1 });
      }
      const groupStates = new Map(this.repository.cached('group'));
      for (const [id, { value }] of bundle.groups) {
        const s = groupStates.get(id);
        const events = decideGroup({ type: 'UpdateGroup', definition: value, endpoints: this.endpoints, upsert: true }, s ?? { version: 0, status: 'absent', definition: undefined, compiled: undefined, members: new Map() });
        if (events.length === 0) unchanged++;
        else changes.push({ kind: 'ReferenceGroup', id, action: s?.status === 'active' ? 'update' : 'define', version: (s?.version ?? 0) + 1, events: events.length });
      }
      const policyStates = new Map(this.repository.cached('policy'));
      for (const [id, { value }] of bundle.policies) {
        const s = policyStates.get(id);
        const events = decidePolicy({ type: 'UpdatePolicy', definition: value, references, upsert: true }, s ?? { version: 0, status: 'absent', definition: undefined });
        if (events.length === 0) unchanged++;
        else changes.push({ kind: 'PatchPolicy', id, action: s?.status === 'active' ? 'update' : 'define', version: (s?.version ?? 0) + 1, events: events.length });
      }
      return { dryRun: true, eventsAppended: 0, changes, unchanged };
    }

    let eventsAppended = 0;
    const record = (kind: BundleChange['kind'], id: string, action: BundleChange['action'], version: number, appended: number) => {
      eventsAppended += appended;
      if (appended) changes.push({ kind, id, action, version, events: appended });
      else unchanged++;
    };
    for (const [id, { value }] of bundle.workflows) {
      const r = await this.repository.execute('workflow', id, (s) => decideWorkflow({ type: 'SaveWorkflow', template: value }, s), meta);
      record('WorkflowTemplate', id, 'save-version', latestVersion(r.state), r.appended);
    }
    for (const [id, { value }] of bundle.groups) {
      const before = (await this.repository.get('group', id)).status;
      const r = await this.repository.execute('group', id, (s) => decideGroup({ type: 'UpdateGroup', definition: value, endpoints: this.endpoints, upsert: true }, s), meta);
      record('ReferenceGroup', id, before === 'active' ? 'update' : 'define', r.state.version, r.appended);
    }
    for (const [id, { value }] of bundle.policies) {
      const before = (await this.repository.get('policy', id)).status;
      const r = await this.repository.execute('policy', id, (s) => decidePolicy({ type: 'UpdatePolicy', definition: value, references, upsert: true }, s), meta);
      record('PatchPolicy', id, before === 'active' ? 'update' : 'define', r.state.version, r.appended);
    }
    if (prune) {
      for (const [id, s] of this.repository.cached('policy')) {
        if (s.status !== 'active' || bundle.policies.has(id)) continue;
        const r = await this.repository.execute('policy', id, (st) => decidePolicy({ type: 'DeletePolicy', policyId: id }, st), meta);
        record('PatchPolicy', id, 'delete', r.state.version, r.appended);
      }
      for (const [id, s] of this.activeGroups()) {
        if (bundle.groups.has(id)) continue;
        void s;
        const usedBy = await this.policiesUsing((p) => p.groups.includes(id));
        const r = await this.repository.execute('group', id, (st) => decideGroup({ type: 'DeleteGroup', groupId: id, usedBy }, st), meta);
        record('ReferenceGroup', id, 'delete', r.state.version, r.appended);
      }
      for (const [id, s] of this.repository.cached('workflow')) {
        if (s.retired || s.versions.length === 0 || bundle.workflows.has(id)) continue;
        const usedBy = await this.policiesUsing((p) => p.workflow.id === id);
        const r = await this.repository.execute('workflow', id, (st) => decideWorkflow({ type: 'RetireWorkflow', workflowId: id, usedBy }, st), meta);
        record('WorkflowTemplate', id, 'retire', latestVersion(r.state), r.appended);
      }
    }
    return { dryRun: false, eventsAppended, changes, unchanged };
  }

  // ----- endpoint events --------------------------------------------------------------------

  /**
   * Applies one endpoint lifecycle event, at most once by the ledger's rule: the endpoint's new
   * facts and the "applied" mark commit together in the policy database. The endpoint is then
   * handed to the membership refresher, which recomputes it in every active group with the other
   * endpoints that changed at about the same time.
   */
  async onEndpointEvent(event: RecordedEvent): Promise<{ applied: boolean }> {
    let undo: (() => void) | undefined;
    let changed: string | undefined;
    try {
      const outcome = await this.ledger.applyOnce(ENDPOINT_CONSUMER, event, () => {
        const facts = this.factsAfter(event);
        if (!facts) return;
        undo = this.endpoints.put(facts);
        changed = facts.endpointId;
      });
      if (changed) this.refresher.mark(changed, event.metadata.eventId);
      return { applied: outcome.applied };
    } catch (err) {
      undo?.();
      throw err;
    }
  }

  /** Resolves once every endpoint change handed over so far has been recomputed. */
  settled(): Promise<void> {
    return this.refresher.settled();
  }

  /** Stops the membership refresher (what is still pending is reconciled at the next start). */
  async stop(): Promise<void> {
    await this.refresher.stop();
  }

  private factsAfter(event: RecordedEvent): EndpointFacts | undefined {
    switch (event.type) {
      case EndpointRegistered.type: {
        const d = EndpointRegistered.parse(event.data);
        return { endpointId: d.endpointId, labels: d.labels, retired: false };
      }
      case EndpointLabelsChanged.type: {
        const d = EndpointLabelsChanged.parse(event.data);
        return { endpointId: d.endpointId, labels: d.labels, retired: this.endpoints.get(d.endpointId)?.retired ?? false };
      }
      case EndpointRetired.type: {
        const d = EndpointRetired.parse(event.data);
        return { endpointId: d.endpointId, labels: this.endpoints.get(d.endpointId)?.labels ?? {}, retired: true };
      }
      default:
        // Other endpoint facts (SSH identity, gathered facts …) do not affect membership.
        return undefined;
    }
  }
}
