import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchbayError } from '@patchbay/contracts';
import { parseCrashFault, runEventId } from './endpoint-run.js';
import { loadExecutorSettings } from './settings.js';

describe('executor settings', () => {
  it('defaults: a stable id from the host name, 32 runs at once, markers and remote process control on', () => {
    const s = loadExecutorSettings({});
    assert.match(s.executorId, /^executor-/);
    assert.equal(s.concurrency, 32);
    assert.equal(s.remoteProcessControl, true);
    assert.equal(s.rebootMarker, true);
    assert.equal(s.crashFault, undefined);
    assert.equal(s.nice, 10, 'the executor yields the CPU to the event path by default');
  });

  it('reads every variable', () => {
    const s = loadExecutorSettings({
      PATCHBAY_EXECUTOR_ID: 'exec-1',
      PATCHBAY_EXECUTOR_CONCURRENCY: '200',
      PATCHBAY_EXECUTOR_NICE: '0',
      PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL: 'false',
      PATCHBAY_EXECUTOR_REBOOT_MARKER: '0',
      PATCHBAY_EXECUTOR_DEFAULT_KEY_REF: 'env:PATCHBAY_SSH_KEY',
      PATCHBAY_EXECUTOR_FAULT_KILL_AFTER: 'RebootIssued:reboot:150',
    });
    assert.deepEqual(
      [s.executorId, s.concurrency, s.nice, s.remoteProcessControl, s.rebootMarker, s.defaultKeyRef, s.crashFault],
      ['exec-1', 200, 0, false, false, 'env:PATCHBAY_SSH_KEY', { eventType: 'RebootIssued', stepKey: 'reboot', delayMs: 150 }],
    );
  });

  const bad: Array<[string, string]> = [
    ['PATCHBAY_EXECUTOR_CONCURRENCY', '0'],
    ['PATCHBAY_EXECUTOR_CONCURRENCY', 'many'],
    ['PATCHBAY_EXECUTOR_NICE', '-5'],
    ['PATCHBAY_EXECUTOR_NICE', '20'],
    ['PATCHBAY_EXECUTOR_ID', 'has space'],
    ['PATCHBAY_EXECUTOR_DEFAULT_KEY_REF', '/etc/key'],
    ['PATCHBAY_EXECUTOR_REBOOT_MARKER', 'maybe'],
    ['PATCHBAY_EXECUTOR_FAULT_KILL_AFTER', 'rm -rf'],
  ];
  for (const [name, value] of bad) {
    it(`refuses ${name}=${JSON.stringify(value)} with CONFIG_INVALID naming the variable`, () => {
      assert.throws(
        () => loadExecutorSettings({ [name]: value }),
        (e: unknown) => e instanceof PatchbayError && e.code === 'CONFIG_INVALID' && e.message.includes(name),
      );
    });
  }
});

describe('run event ids', () => {
  it('are deterministic from stream, step and attempt', () => {
    assert.equal(runEventId('run-c1.web-1', 'patch', 2, 'started'), 'run-c1.web-1:patch:2:started');
    assert.equal(runEventId('run-c1.web-1', 'patch', 2, 'started'), runEventId('run-c1.web-1', 'patch', 2, 'started'));
  });
  it('fall back to a digest when longer than the store allows', () => {
    const long = `run-${'c'.repeat(100)}.${'e'.repeat(100)}`;
    const id = runEventId(long, 'compensate.start-app', 1, 'succeeded');
    assert.ok(id.length <= 200);
    assert.match(id, /^run-sha256:[0-9a-f]{64}$/);
    assert.notEqual(id, runEventId(long, 'compensate.start-app', 1, 'failed'));
  });
  it('crash faults parse only when set', () => {
    assert.equal(parseCrashFault(undefined), undefined);
    assert.deepEqual(parseCrashFault('StepStarted'), { eventType: 'StepStarted', delayMs: 0 });
  });
});
