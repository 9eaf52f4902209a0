import { DefinitionInvalidError, PatchPolicyDefined, PatchPolicyDeleted, PatchPolicyUpdated, type DefinitionIssue, type EventOf, type PatchPolicy } from '@patchbay/contracts';
import { changedFields, sameDefinition } from './definitions.js';
import { DefinitionExistsError, DefinitionNotFoundError } from './errors.js';

/** Events of a `policy-<id>` stream. */
export type PolicyEvent = EventOf<typeof PatchPolicyDefined> | EventOf<typeof PatchPolicyUpdated> | EventOf<typeof PatchPolicyDeleted>;

export interface PolicyState {
  version: number;
  status: 'absent' | 'active' | 'deleted';
  definition: PatchPolicy | undefined;
}

/** What a policy may refer to, as known when the command is decided. */
export interface PolicyReferences {
  /** Active group ids. */
  groups: ReadonlySet<string>;
  /** Latest saved version of each active workflow template. */
  workflows: ReadonlyMap<string, number>;
}

export type PolicyCommand =
  | { type: 'DefinePolicy'; definition: PatchPolicy; references: PolicyReferences }
  | { type: 'UpdatePolicy'; definition: PatchPolicy; references: PolicyReferences; upsert: boolean }
  | { type: 'DeletePolicy'; policyId: string };

export function initialPolicyState(): PolicyState {
  return { version: 0, status: 'absent', definition: undefined };
}

export function evolvePolicy(state: PolicyState, event: PolicyEvent): PolicyState {
  switch (event.type) {
    case 'PatchPolicyDefined':
    case 'PatchPolicyUpdated':
      return { version: event.data.version, status: 'active', definition: event.data.definition };
    case 'PatchPolicyDeleted':
      return { version: event.data.version, status: 'deleted', definition: undefined };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/**
 * Issues with what a policy refers to: every bound group must exist, and the workflow template
 * version must have been saved (`POLICY_UNKNOWN_GROUP`, `POLICY_UNKNOWN_WORKFLOW`).
 */
export function referenceIssues(p: PatchPolicy, refs: PolicyReferences): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  p.groups.forEach((g, i) => {
    if (!refs.groups.has(g)) issues.push({ code: 'POLICY_UNKNOWN_GROUP', path: `groups[${i}]`, message: `reference group ${JSON.stringify(g)} does not exist` });
  });
  const latest = refs.workflows.get(p.workflow.id);
  if (latest === undefined) issues.push({ code: 'POLICY_UNKNOWN_WORKFLOW', path: 'workflow.id', message: `workflow template ${JSON.stringify(p.workflow.id)} does not exist` });
  else if (p.workflow.version > latest) issues.push({ code: 'POLICY_UNKNOWN_WORKFLOW', path: 'workflow.version', message: `workflow template ${p.workflow.id} has no version ${p.workflow.version} (latest is ${latest})` });
  return issues;
}

/** Decides a policy command; an unchanged definition appends nothing. */
export function decidePolicy(command: PolicyCommand, state: PolicyState): PolicyEvent[] {
  switch (command.type) {
    case 'DefinePolicy':
    case 'UpdatePolicy': {
      const def = command.definition;
      if (state.status === 'active' && sameDefinition(state.definition, def)) return [];
      const issues = referenceIssues(def, command.references);
      if (issues.length) throw new DefinitionInvalidError(issues, 'patch policy');
      if (state.status === 'active') {
        if (command.type === 'DefinePolicy') throw new DefinitionExistsError('policy', def.id, state.version);
        return [{ type: 'PatchPolicyUpdated', data: { policyId: def.id, version: state.version + 1, definition: def, changed: changedFields(state.definition!, def) } }];
      }
      if (command.type === 'UpdatePolicy' && !command.upsert) throw new DefinitionNotFoundError('policy', def.id);
      return [{ type: 'PatchPolicyDefined', data: { policyId: def.id, version: state.version + 1, definition: def } }];
    }
    case 'DeletePolicy':
      if (state.status !== 'active') throw new DefinitionNotFoundError('policy', command.policyId);
      return [{ type: 'PatchPolicyDeleted', data: { policyId: command.policyId, version: state.version + 1 } }];
    default: {
      const never: never = command;
      return never;
    }
  }
}
