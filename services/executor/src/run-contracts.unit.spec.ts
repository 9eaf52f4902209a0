import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PackagesRecorded, PatchbayError, RebootIssued, RUN_EVENTS, RunStarted, StepFailed, StepStarted } from '@patchbay/contracts';

const ref = { cycleId: 'c1', endpointId: 'web-1' };
const plan = {
  wave: 0,
  ssh: { host: '10.0.0.5', user: 'patchbay', sudo: true },
  workflow: { workflowId: 'standard', version: 1, steps: [{ phase: 'patch', step: { id: 'patch', type: 'patch', params: { scope: 'all' } } }] },
  packages: [],
  rebootPolicy: 'if-required',
};

const rejects = (f: () => unknown) => assert.throws(f, (e: unknown) => e instanceof PatchbayError && e.code === 'VALIDATION_FAILED');

describe('run event contracts', () => {
  it('RunStarted carries the whole plan with defaults applied', () => {
    const d = RunStarted.parse({ ...ref, executorId: 'x1', releasedEventId: 'e1', plan });
    assert.equal(d.plan.ssh.port, 22);
    assert.equal(d.plan.workflow.steps[0]!.step.timeoutSeconds, 600);
    assert.equal(d.plan.rollbackOnValidationFailure, false);
  });

  it('refuses a plan with a step that would put a shell string on a command line', () => {
    const bad = { ...plan, workflow: { ...plan.workflow, steps: [{ phase: 'pre', step: { id: 'x', type: 'stop-service', params: { service: 'app; reboot' } } }] } };
    rejects(() => RunStarted.parse({ ...ref, executorId: 'x1', releasedEventId: 'e1', plan: bad }));
  });

  it('steps need a key, an attempt from 1 and a phase; failures a code and whether they retry', () => {
    assert.equal(StepStarted.parse({ ...ref, stepKey: 'patch', attempt: 1, stepId: 'patch', type: 'patch', phase: 'patch' }).resumed, false);
    rejects(() => StepStarted.parse({ ...ref, stepKey: 'patch', attempt: 0, stepId: 'patch', type: 'patch', phase: 'patch' }));
    rejects(() => StepStarted.parse({ ...ref, stepKey: 'patch', attempt: 1, stepId: 'patch', type: 'patch', phase: 'later' }));
    rejects(() => StepFailed.parse({ ...ref, stepKey: 'patch', attempt: 1, message: 'x', durationMs: 1, commands: [] }));
  });

  it('a reboot is issued only with the boot id it is issued for', () => {
    rejects(() => RebootIssued.parse({ ...ref, stepKey: 'reboot', attempt: 1 }));
    rejects(() => RebootIssued.parse({ ...ref, stepKey: 'reboot', attempt: 1, bootIdBefore: '' }));
  });

  it('package records say when and by which manager', () => {
    rejects(() => PackagesRecorded.parse({ ...ref, stepKey: 'patch', attempt: 1, when: 'later', manager: 'apt', packages: {} }));
    rejects(() => PackagesRecorded.parse({ ...ref, stepKey: 'patch', attempt: 1, when: 'before', manager: 'pacman', packages: {} }));
  });

  it('every run event type is a distinct, subject-safe name', () => {
    const types = RUN_EVENTS.map((d) => d.type);
    assert.equal(new Set(types).size, types.length);
    for (const t of types) assert.match(t, /^[A-Za-z][A-Za-z0-9_-]*$/);
  });
});
