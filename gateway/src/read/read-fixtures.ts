import type { NewEvent } from '@patchbay/contracts';

/** Streams with the events the services would append, in the order they would (for specs and the query bench). */
export type StreamBatch = [stream: string, events: NewEvent[]];

const ev = (id: string, type: string, data: Record<string, unknown>, actor = 'spec'): NewEvent => ({ eventId: id, type, data, actor, correlationId: 'corr-read' });
const ssh = (host: string) => ({ host, port: 22, user: 'patchbay', keyRef: 'env:PATCHBAY_KEY', sudo: true });
const fp = (c: string) => `SHA256:${c.repeat(43)}`;

/**
 * Seven endpoints (e-07 retired), groups `web` (tier high: e-01..e-04) and `db` (tier critical:
 * e-05, e-06), facts with security updates on e-01 and e-05 (e-01 needs a reboot), a pending host
 * key on e-03, a policy and a workflow template with two versions.
 */
export function inventoryBatches(): StreamBatch[] {
  const out: StreamBatch[] = [];
  for (let i = 1; i <= 7; i++) {
    const id = `e-0${i}`;
    const labels = { env: i % 2 ? 'prod' : 'dev', role: i <= 4 ? 'web' : 'db', 'team.example/owner': 'ops' };
    const events = [ev(`${id}-reg`, 'EndpointRegistered', { endpointId: id, labels, ssh: ssh(`${id}.lab`), source: 'csv:hosts.csv' })];
    if (i === 7) events.push(ev(`${id}-ret`, 'EndpointRetired', { endpointId: id, reason: 'decommissioned' }));
    if (i === 3) events.push(ev(`${id}-hk`, 'HostKeyPending', { endpointId: id, key: { algorithm: 'ssh-ed25519', fingerprint: fp('A') } }));
    if (i === 2) events.push(ev(`${id}-pin`, 'HostKeyPinned', { endpointId: id, key: { algorithm: 'ssh-ed25519', fingerprint: fp('B') }, decidedBy: 'tofu', reason: 'policy tofu' }));
    const facts = (updates: unknown[], rebootRequired: boolean) =>
      ev(`${id}-facts`, 'FactsGathered', {
        endpointId: id,
        gatheredAt: '2026-11-25T09:00:00Z',
        facts: { os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)', idLike: [] }, packageManager: 'apt', updates, updatesKnown: true, rebootRequired, disks: [], services: { source: 'systemd', names: [] }, problems: [] },
      });
    if (i === 1)
      events.push(
        facts(
          [
            { name: 'openssl', from: '3.0.13', to: '3.0.14', security: true, severity: 'important', advisory: 'DSA-5700-1' },
            { name: 'vim', from: '9.0.1', to: '9.0.2', security: false },
          ],
          true,
        ),
      );
    if (i === 2) events.push(facts([], false));
    if (i === 5) events.push(facts([{ name: 'libc6', from: '2.36-9', to: '2.36-10', security: true, severity: 'critical' }], false));
    out.push([`endpoint-${id}`, events]);
  }
  const member = (id: string, reason: string) => ({ endpointId: id, reason });
  out.push([
    'group-web',
    [
      ev('g-web-def', 'ReferenceGroupDefined', { groupId: 'web', version: 1, definition: { id: 'web', tier: 'high', selector: 'role=web', members: [], exclusions: [] } }),
      ev('g-web-mem', 'GroupMembershipChanged', { groupId: 'web', definitionVersion: 1, added: ['e-01', 'e-02', 'e-03', 'e-04'].map((e) => member(e, 'selector role=web matched')), removed: [], trigger: { kind: 'definition' } }),
    ],
  ]);
  out.push([
    'group-db',
    [
      ev('g-db-def', 'ReferenceGroupDefined', { groupId: 'db', version: 1, definition: { id: 'db', tier: 'critical', selector: 'role=db', members: [], exclusions: [] } }),
      ev('g-db-mem', 'GroupMembershipChanged', { groupId: 'db', definitionVersion: 1, added: [member('e-05', 'selector role=db matched'), member('e-06', 'static member'), member('e-07', 'selector role=db matched')], removed: [], trigger: { kind: 'definition' } }),
      ev('g-db-mem2', 'GroupMembershipChanged', { groupId: 'db', definitionVersion: 1, added: [], removed: [member('e-07', 'endpoint retired')], trigger: { kind: 'endpoint' } }),
    ],
  ]);
  out.push(['policy-prod', [ev('p-prod', 'PatchPolicyDefined', { policyId: 'prod', version: 1, definition: { id: 'prod', groups: ['web', 'db'], workflow: { id: 'standard', version: 2 } } })]]);
  const template = (v: number) => ({ id: 'standard', name: 'Standard', phases: { patch: [{ id: 'patch', type: 'patch', params: { scope: v === 1 ? 'all' : 'security' } }] } });
  out.push([
    'workflow-standard',
    [ev('w-1', 'WorkflowTemplateVersionSaved', { workflowId: 'standard', version: 1, template: template(1) }), ev('w-2', 'WorkflowTemplateVersionSaved', { workflowId: 'standard', version: 2, template: template(2) })],
  ]);
  return out;
}

