// The workflow editor's model: moves, issues placed on their step, and the step-level diff.
// Run: node --test gateway/console/src/pages/workflows/model.unit.spec.mjs (Node 24 strips the types).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultStep, diffTemplates, emptyTemplate, freshId, fromTemplate, issuesByStep, moveStep, stepOnce, toTemplate, validate } from './model.ts';
import { summary } from './summary.ts';

const ids = (t, list) => t.lists[list].map((s) => s.step.id);

function sample() {
  return fromTemplate({
    id: 'web',
    phases: {
      pre: [{ type: 'stop-service', id: 'stop', params: { service: 'nginx' }, onFailure: 'compensate', compensate: ['restart'] }],
      patch: [defaultStep('patch', 'patch'), defaultStep('reboot', 'reboot')],
      post: [{ type: 'validate', id: 'health', params: { check: { kind: 'http', url: 'http://127.0.0.1/health' } } }],
    },
    compensations: [{ type: 'start-service', id: 'restart', params: { service: 'nginx' } }],
  });
}

test('a reboot in the middle with a validation after it is a valid template', () => {
  const t = sample();
  assert.deepEqual(validate(t), []);
  const out = toTemplate(t);
  assert.deepEqual(out.phases.patch.map((s) => s.id), ['patch', 'reboot']);
  assert.deepEqual(out.compensations.map((s) => s.id), ['restart']);
});

test('keyboard moves cross phase boundaries but compensations stay among themselves', () => {
  let t = sample();
  const reboot = t.lists.patch[1].uid;
  let r = stepOnce(t, reboot, 1);
  assert.deepEqual([r.list, r.index], ['post', 0]);
  t = r.template;
  assert.deepEqual(ids(t, 'post'), ['reboot', 'health']);
  r = stepOnce(t, reboot, -1);
  assert.deepEqual([r.list, r.index], ['patch', 1]);
  const stop = t.lists.pre[0].uid;
  assert.equal(stepOnce(t, stop, -1), undefined);
  assert.equal(stepOnce(t, t.lists.compensations[0].uid, 1), undefined);
  t = moveStep(t, stop, 'post', 1);
  assert.deepEqual(ids(t, 'post'), ['reboot', 'stop', 'health']);
  assert.deepEqual(ids(t, 'pre'), []);
});

test("each schema issue lands on its step and field, with the contracts' codes", () => {
  const t = sample();
  t.lists.pre[0].step.params.service = 'nginx; rm -rf /';
  t.lists.post[0].step.compensate = ['nope'];
  t.lists.patch[1].step.timeoutSeconds = 60; // shorter than the reboot's return timeout
  const issues = validate(t);
  const { byStep, general } = issuesByStep(t, issues);
  assert.deepEqual(general, []);
  assert.equal(byStep.get(t.lists.pre[0].uid).get('params.service')[0].code, 'WORKFLOW_UNSAFE_VALUE');
  assert.equal(byStep.get(t.lists.post[0].uid).get('compensate[0]')[0].code, 'WORKFLOW_UNKNOWN_COMPENSATION');
  assert.equal(byStep.get(t.lists.patch[1].uid).get('timeoutSeconds')[0].code, 'WORKFLOW_INVALID_TIMEOUT');
});

test('a new workflow needs an id and a patch step', () => {
  const t = emptyTemplate();
  assert.deepEqual(validate(t).map((i) => i.path), ['id']);
  t.id = 'fresh';
  t.lists.patch = [];
  assert.ok(validate(t).some((i) => i.path === 'phases.patch'));
  assert.equal(freshId(sample(), 'reboot'), 'reboot-2');
  assert.equal(freshId(sample(), 'cleanup'), 'cleanup');
});

test('the diff names added, removed, moved and changed steps, not the steps an insert shifted', () => {
  const before = toTemplate(sample());
  const t = sample();
  t.lists.pre.push({ uid: 'x', step: defaultStep('check-disk', 'disk') });
  t.lists.pre = [t.lists.pre[1], t.lists.pre[0]];
  const [patch, reboot] = t.lists.patch;
  t.lists.patch = [patch];
  t.lists.post = [reboot, ...t.lists.post];
  t.lists.post[1].step.params.check.url = 'http://127.0.0.1/ready';
  t.lists.compensations = [];
  t.lists.pre[1].step.compensate = [];
  t.lists.pre[1].step.onFailure = 'stop-endpoint';
  const d = diffTemplates(before, toTemplate(t));
  const by = Object.fromEntries(d.steps.map((s) => [s.id, s]));
  assert.equal(by.disk.kind, 'added');
  assert.equal(by.restart.kind, 'removed');
  assert.equal(by.reboot.kind, 'moved');
  assert.equal(by.reboot.to, 'Post-patch #1');
  assert.equal(by.health.kind, 'changed');
  assert.deepEqual(by.health.changes, [{ path: 'params.check.url', before: 'http://127.0.0.1/health', after: 'http://127.0.0.1/ready' }]);
  assert.equal(by.stop.kind, 'changed');
  assert.equal(by.patch, undefined);
  assert.deepEqual(diffTemplates(before, before).steps, []);
});

test('a closed card says what its step does', () => {
  assert.equal(summary({ type: 'reboot', id: 'r', params: { mode: 'always', returnTimeoutSeconds: 300 }, timeoutSeconds: 600 }), 'always, back within 300 s (timeout 600 s)');
  assert.equal(summary({ type: 'custom', id: 'c', params: { on: 'controller', argv: ['lb', 'drain', 'web1'] }, onFailure: 'continue' }), 'controller: lb drain web1 (on failure: continue)');
});
