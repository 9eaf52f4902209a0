import { patchPolicySchema, workflowTemplateSchema, type PatchPolicyInput, type PendingUpdate } from '@patchbay/contracts';
import type { EndpointSnapshot, GroupSnapshot, PlanningSnapshot } from './snapshot.js';

/** A small valid workflow template: check disk, patch, reboot if required. */
export const sampleTemplate = workflowTemplateSchema.parse({
  id: 'standard',
  phases: {
    pre: [{ id: 'disk', type: 'check-disk', params: { minFreeMb: 500 } }],
    patch: [{ id: 'patch', type: 'patch', params: { scope: 'all' } }],
    post: [{ id: 'reboot', type: 'reboot', timeoutSeconds: 900, params: { mode: 'if-required', returnTimeoutSeconds: 600 } }],
  },
});

/** A pending update. */
export const update = (name: string, opts: Partial<PendingUpdate> = {}): PendingUpdate => ({ name, from: '1.0', to: '1.1', security: false, ...opts });

/** An endpoint with facts (pass `facts: undefined` in `opts` for none). */
export function endpoint(id: string, opts: Partial<EndpointSnapshot> & { updates?: PendingUpdate[]; cluster?: string } = {}): EndpointSnapshot {
  const { updates, cluster, ...rest } = opts;
  return {
    endpointId: id,
    labels: cluster ? { cluster } : {},
    ssh: { host: `${id}.lab`, port: 22, user: 'patchbay', sudo: true },
    retired: false,
    facts: { updatesKnown: true, rebootRequired: false, updates: updates ?? [update('openssl', { security: true })] },
    ...rest,
  };
}

/** A planning snapshot from a policy input, groups and endpoints. */
export function snapshot(policy: Partial<PatchPolicyInput>, groups: GroupSnapshot[], endpoints: EndpointSnapshot[]): PlanningSnapshot {
  const definition = patchPolicySchema.parse({ id: 'web', groups: groups.map((g) => g.id), workflow: { id: 'standard', version: 1 }, ...policy });
  return { policy: { id: definition.id, version: 3, definition }, workflow: { id: 'standard', version: 1, template: sampleTemplate }, groups, endpoints };
}
