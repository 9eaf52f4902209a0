/**
 * A recorded event sequence of a small cycle that halts: two endpoints in one wave, one succeeds,
 * one fails its `validate` step with output. Used to drive the live view in tests (fed directly to
 * the renderer, or appended to a real store and streamed by the gateway).
 */
export interface RecordedStep {
  stream: 'cycle' | 'web-1' | 'db-1';
  type: string;
  data: Record<string, unknown>;
}

/** The events of cycle `cycleId`, in the order the services would append them. */
export function recordedHaltingCycle(cycleId: string): RecordedStep[] {
  const at = '2026-11-25T10:00:00.000Z';
  const endpoints = [
    { endpointId: 'web-1', groupId: 'web', tier: 'low', wave: 0 },
    { endpointId: 'db-1', groupId: 'db', tier: 'low', wave: 0 },
  ];
  const cmd = (stderrTail: string, exitCode: number) => ({ argv: ['curl', '-fsS', 'http://127.0.0.1:8080/health'], on: 'endpoint', exitCode, durationMs: 12, digest: 'd'.repeat(64), stdoutTail: '', stderrTail, stdoutBytes: 0, stderrBytes: stderrTail.length });
  return [
    { stream: 'cycle', type: 'CycleRequested', data: { cycleId, kind: 'manual', policyId: 'cli-policy', requestedBy: 'token:ops', requestedAt: at, notBefore: at } },
    { stream: 'cycle', type: 'CyclePlanned', data: { cycleId, planHash: 'a'.repeat(64), header: { formatVersion: 1, waves: [{ index: 0, name: 'canary', size: 2 }] }, parts: 1, endpoints: 2, skipped: 0 } },
    { stream: 'cycle', type: 'CyclePlanPartRecorded', data: { cycleId, part: 0, endpoints, skipped: [] } },
    { stream: 'cycle', type: 'CycleApproved', data: { cycleId, by: 'token:approver', auto: false, approvals: 1, required: 1 } },
    { stream: 'cycle', type: 'CycleStarted', data: { cycleId, at } },
    { stream: 'cycle', type: 'WaveReleased', data: { cycleId, wave: 0, name: 'canary', endpoints: 2 } },
    { stream: 'web-1', type: 'RunStarted', data: { cycleId, endpointId: 'web-1', executorId: 'x1', releasedEventId: 'r1' } },
    { stream: 'db-1', type: 'RunStarted', data: { cycleId, endpointId: 'db-1', executorId: 'x1', releasedEventId: 'r2' } },
    { stream: 'web-1', type: 'StepStarted', data: { cycleId, endpointId: 'web-1', stepKey: 'patch', attempt: 1, stepId: 'patch', type: 'patch', phase: 'patch' } },
    { stream: 'db-1', type: 'StepStarted', data: { cycleId, endpointId: 'db-1', stepKey: 'validate', attempt: 1, stepId: 'validate', type: 'http-check', phase: 'post' } },
    { stream: 'web-1', type: 'StepSucceeded', data: { cycleId, endpointId: 'web-1', stepKey: 'patch', attempt: 1, stepId: 'patch', durationMs: 40, commands: [], detail: {} } },
    { stream: 'web-1', type: 'RunSucceeded', data: { cycleId, endpointId: 'web-1', durationMs: 50 } },
    { stream: 'cycle', type: 'EndpointRunFinished', data: { cycleId, endpointId: 'web-1', wave: 0, outcome: 'succeeded', runEventId: 'x1' } },
    {
      stream: 'db-1',
      type: 'StepFailed',
      data: { cycleId, endpointId: 'db-1', stepKey: 'validate', attempt: 1, stepId: 'validate', code: 'CHECK_FAILED', message: 'health check answered 503', durationMs: 12, commands: [cmd('line 1\nline 2\ncurl: (22) The requested URL returned error: 503', 22)], willRetry: false },
    },
    { stream: 'db-1', type: 'RunFailed', data: { cycleId, endpointId: 'db-1', stepId: 'validate', code: 'CHECK_FAILED', message: 'health check answered 503', compensated: false, durationMs: 60 } },
    { stream: 'cycle', type: 'EndpointRunFinished', data: { cycleId, endpointId: 'db-1', wave: 0, outcome: 'failed', code: 'CHECK_FAILED', runEventId: 'x2' } },
    { stream: 'cycle', type: 'WaveCompleted', data: { cycleId, wave: 0, succeeded: 1, failed: 1 } },
    { stream: 'cycle', type: 'CycleHalted', data: { cycleId, code: 'ERROR_THRESHOLD_REACHED', reason: '1 failure reaches the threshold of 1', failed: 1, threshold: 1 } },
  ];
}
