import { PatchbayError } from '@patchbay/contracts';

/** Kinds of definitions the policy service keeps. */
export type DefinitionKind = 'group' | 'policy' | 'workflow';

const label: Record<DefinitionKind, string> = { group: 'reference group', policy: 'patch policy', workflow: 'workflow template' };
const prefix: Record<DefinitionKind, string> = { group: 'GROUP', policy: 'POLICY', workflow: 'WORKFLOW' };

/** `GROUP_NOT_FOUND`, `POLICY_NOT_FOUND`, `WORKFLOW_NOT_FOUND` (also for a missing template version). */
export class DefinitionNotFoundError extends PatchbayError {
  constructor(kind: DefinitionKind, id: string, version?: number) {
    super(`${prefix[kind]}_NOT_FOUND`, `${label[kind]} ${id}${version ? ` version ${version}` : ''} does not exist`, { kind, id, ...(version ? { version } : {}) });
  }
}

/** Defining an id that already holds a different definition (`GROUP_ALREADY_EXISTS` …): use update. */
export class DefinitionExistsError extends PatchbayError {
  constructor(kind: DefinitionKind, id: string, version: number) {
    super(`${prefix[kind]}_ALREADY_EXISTS`, `${label[kind]} ${id} already exists (version ${version}) with another definition; update it instead`, { kind, id, version });
  }
}

/** Deleting a group or retiring a template that a policy still uses (`GROUP_IN_USE`, `WORKFLOW_IN_USE`). */
export class DefinitionInUseError extends PatchbayError {
  constructor(kind: DefinitionKind, id: string, usedBy: readonly string[]) {
    super(`${prefix[kind]}_IN_USE`, `${label[kind]} ${id} is used by polic${usedBy.length === 1 ? 'y' : 'ies'} ${usedBy.join(', ')}`, { kind, id, usedBy: [...usedBy] });
  }
}
