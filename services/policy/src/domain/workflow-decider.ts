import { WorkflowTemplateRetired, WorkflowTemplateVersionSaved, type EventOf, type WorkflowTemplate } from '@patchbay/contracts';
import { sameDefinition } from './definitions.js';
import { DefinitionInUseError, DefinitionNotFoundError } from './errors.js';

/** Events of a `workflow-<id>` stream. */
export type WorkflowEvent = EventOf<typeof WorkflowTemplateVersionSaved> | EventOf<typeof WorkflowTemplateRetired>;

export interface WorkflowState {
  /** Every saved version, index 0 = version 1; old versions stay readable. */
  versions: WorkflowTemplate[];
  retired: boolean;
}

export type WorkflowCommand = { type: 'SaveWorkflow'; template: WorkflowTemplate } | { type: 'RetireWorkflow'; workflowId: string; usedBy: readonly string[] };

export function initialWorkflowState(): WorkflowState {
  return { versions: [], retired: false };
}

export function evolveWorkflow(state: WorkflowState, event: WorkflowEvent): WorkflowState {
  switch (event.type) {
    case 'WorkflowTemplateVersionSaved':
      return { versions: [...state.versions, event.data.template], retired: false };
    case 'WorkflowTemplateRetired':
      return { ...state, retired: true };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** Latest version number (0 when nothing was saved). */
export const latestVersion = (s: WorkflowState): number => s.versions.length;

/**
 * Each save of a changed template is a new version; saving the latest version's content again
 * appends nothing. Saving a retired template brings it back as a new version.
 */
export function decideWorkflow(command: WorkflowCommand, state: WorkflowState): WorkflowEvent[] {
  switch (command.type) {
    case 'SaveWorkflow': {
      const latest = state.versions[state.versions.length - 1];
      if (!state.retired && latest && sameDefinition(latest, command.template)) return [];
      return [{ type: 'WorkflowTemplateVersionSaved', data: { workflowId: command.template.id, version: state.versions.length + 1, template: command.template } }];
    }
    case 'RetireWorkflow':
      if (state.versions.length === 0 || state.retired) throw new DefinitionNotFoundError('workflow', command.workflowId);
      if (command.usedBy.length) throw new DefinitionInUseError('workflow', command.workflowId, command.usedBy);
      return [{ type: 'WorkflowTemplateRetired', data: { workflowId: command.workflowId, lastVersion: state.versions.length } }];
    default: {
      const never: never = command;
      return never;
    }
  }
}
