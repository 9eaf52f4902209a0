/* eslint-disable @typescript-eslint/no-explicit-any -- the cases edit raw, untyped input on purpose */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DefinitionInvalidError, parseWorkflowTemplate, STEP_TYPES, workflowTemplateJsonSchema, type WorkflowTemplateInput } from '@patchbay/contracts';
import { checkWorkflow } from './definitions.js';

/** A valid template touching every step type; each case below breaks one thing. */
function template(): WorkflowTemplateInput & { phases: { pre: any[]; patch: any[]; post: any[] }; compensations: any[] } {
  return {
    id: 'web-standard',
    phases: {
      pre: [
        { id: 'disk', type: 'check-disk', params: { path: '/var', minFreeMb: 500 } },
        { id: 'snap', type: 'snapshot', params: { hook: { kind: 'command', on: 'controller', argv: ['/usr/local/bin/snapshot', '--host', '{{endpoint}}'] } } },
        { id: 'drain', type: 'drain', params: { hook: { kind: 'http', method: 'POST', url: 'https://lb.example.test/api/drain', expectStatus: [200] } }, onFailure: 'compensate', compensate: ['rejoin-after-failure'] },
        { id: 'stop-app', type: 'stop-service', params: { service: 'nginx.service' }, compensate: ['start-app-after-failure'] },
      ],
      patch: [
        { id: 'patch', type: 'patch', params: { scope: 'security', manager: 'apt' }, timeoutSeconds: 1800, retries: { max: 2, backoffSeconds: 10 } },
        { id: 'reboot', type: 'reboot', params: { mode: 'if-required', returnTimeoutSeconds: 300 }, timeoutSeconds: 600 },
        { id: 'port', type: 'wait-for', params: { check: { kind: 'tcp', port: 22 } }, timeoutSeconds: 120 },
        { id: 'reboot-again', type: 'reboot', params: { mode: 'always', returnTimeoutSeconds: 300 }, timeoutSeconds: 600 },
      ],
      post: [
        { id: 'start-app', type: 'start-service', params: { service: 'nginx' } },
        { id: 'health', type: 'validate', params: { check: { kind: 'http', url: 'http://127.0.0.1/health', expectStatus: [200] } }, retries: { max: 5, backoffSeconds: 2 } },
        { id: 'rejoin', type: 'rejoin', params: { hook: { kind: 'command', argv: ['lbctl', 'enable', 'web'] } } },
        { id: 'clean', type: 'cleanup', params: {} },
        { id: 'smoke', type: 'custom', params: { argv: ['/opt/app/smoke-test', '--quick'] }, onFailure: 'continue' },
      ],
    },
    compensations: [
      { id: 'rejoin-after-failure', type: 'rejoin', params: { hook: { kind: 'http', url: 'https://lb.example.test/api/enable' } } },
      { id: 'start-app-after-failure', type: 'start-service', params: { service: 'nginx' } },
    ],
  };
}

describe('workflow templates: a valid template', () => {
  it('validates with defaults applied (timeouts, retries, on-failure)', () => {
    const t = parseWorkflowTemplate(template());
    assert.equal(t.phases.pre[0]!.timeoutSeconds, 600);
    assert.deepEqual(t.phases.pre[0]!.retries, { max: 0, backoffSeconds: 5, multiplier: 2 });
    assert.equal(t.phases.post[4]!.onFailure, 'continue');
    assert.deepEqual(t.phases.pre[2]!.compensate, ['rejoin-after-failure']);
    assert.equal(t.phases.patch.filter((s) => s.type === 'reboot').length, 2, 'reboot may appear several times, with steps after it');
  });
});

