import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { checkWorkflowTemplate } from '@patchbay/contracts';
import { bundleYaml, labInventoryIni, labPolicyYaml, labWorkflowYaml, type LabWorkflowOptions } from './bundles.js';
import { DEFAULT_SCENARIO } from './scenario.js';

const base: LabWorkflowOptions = { id: 'wf', name: 'Lab workflow', app: DEFAULT_SCENARIO.app, patchTimeoutSeconds: 120, rebootReturnSeconds: 30, rebootTimeoutSeconds: 40 };
/** The template as the policy service checks it (the bundle's `kind` taken off first). */
const template = (yaml: string) => {
  const { kind, ...body } = parseAllDocuments(yaml)[0]!.toJS() as Record<string, unknown>;
  assert.equal(kind, 'WorkflowTemplate');
  return checkWorkflowTemplate(body);
};
const stepIds = (yaml: string) => {
  const t = template(yaml);
  assert.ok(t.ok, JSON.stringify(!t.ok && t.issues));
  return Object.fromEntries(Object.entries(t.template.phases).map(([phase, steps]) => [phase, (steps as Array<{ id: string }>).map((s) => s.id)]));
};

describe('the lab bundles and inventory', () => {
  it('the workflow is a valid template with the steps in order; validation and markers as asked', () => {
    assert.deepEqual(stepIds(labWorkflowYaml(base)), { pre: ['disk', 'stop-app'], patch: ['patch', 'reboot'], post: ['start-app', 'validate'] });
    assert.deepEqual(stepIds(labWorkflowYaml({ ...base, validate: false })), { pre: ['disk', 'stop-app'], patch: ['patch', 'reboot'], post: ['start-app'] });
    assert.deepEqual(stepIds(labWorkflowYaml({ ...base, markers: true })), { pre: ['disk', 'stop-app', 'marker-pre'], patch: ['patch', 'reboot'], post: ['start-app', 'validate', 'marker-post'] });
    const t = template(labWorkflowYaml(base));
    assert.ok(t.ok);
    const reboot = t.template.phases.patch.find((s) => s.id === 'reboot') as unknown as { timeoutSeconds: number; params: { returnTimeoutSeconds: number } };
    assert.equal(reboot.timeoutSeconds, 40);
    assert.equal(reboot.params.returnTimeoutSeconds, 30);
  });

  it('one bundle file holds the workflow, the group and its policy, each document as written', () => {
    const docs = parseAllDocuments(
      bundleYaml(labWorkflowYaml(base), labPolicyYaml({ groupId: 'g', groupName: 'G', selector: 'fleet=sim', policyId: 'p', workflowId: 'wf', maxConcurrency: 7, errorThreshold: 9, approval: '{ mode: manual, approvers: [alice], minApprovals: 1 }' })),
    ).map((d) => d.toJS() as Record<string, unknown>);
    assert.deepEqual(
      docs.map((d) => d['kind']),
      ['WorkflowTemplate', 'ReferenceGroup', 'PatchPolicy'],
    );
    assert.deepEqual(docs[1], { kind: 'ReferenceGroup', id: 'g', name: 'G', tier: 'low', selector: 'fleet=sim' });
    assert.deepEqual(docs[2], { kind: 'PatchPolicy', id: 'p', groups: ['g'], updates: { include: 'all' }, approval: { mode: 'manual', approvers: ['alice'], minApprovals: 1 }, rollout: { waves: [] }, maxConcurrency: 7, errorThreshold: 9, reboot: 'if-required', workflow: { id: 'wf', version: 1 } });
  });

  it('the inventory: one group, root over each host’s port, the vars and the key file', () => {
    assert.equal(
      labInventoryIni('sim', [{ name: 'a', host: '127.0.0.1', port: 2201 }, { name: 'b', host: '10.0.0.2', port: 22 }], { vars: { fleet: 'sim' }, keyPath: '/k/id' }),
      ['[sim]', 'a ansible_host=127.0.0.1 ansible_port=2201 ansible_user=root', 'b ansible_host=10.0.0.2 ansible_port=22 ansible_user=root', '[sim:vars]', 'fleet=sim', 'ansible_ssh_private_key_file=/k/id', ''].join('\n'),
    );
    assert.equal(labInventoryIni('x', [{ name: 'a', host: 'h', port: 22 }]), ['[x]', 'a ansible_host=h ansible_port=22 ansible_user=root', ''].join('\n'));
  });
});