const endpointName = (i: number) => `n-${String(i).padStart(5, '0')}`;

/**
 * A cycle of `n` endpoints in two waves, released and run: every run has three steps (a reboot in
 * the last); every tenth run failed on its validation step, the rest succeeded.
 */
export function cycleBatches(cycleId: string, n: number, options: { finished?: boolean } = { finished: true }): StreamBatch[] {
  const cycle = `cycle-${cycleId}`;
  const half = Math.ceil(n / 2);
  const planned = Array.from({ length: n }, (_, i) => ({ endpointId: endpointName(i), groupId: i < half ? 'db' : 'web', tier: i < half ? 'critical' : 'high', ssh: ssh(`${endpointName(i)}.lab`), packages: [{ name: 'openssl', to: '3.0.14', security: true }], rebootRequired: true, wave: i < half ? 0 : 1 }));
  const head: NewEvent[] = [
    ev(`${cycleId}-req`, 'CycleRequested', { cycleId, kind: 'manual', policyId: 'prod', requestedBy: 'token:aaa:alice', requestedAt: '2026-11-25T10:00:00Z', notBefore: '2026-11-25T10:00:00Z' }),
    ev(`${cycleId}-plan`, 'CyclePlanned', { cycleId, planHash: 'c'.repeat(64), header: { formatVersion: 1, policy: { id: 'prod', version: 1 }, waves: [{ index: 0, name: 'tier:critical', size: half }, { index: 1, name: 'tier:high', size: n - half }] }, parts: 1, endpoints: n, skipped: 0 }),
  ];
  for (let p = 0; p * 200 < n; p++) head.push(ev(`${cycleId}-part-${p}`, 'CyclePlanPartRecorded', { cycleId, part: p, endpoints: planned.slice(p * 200, (p + 1) * 200), skipped: [] }));
  head.push(
    ev(`${cycleId}-areq`, 'CycleApprovalRequired', { cycleId, approvers: ['token:bbb:carol'], minApprovals: 1 }),
    ev(`${cycleId}-appr`, 'CycleApproved', { cycleId, by: 'token:bbb:carol', auto: false, approvals: 1, required: 1, comment: 'go' }),
    ev(`${cycleId}-start`, 'CycleStarted', { cycleId, at: '2026-11-25T10:01:00Z' }),
  );
  const out: StreamBatch[] = [[cycle, head]];
  for (const wave of [0, 1]) {
    const members = planned.filter((p) => p.wave === wave);
    const events: NewEvent[] = [ev(`${cycleId}-wr-${wave}`, 'WaveReleased', { cycleId, wave, name: wave ? 'tier:high' : 'tier:critical', endpoints: members.length })];
    for (const m of members) events.push(ev(`${cycleId}-rel-${m.endpointId}`, 'EndpointReleased', { cycleId, endpointId: m.endpointId, wave }));
    out.push([cycle, events]);
    if (!options.finished) continue;
    const finished: NewEvent[] = [];
    let failed = 0;
    for (const m of members) {
      const i = Number(m.endpointId.slice(2));
      const fails = i % 10 === 9;
      const id = `${cycleId}-${m.endpointId}`;
      const ref = { cycleId, endpointId: m.endpointId };
      const cmd = (out: string, exitCode: number) => ({ argv: ['sh', '-c', 'x'], on: 'endpoint', exitCode, durationMs: 12, digest: 'd', stdoutTail: out, stderrTail: '', stdoutBytes: out.length, stderrBytes: 0, truncated: false });
      const run: NewEvent[] = [
        ev(`${id}-rs`, 'RunStarted', { ...ref, executorId: 'x-1', releasedEventId: `${cycleId}-rel-${m.endpointId}` }),
        ev(`${id}-s1`, 'StepStarted', { ...ref, stepKey: 'disk', attempt: 1, stepId: 'disk', type: 'check-disk', phase: 'pre' }),
        ev(`${id}-s1ok`, 'StepSucceeded', { ...ref, stepKey: 'disk', attempt: 1, durationMs: 40, commands: [cmd('42G free', 0)] }),
        ev(`${id}-s2`, 'StepStarted', { ...ref, stepKey: 'patch', attempt: 1, stepId: 'patch', type: 'patch', phase: 'patch' }),
        ev(`${id}-s2ok`, 'StepSucceeded', { ...ref, stepKey: 'patch', attempt: 1, durationMs: 900, commands: [cmd('Setting up openssl (3.0.14) ...', 0)] }),
        ev(`${id}-s3`, 'StepStarted', { ...ref, stepKey: 'reboot', attempt: 1, stepId: 'reboot', type: 'reboot', phase: 'post' }),
        ev(`${id}-rb1`, 'RebootIssued', { ...ref, stepKey: 'reboot', attempt: 1, bootIdBefore: 'boot-a' }),
        ev(`${id}-rb2`, 'RebootConfirmed', { ...ref, stepKey: 'reboot', attempt: 1, bootIdBefore: 'boot-a', bootIdAfter: 'boot-b', waitedMs: 30_000 }),
      ];
      if (fails) {
        failed += 1;
        run.push(
          ev(`${id}-s3f`, 'StepFailed', { ...ref, stepKey: 'reboot', attempt: 1, code: 'CHECK_FAILED', message: 'service nginx not active', durationMs: 31_000, commands: [cmd('inactive', 3)], willRetry: false }),
          ev(`${id}-end`, 'RunFailed', { ...ref, stepId: 'reboot', code: 'CHECK_FAILED', message: 'service nginx not active', compensated: false, durationMs: 32_000 }),
        );
      } else {
        run.push(ev(`${id}-s3ok`, 'StepSucceeded', { ...ref, stepKey: 'reboot', attempt: 1, durationMs: 31_000, commands: [cmd('active', 0)] }), ev(`${id}-end`, 'RunSucceeded', { ...ref, durationMs: 32_000 }));
      }
      out.push([`run-${cycleId}.${m.endpointId}`, run]);
      finished.push(ev(`${cycleId}-fin-${m.endpointId}`, 'EndpointRunFinished', { cycleId, endpointId: m.endpointId, wave, outcome: fails ? 'failed' : 'succeeded', ...(fails ? { code: 'CHECK_FAILED' } : {}), runEventId: `${id}-end` }));
    }
    finished.push(ev(`${cycleId}-wc-${wave}`, 'WaveCompleted', { cycleId, wave, succeeded: members.length - failed, failed }));
    out.push([cycle, finished]);
  }
  if (options.finished) out.push([cycle, [ev(`${cycleId}-done`, 'CycleCompleted', { cycleId, succeeded: n - Math.floor(n / 10), failed: Math.floor(n / 10), skipped: 0 })]]);
  return out;
}