describe('workflow templates: rejected definitions, each with its code and path', () => {
  type T = ReturnType<typeof template>;
  const cases: Array<[name: string, edit: (t: T) => void, code: string, path: string]> = [
    ['unknown step type', (t) => (t.phases.pre[0].type = 'format-disk'), 'WORKFLOW_UNKNOWN_STEP_TYPE', 'phases.pre[0].type'],
    ['missing step type', (t) => delete t.phases.pre[0].type, 'WORKFLOW_MISSING_PARAMETER', 'phases.pre[0].type'],
    ['missing parameter', (t) => delete t.phases.pre[0].params.minFreeMb, 'WORKFLOW_MISSING_PARAMETER', 'phases.pre[0].params.minFreeMb'],
    ['missing service name', (t) => (t.phases.pre[3].params = {}), 'WORKFLOW_MISSING_PARAMETER', 'phases.pre[3].params.service'],
    ['patch list without packages', (t) => (t.phases.patch[0].params = { scope: 'list' }), 'WORKFLOW_MISSING_PARAMETER', 'phases.patch[0].params.packages'],
    ['unknown field', (t) => (t.phases.pre[0].params.force = true), 'WORKFLOW_UNKNOWN_FIELD', 'phases.pre[0].params'],
    ['zero timeout', (t) => (t.phases.pre[0].timeoutSeconds = 0), 'WORKFLOW_INVALID_TIMEOUT', 'phases.pre[0].timeoutSeconds'],
    ['negative timeout', (t) => (t.phases.post[0].timeoutSeconds = -5), 'WORKFLOW_INVALID_TIMEOUT', 'phases.post[0].timeoutSeconds'],
    ['timeout over 24 h', (t) => (t.phases.patch[0].timeoutSeconds = 86_401), 'WORKFLOW_INVALID_TIMEOUT', 'phases.patch[0].timeoutSeconds'],
    ['reboot return timeout too short', (t) => (t.phases.patch[1].params.returnTimeoutSeconds = 5), 'WORKFLOW_INVALID_TIMEOUT', 'phases.patch[1].params.returnTimeoutSeconds'],
    ['step timeout shorter than the reboot return', (t) => (t.phases.patch[1].timeoutSeconds = 100), 'WORKFLOW_INVALID_TIMEOUT', 'phases.patch[1].timeoutSeconds'],
    ['wait-for interval not shorter than its timeout', (t) => (t.phases.patch[2].params.intervalSeconds = 120), 'WORKFLOW_INVALID_TIMEOUT', 'phases.patch[2].params.intervalSeconds'],
    ['service name with a shell metacharacter', (t) => (t.phases.pre[3].params.service = 'nginx;rm -rf /'), 'WORKFLOW_UNSAFE_VALUE', 'phases.pre[3].params.service'],
    ['service name with a newline', (t) => (t.phases.post[0].params.service = 'nginx\nreboot'), 'WORKFLOW_UNSAFE_VALUE', 'phases.post[0].params.service'],
    ['package name with $()', (t) => (t.phases.patch[0].params = { scope: 'list', packages: ['openssl', '$(curl evil)'] }), 'WORKFLOW_UNSAFE_VALUE', 'phases.patch[0].params.packages[1]'],
    ['path with a NUL', (t) => (t.phases.pre[0].params.path = '/var\u0000/x'), 'WORKFLOW_UNSAFE_VALUE', 'phases.pre[0].params.path'],
    ['relative path', (t) => (t.phases.pre[0].params.path = 'var/lib'), 'WORKFLOW_UNSAFE_VALUE', 'phases.pre[0].params.path'],
    ['path escaping with ..', (t) => (t.phases.post[3].params.paths = ['/tmp/../etc']), 'WORKFLOW_UNSAFE_VALUE', 'phases.post[3].params.paths[0]'],
    ['argv element with a newline', (t) => (t.phases.post[4].params.argv = ['/opt/app/smoke-test', 'a\nb']), 'WORKFLOW_UNSAFE_VALUE', 'phases.post[4].params.argv[1]'],
    ['a shell string instead of argv', (t) => (t.phases.post[4].params.argv = ['systemctl restart nginx && echo ok']), 'WORKFLOW_UNSAFE_VALUE', 'phases.post[4].params.argv'],
    ['empty argv', (t) => (t.phases.post[4].params.argv = []), 'WORKFLOW_INVALID_VALUE', 'phases.post[4].params.argv'],
    ['file:// hook', (t) => (t.phases.pre[2].params.hook.url = 'file:///etc/passwd'), 'WORKFLOW_UNSAFE_VALUE', 'phases.pre[2].params.hook.url'],
    ['gopher:// check', (t) => (t.phases.post[1].params.check.url = 'gopher://x/'), 'WORKFLOW_UNSAFE_VALUE', 'phases.post[1].params.check.url'],
    ['header with CRLF', (t) => (t.phases.pre[2].params.hook.headers = { 'X-A': 'a\r\nHost: evil' }), 'WORKFLOW_UNSAFE_VALUE', 'phases.pre[2].params.hook.headers.X-A'],
    ['duplicate step id', (t) => (t.phases.post[0].id = 'disk'), 'WORKFLOW_DUPLICATE_STEP_ID', 'phases.post[0].id'],
    ['compensation of an unknown step', (t) => (t.phases.pre[3].compensate = ['start-the-app']), 'WORKFLOW_UNKNOWN_COMPENSATION', 'phases.pre[3].compensate[0]'],
    ['a step compensating itself', (t) => (t.phases.pre[3].compensate = ['stop-app']), 'WORKFLOW_UNKNOWN_COMPENSATION', 'phases.pre[3].compensate[0]'],
    ['onFailure compensate without compensations', (t) => (t.phases.pre[1].onFailure = 'compensate'), 'WORKFLOW_MISSING_PARAMETER', 'phases.pre[1].compensate'],
    ['unknown on-failure policy', (t) => (t.phases.pre[1].onFailure = 'ignore'), 'WORKFLOW_INVALID_VALUE', 'phases.pre[1].onFailure'],
    ['patch phase without a patch step', (t) => (t.phases.patch = [t.phases.patch[2]]), 'WORKFLOW_MISSING_PARAMETER', 'phases.patch'],
    ['bad step id', (t) => (t.phases.pre[0].id = 'Disk Check'), 'WORKFLOW_INVALID_VALUE', 'phases.pre[0].id'],
    ['too many retries', (t) => (t.phases.patch[0].retries = { max: 50 }), 'WORKFLOW_INVALID_VALUE', 'phases.patch[0].retries.max'],
  ];
  for (const [name, edit, code, path] of cases) {
    it(`${name}: ${code} at ${path}`, () => {
      const t = template();
      edit(t);
      const r = checkWorkflow(t);
      assert.equal(r.ok, false, `${name} was accepted`);
      if (r.ok) return;
      const issue = r.issues.find((i) => i.path === path);
      assert.ok(issue, `no issue at ${path}: ${JSON.stringify(r.issues)}`);
      assert.equal(issue.code, code, JSON.stringify(r.issues));
      assert.throws(() => parseWorkflowTemplate(t), (e: unknown) => e instanceof DefinitionInvalidError && e.code === r.issues[0]!.code && Array.isArray(e.details['issues']));
    });
  }
});

describe('workflow templates: JSON Schema for editors', () => {
  it('lists every step type with its parameters', () => {
    const schema = workflowTemplateJsonSchema() as { properties: { phases: { properties: { pre: { items: { oneOf: Array<{ properties: { type: { const: string }; params: unknown } }> } } } } } };
    const steps = schema.properties.phases.properties.pre.items.oneOf;
    assert.deepEqual(steps.map((s) => s.properties.type.const).sort(), [...STEP_TYPES].sort());
    assert.ok(steps.every((s) => s.properties.params !== undefined));
  });
});
