import type { EmergencySpec, Labels, PatchPolicy, PendingUpdate, SshIdentity, WorkflowTemplate } from '@patchbay/contracts';

/** One endpoint as the inventory knows it when the cycle is planned. */
export interface EndpointSnapshot {
  endpointId: string;
  labels: Labels;
  ssh: SshIdentity;
  retired: boolean;
  /** Last gathered facts (absent: never gathered). */
  facts?: { updatesKnown: boolean; rebootRequired: boolean; updates: readonly PendingUpdate[] };
}

/** A reference group with its tier and its current members (as computed by the policy service). */
export interface GroupSnapshot {
  id: string;
  tier: string;
  members: readonly string[];
}

/**
 * Everything the planner reads, gathered at the edge before planning. The planning function sees
 * nothing else (no clock, no I/O), so the same snapshot always gives the same plan, whatever the
 * order of its lists.
 */
export interface PlanningSnapshot {
  policy: { id: string; version: number; definition: PatchPolicy };
  workflow: { id: string; version: number; template: WorkflowTemplate };
  groups: readonly GroupSnapshot[];
  endpoints: readonly EndpointSnapshot[];
}

/** What is asked for: a regular cycle of the policy, or an emergency. */
export type PlanRequest = { kind: 'scheduled' | 'manual' } | { kind: 'emergency'; emergency: EmergencySpec };
