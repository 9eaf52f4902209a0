/*
 * The policy-as-code and the inventory that the benchmarks, the reliability suite and the
 * end-to-end tests give the stack for a lab or simulated fleet: one workflow (check disk, stop the
 * scenario's app, upgrade with apt, reboot if required, start the app, validate), a reference group
 * with its policy, and the hosts as an Ansible INI inventory. Each caller sets its own ids, labels
 * and timeouts.
 */

/** A host as an inventory line names it: its name, address and SSH port (user root). */
export interface InventoryHost {
  name: string;
  host: string;
  port: number;
}

/**
 * Hosts as an Ansible INI inventory: one group, `vars` as the group's vars (Patchbay's import makes
 * them the endpoints' labels), and `keyPath` as every host's private key file when given.
 */
export function labInventoryIni(group: string, hosts: readonly InventoryHost[], opts: { vars?: Readonly<Record<string, string>>; keyPath?: string } = {}): string {
  const vars = [...Object.entries(opts.vars ?? {}).map(([k, v]) => `${k}=${v}`), ...(opts.keyPath ? [`ansible_ssh_private_key_file=${opts.keyPath}`] : [])];
  return [`[${group}]`, ...hosts.map((h) => `${h.name} ansible_host=${h.host} ansible_port=${h.port} ansible_user=root`), ...(vars.length ? [`[${group}:vars]`, ...vars] : []), ''].join('\n');
}

export interface LabWorkflowOptions {
  id: string;
  name: string;
  /** The scenario's application: stopped before the patch, started after it, its port checked. */
  app: { service: string; port: number };
  patchTimeoutSeconds: number;
  /** How long the reboot step waits for the endpoint to come back, and the step's own timeout. */
  rebootReturnSeconds: number;
  rebootTimeoutSeconds: number;
  /** Validate at the end that the app listens again (`ss`, 5 retries). Default true. */
  validate?: boolean;
  /** An `echo pb-marker-pre` step at the end of the pre phase and `echo pb-marker-post` at the end (a side effect that shows a step run twice). */
  markers?: boolean;
}

/** The lab's workflow template as YAML. */
export function labWorkflowYaml(o: LabWorkflowOptions): string {
  const marker = (phase: string) => `    - id: marker-${phase}
      type: custom
      params: { argv: [echo, pb-marker-${phase}] }
`;
  const validate = `    - id: validate
      type: validate
      params:
        check: { kind: command, on: endpoint, argv: [ss, -Hltn, sport, '=', ':${o.app.port}'], expectOutput: ':${o.app.port}' }
      retries: { max: 5, backoffSeconds: 0.2, multiplier: 1 }
`;
  return `kind: WorkflowTemplate
id: ${o.id}
name: ${o.name}
phases:
  pre:
    - id: disk
      type: check-disk
      params: { path: /, minFreeMb: 100 }
    - id: stop-app
      type: stop-service
      params: { service: ${o.app.service} }
${o.markers ? marker('pre') : ''}  patch:
    - id: patch
      type: patch
      params: { scope: all, manager: apt }
      timeoutSeconds: ${o.patchTimeoutSeconds}
    - id: reboot
      type: reboot
      params: { mode: if-required, returnTimeoutSeconds: ${o.rebootReturnSeconds} }
      timeoutSeconds: ${o.rebootTimeoutSeconds}
  post:
    - id: start-app
      type: start-service
      params: { service: ${o.app.service} }
${o.validate === false ? '' : validate}${o.markers ? marker('post') : ''}`;
}

export interface LabPolicyOptions {
  groupId: string;
  groupName: string;
  /** The group's label selector, e.g. `fleet=sim`. */
  selector: string;
  policyId: string;
  workflowId: string;
  maxConcurrency: number;
  errorThreshold: number;
  /** The policy's approval (YAML flow map). Default: automatic, at once. */
  approval?: string;
}

/** A reference group (tier low) and its policy (all updates, one wave, reboot if required) as YAML. */
export function labPolicyYaml(o: LabPolicyOptions): string {
  return `kind: ReferenceGroup
id: ${o.groupId}
name: ${o.groupName}
tier: low
selector: ${o.selector}
---
kind: PatchPolicy
id: ${o.policyId}
groups: [${o.groupId}]
updates: { include: all }
approval: ${o.approval ?? '{ mode: auto, afterDays: 0 }'}
rollout: { waves: [] }
maxConcurrency: ${o.maxConcurrency}
errorThreshold: ${o.errorThreshold}
reboot: if-required
workflow: { id: ${o.workflowId}, version: 1 }
`;
}

/** Documents of one bundle file. */
export const bundleYaml = (...documents: string[]): string => documents.join('---\n');
