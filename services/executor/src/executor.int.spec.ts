import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_SCENARIO, SimulatedFleet, scenarioSchema, type SimulatedEndpoint } from '@patchbay/fleet-lab';
import { utils } from 'ssh2';
import { EXECUTOR, type ExecutorHandle } from './index.js';
import { assertRunInvariants, ExecutorTestBed, stepKeysOf, type WorkflowInput, type WorkflowStepInput } from './testing/test-bed.js';

/**
 * The executor against the simulated fleet (in-process ssh2 servers answering like Debian 12
 * hosts), with a real nats-server, the SQLite store and the relay. Executors are started as the
 * host starts them; the crash test runs the executor as its own process and SIGKILLs it.
 */

const APP = DEFAULT_SCENARIO.app.service;
const NEVER_RETURNS = 40;
const SCENARIO = scenarioSchema.parse({
  ...DEFAULT_SCENARIO,
  defaults: { rebootDelayMs: 300 },
  hosts: { [String(NEVER_RETURNS)]: { rebootMode: 'never' } },
});
const PACKAGES = SCENARIO.packages.map((p) => ({ name: p.name, from: p.installed, to: p.available, security: p.classification === 'security' }));

/** The reference workflow, in the simulated fleet's dialect (its shell has no cleanup verbs). */
function workflow(extraPre: WorkflowStepInput[] = [], overrides: Record<string, Partial<WorkflowStepInput>> = {}): WorkflowInput {
  const s = (x: WorkflowStepInput): WorkflowStepInput => ({ ...x, ...(overrides[x.id] ?? {}) }) as WorkflowStepInput;
  return {
    workflowId: 'reference',
    version: 1,
    steps: [
      { phase: 'pre', step: s({ id: 'disk', type: 'check-disk', params: { minFreeMb: 100 } }) },
      { phase: 'pre', step: s({ id: 'stop-app', type: 'stop-service', params: { service: APP }, compensate: ['start-app'] }) },
      { phase: 'pre', step: s({ id: 'snapshot', type: 'snapshot', params: { hook: { kind: 'command', on: 'controller', argv: ['true'] } } }) },
      { phase: 'pre', step: s({ id: 'drain', type: 'drain', params: { hook: { kind: 'command', on: 'controller', argv: ['true'] } }, compensate: ['rejoin'] }) },
      ...extraPre.map((x) => ({ phase: 'pre', step: x })),
      { phase: 'patch', step: s({ id: 'patch', type: 'patch', params: { scope: 'all' }, onFailure: 'compensate', compensate: ['start-app', 'rejoin'] }) },
      { phase: 'post', step: s({ id: 'reboot', type: 'reboot', timeoutSeconds: 30, params: { mode: 'if-required', returnTimeoutSeconds: 4 }, onFailure: 'compensate', compensate: ['rejoin', 'start-app'] }) },
      { phase: 'post', step: s({ id: 'start-app', type: 'start-service', params: { service: APP } }) },
      { phase: 'post', step: s({ id: 'app-up', type: 'wait-for', timeoutSeconds: 10, params: { check: { kind: 'command', argv: ['systemctl', 'is-active', APP] }, intervalSeconds: 0.2 } }) },
      { phase: 'post', step: s({ id: 'validate', type: 'validate', params: { check: { kind: 'command', argv: ['curl', '-fsS', 'http://127.0.0.1:8080/health'], expectOutput: 'ok' } } }) },
      { phase: 'post', step: s({ id: 'rejoin', type: 'rejoin', params: { hook: { kind: 'command', on: 'controller', argv: ['true'] } } }) },
    ],
    compensations: [],
  } as WorkflowInput;
}

describe('executor on the simulated fleet', () => {
  const clientKey = utils.generateKeyPairSync('ed25519');
  let bed: ExecutorTestBed;
  let fleet: SimulatedFleet;
  let keyRef: string;
  const ep = (i: number): SimulatedEndpoint => fleet.endpoints[i]!;
  const ssh = (i: number) => ({ host: ep(i).host, port: ep(i).port, user: 'root', keyRef, sudo: false });
  const simSettings = { remoteProcessControl: false, rebootMarker: false, rebootPollMs: 100, stopGraceMs: 200 };

  before(async () => {
    bed = await ExecutorTestBed.start();
    keyRef = `file:${join(bed.dir, 'client_ed25519')}`;
    writeFileSync(join(bed.dir, 'client_ed25519'), clientKey.private, { mode: 0o600 });
    fleet = await SimulatedFleet.start({ endpoints: 48, scenario: SCENARIO, clientPublicKey: clientKey.public, basePort: 20_000 + Math.floor(Math.random() * 20_000), latencyJitter: 0, shutdownDelayMs: 50 });
    for (const t of fleet.targets()) await bed.pinHostKey(t.id, t.hostKeyFingerprint);
  });
  after(async () => {
    await bed?.stop();
    await fleet?.stop();
  });

  it('two executors share 24 endpoints; duplicate releases are dropped; no step runs twice; every host patched and rebooted once', async (t) => {
    const a = await bed.startExecutor({ ...simSettings, executorId: 'exec-a', concurrency: 6 });
    const b = await bed.startExecutor({ ...simSettings, executorId: 'exec-b', concurrency: 6 });
    t.after(() => Promise.all([bed.stopExecutor(a), bed.stopExecutor(b)]));
    const started = Date.now();
    const streams: string[] = [];
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    for (let i = 0; i < 24; i++) streams.push(await bed.release({ cycleId: 'c-many', endpointId: ep(i).id, ssh: ssh(i), workflow: workflow(), packages: PACKAGES }, `00-${traceId}-00f067aa0ba902b7-01`));
    // A redelivered or duplicated release for some endpoints: whoever loses the claim drops it.
    for (let i = 0; i < 8; i++) await bed.release({ cycleId: 'c-many', endpointId: ep(i).id, ssh: ssh(i), workflow: workflow(), packages: PACKAGES });
    const runs = await bed.waitForFinal(streams, 90_000);
    const wallMs = Date.now() - started;
    for (const [stream, events] of runs) {
      assertRunInvariants(stream, events);
      assert.equal(events.at(-1)!.type, 'RunSucceeded', `${stream}: ${JSON.stringify(events.at(-1)!.data)}`);
      // The cycle is one trace: every run event carries the release's trace id.
      for (const e of events) assert.equal(e.metadata.traceparent?.split('-')[1], traceId, `${e.type} of ${stream} is in the cycle's trace`);
      assert.ok(events.every((e) => e.metadata.correlationId === 'c-many'));
      assert.deepEqual(stepKeysOf(events, 'StepSucceeded'), ['disk', 'stop-app', 'snapshot', 'drain', 'patch', 'reboot', 'start-app', 'app-up', 'validate', 'rejoin']);
      const reboot = events.find((e) => e.type === 'RebootConfirmed')!.data as { bootIdBefore: string; bootIdAfter: string };
      assert.notEqual(reboot.bootIdBefore, reboot.bootIdAfter);
      const records = events.filter((e) => e.type === 'PackagesRecorded').map((e) => e.data as { when: string; packages: Record<string, string> });
      assert.equal(records.find((r) => r.when === 'before')!.packages['pb-openssl-demo'], '1.0.0-1');
      assert.equal(records.find((r) => r.when === 'after')!.packages['pb-openssl-demo'], '1.0.1-1');
      const patch = events.find((e) => e.type === 'StepSucceeded' && (e.data as { stepKey: string }).stepKey === 'patch')!.data as { commands: Array<{ argv: string[]; digest: string; exitCode: number }> };
      const install = patch.commands.find((c) => c.argv[0] === 'apt-get' && c.argv.includes('install'))!;
      assert.deepEqual(install.argv.slice(-4), PACKAGES.map((p) => `${p.name}=${p.to}`));
      assert.match(install.digest, /^[0-9a-f]{64}$/);
    }
    for (let i = 0; i < 24; i++) {
      const m = ep(i).machine;
      for (const p of SCENARIO.packages) assert.equal(m.installed.get(p.name), p.available, `${ep(i).id} ${p.name}`);
      assert.equal(m.bootHistory.length, 2, `${ep(i).id} rebooted exactly once`);
      for (const [boot, n] of m.rebootRequestsByBootId) assert.ok(n <= 1, `${ep(i).id}: ${n} reboot requests during boot ${boot}`);
      assert.equal(m.services.get(APP), 'active');
    }
    const statsA = a.app.get<ExecutorHandle>(EXECUTOR, { strict: false }).stats;
    const statsB = b.app.get<ExecutorHandle>(EXECUTOR, { strict: false }).stats;
    assert.equal(statsA.claimed + statsB.claimed, 24, 'each endpoint claimed once');
    assert.ok(statsA.claimed > 0 && statsB.claimed > 0, `both replicas worked (a ${statsA.claimed}, b ${statsB.claimed})`);
    assert.equal(statsA.lostClaims + statsB.lostClaims, 8, 'every duplicate release lost its claim');
    // A finished run does not keep its SSH connection open until the next cycle.
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && Array.from({ length: 24 }, (_, i) => ep(i).sockets.size).some((n) => n > 0)) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(Array.from({ length: 24 }, (_, i) => ep(i).sockets.size), new Array(24).fill(0), 'no connection left open to a finished endpoint');
    console.log(`# 24 simulated endpoints, two executors: ${wallMs} ms wall; claims a=${statsA.claimed} b=${statsB.claimed}`);
  });

  it('a replica with no free slot hands releases back instead of holding them; the replica with room runs them', async (t) => {
    const small = await bed.startExecutor({ ...simSettings, executorId: 'exec-small', concurrency: 1 });
    const big = await bed.startExecutor({ ...simSettings, executorId: 'exec-big', concurrency: 8 });
    t.after(() => Promise.all([bed.stopExecutor(small), bed.stopExecutor(big)]));
    const hold: WorkflowStepInput = { id: 'hold', type: 'custom', params: { argv: ['sleep', '1'] } };
    const started = Date.now();
    const streams: string[] = [];
    for (let i = 41; i < 47; i++) streams.push(await bed.release({ cycleId: 'c-capacity', endpointId: ep(i).id, ssh: ssh(i), workflow: workflow([hold]), packages: PACKAGES }));
    const runs = await bed.waitForFinal(streams, 30_000);
    const wallMs = Date.now() - started;
    for (const [stream, events] of runs) {
      assertRunInvariants(stream, events);
      assert.equal(events.at(-1)!.type, 'RunSucceeded');
    }
    const s = small.app.get<ExecutorHandle>(EXECUTOR, { strict: false }).stats;
    const b = big.app.get<ExecutorHandle>(EXECUTOR, { strict: false }).stats;
    assert.equal(s.claimed + b.claimed, 6);
    assert.ok(s.claimed <= 2, `the one-slot replica ran ${s.claimed}`);
    assert.ok(s.handedBack > 0, 'the full replica handed releases back');
    assert.equal(b.handedBack, 0, 'the replica with room never had to');
    // Six runs of about 2 s fit in one round on the replica with room; hoarding would serialise them.
    assert.ok(wallMs < 6000, `took ${wallMs} ms`);
    console.log(`# capacity: small ran ${s.claimed} and handed back ${s.handedBack}, big ran ${b.claimed}; ${wallMs} ms wall`);
  });

  it('an aborted cycle stops the step in flight, runs the compensations of what was done, and ends RunCancelled', async (t) => {
    const x = await bed.startExecutor({ ...simSettings, executorId: 'exec-abort', concurrency: 8 });
    t.after(() => bed.stopExecutor(x));
    const hold: WorkflowStepInput = { id: 'hold', type: 'custom', timeoutSeconds: 60, params: { argv: ['sleep', '30'] } };
    const streams: string[] = [];
    for (let i = 24; i < 30; i++) streams.push(await bed.release({ cycleId: 'c-abort', endpointId: ep(i).id, ssh: ssh(i), workflow: workflow([hold]), packages: PACKAGES }));
    await Promise.all(streams.map((s) => bed.waitForEvent(s, (e) => e.type === 'StepStarted' && (e.data as { stepKey: string }).stepKey === 'hold', 20_000)));
    for (let i = 24; i < 30; i++) assert.equal(ep(i).machine.services.get(APP), 'inactive');
    const aborted = Date.now();
    await bed.abort('c-abort');
    const runs = await bed.waitForFinal(streams, 20_000);
    const tookMs = Date.now() - aborted;
    for (const [stream, events] of runs) {
      assertRunInvariants(stream, events);
      assert.equal(events.at(-1)!.type, 'RunCancelled');
      const holdFailed = events.find((e) => e.type === 'StepFailed' && (e.data as { stepKey: string }).stepKey === 'hold')!.data as { code: string };
      assert.equal(holdFailed.code, 'CANCELLED');
      // Newest first: drain's compensation (rejoin), then stop-app's (start-app); the patch never ran.
      assert.deepEqual(stepKeysOf(events, 'StepSucceeded').slice(-2), ['compensate.rejoin', 'compensate.start-app']);
      assert.ok(!stepKeysOf(events, 'StepStarted').includes('patch'));
    }
    for (let i = 24; i < 30; i++) {
      assert.equal(ep(i).machine.services.get(APP), 'active', 'the application was started again');
      assert.equal(ep(i).machine.installed.get('pb-tools'), '2.3.0-1', 'nothing was patched');
    }
    assert.ok(tookMs < 3000, `cancelled in ${tookMs} ms`);
    console.log(`# abort of 6 runs mid-step: all RunCancelled ${tookMs} ms after CycleAborted was stored`);
    // A release of a cycle already aborted is claimed and cancelled at once, so the planner's counts close.
    const late = await bed.release({ cycleId: 'c-abort', endpointId: ep(30).id, ssh: ssh(30), workflow: workflow(), packages: PACKAGES });
    const lateEvents = (await bed.waitForFinal([late], 10_000)).get(late)!;
    assert.deepEqual(lateEvents.map((e) => e.type), ['RunStarted', 'RunCancelled']);
    assert.equal(ep(30).machine.services.get(APP), 'active', 'nothing touched the endpoint');
  });

  it('a step over its time limit is stopped at the limit with STEP_TIMEOUT, and compensations run', async (t) => {
    const x = await bed.startExecutor({ ...simSettings, executorId: 'exec-step-timeout', concurrency: 2 });
    t.after(() => bed.stopExecutor(x));
    const slow: WorkflowStepInput = { id: 'slow', type: 'custom', timeoutSeconds: 1, params: { argv: ['sleep', '30'] } };
    const stream = await bed.release({ cycleId: 'c-step-timeout', endpointId: ep(39).id, ssh: ssh(39), workflow: workflow([slow]), packages: PACKAGES });
    const [events] = [...(await bed.waitForFinal([stream], 20_000)).values()];
    assertRunInvariants(stream, events!);
    const failedStep = events!.find((e) => e.type === 'StepFailed' && (e.data as { stepKey: string }).stepKey === 'slow')!.data as { code: string; durationMs: number };
    assert.equal(failedStep.code, 'STEP_TIMEOUT');
    assert.ok(failedStep.durationMs >= 950 && failedStep.durationMs < 5_000, `stopped after ${failedStep.durationMs} ms`);
    assert.equal(events!.at(-1)!.type, 'RunFailed');
    assert.ok(!stepKeysOf(events!, 'StepStarted').includes('patch'), 'nothing after the failed step ran');
    assert.equal(ep(39).machine.installed.get('pb-tools'), '2.3.0-1', 'nothing was patched');
  });

  it('a host that never comes back fails with REBOOT_TIMEOUT after its return timeout, and compensations run', async (t) => {
    const x = await bed.startExecutor({ ...simSettings, executorId: 'exec-never', concurrency: 2 });
    t.after(() => bed.stopExecutor(x));
    const stream = await bed.release({ cycleId: 'c-never', endpointId: ep(NEVER_RETURNS).id, ssh: ssh(NEVER_RETURNS), workflow: workflow(), packages: PACKAGES });
    const [events] = [...(await bed.waitForFinal([stream], 30_000)).values()];
    assertRunInvariants(stream, events!);
    const failed = events!.at(-1)!;
    assert.equal(failed.type, 'RunFailed');
    const d = failed.data as { stepId: string; code: string; compensated: boolean };
    assert.equal(d.stepId, 'reboot');
    assert.equal(d.code, 'REBOOT_TIMEOUT');
    // rejoin runs on the controller and succeeds; start-app cannot reach the host and is recorded as failed.
    assert.deepEqual(stepKeysOf(events!, 'StepStarted').slice(-2), ['compensate.rejoin', 'compensate.start-app']);
    assert.deepEqual(stepKeysOf(events!, 'StepSucceeded').slice(-1), ['compensate.rejoin']);
    assert.equal(d.compensated, false);
    assert.equal(ep(NEVER_RETURNS).machine.rebootRequestsByBootId.size, 1, 'the reboot was issued once, never again');
  });

  it('a step that fails is retried with backoff; a failed patch runs its compensations and stops the endpoint', async (t) => {
    const x = await bed.startExecutor({ ...simSettings, executorId: 'exec-fail', concurrency: 2 });
    t.after(() => bed.stopExecutor(x));
    const flaky: WorkflowStepInput = { id: 'flaky', type: 'custom', retries: { max: 2, backoffSeconds: 0.2, multiplier: 2 }, params: { argv: ['false'] } };
    const s1 = await bed.release({ cycleId: 'c-fail', endpointId: ep(31).id, ssh: ssh(31), workflow: workflow([{ ...flaky, onFailure: 'continue' } as WorkflowStepInput]), packages: PACKAGES });
    const s2 = await bed.release({ cycleId: 'c-fail', endpointId: ep(32).id, ssh: ssh(32), workflow: workflow(), packages: [{ name: 'pb-missing', to: '1.0-1', security: false }] });
    // A release that does not validate (a user name a shell would love) is refused, never claimed.
    const bad = { cycleId: 'c-fail', endpointId: 'bad-1', wave: 0, ssh: { host: '127.0.0.1', port: 22, user: 'root;reboot', sudo: false }, workflow: workflow(), packages: [], rebootPolicy: 'never' };
    await bed.store.append('cycle-c-fail', [{ eventId: 'cycle-c-fail:bad-release', type: 'EndpointReleased', data: bad }], 'any');
    const runs = await bed.waitForFinal([s1, s2], 30_000);
    const e1 = runs.get(s1)!;
    assertRunInvariants(s1, e1);
    const flakyFails = e1.filter((e) => e.type === 'StepFailed' && (e.data as { stepKey: string }).stepKey === 'flaky').map((e) => e.data as { attempt: number; willRetry: boolean; retryInMs?: number });
    assert.deepEqual(flakyFails.map((f) => [f.attempt, f.willRetry, f.retryInMs]), [[1, true, 200], [2, true, 400], [3, false, undefined]]);
    assert.equal(e1.at(-1)!.type, 'RunSucceeded', 'onFailure continue');
    const e2 = runs.get(s2)!;
    assertRunInvariants(s2, e2);
    const f = e2.at(-1)!.data as { stepId: string; code: string; compensated: boolean };
    assert.equal(e2.at(-1)!.type, 'RunFailed');
    assert.deepEqual([f.stepId, f.code, f.compensated], ['patch', 'PATCH_FAILED', true]);
    assert.deepEqual(stepKeysOf(e2, 'StepSucceeded').slice(-2), ['compensate.start-app', 'compensate.rejoin']);
    assert.equal(ep(32).machine.services.get(APP), 'active');
    const stats = x.app.get<ExecutorHandle>(EXECUTOR, { strict: false }).stats;
    for (let i = 0; i < 50 && stats.invalidReleases === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(stats.invalidReleases, 1);
    assert.deepEqual(await bed.runEvents('run-c-fail.bad-1'), []);
  });

  it('scope security with no package list installs only the updates from security suites', async (t) => {
    const x = await bed.startExecutor({ ...simSettings, executorId: 'exec-security', concurrency: 2 });
    t.after(() => bed.stopExecutor(x));
    const stream = await bed.release({ cycleId: 'c-security', endpointId: ep(47).id, ssh: ssh(47), workflow: workflow([], { patch: { params: { scope: 'security' } } }), packages: [] });
    const events = (await bed.waitForFinal([stream], 30_000)).get(stream)!;
    assertRunInvariants(stream, events);
    assert.equal(events.at(-1)!.type, 'RunSucceeded');
    const m = ep(47).machine;
    for (const p of SCENARIO.packages) assert.equal(m.installed.get(p.name), p.classification === 'security' ? p.available : p.installed, p.name);
    const patch = events.find((e) => e.type === 'StepSucceeded' && (e.data as { stepKey: string }).stepKey === 'patch')!.data as { detail: { securityUpdates: string[] } };
    assert.deepEqual(patch.detail.securityUpdates, ['pb-libfoo=1.1-1', 'pb-openssl-demo=1.0.1-1']);
  });

  it('a run whose executor is gone for good is taken over after the takeover silence, and finishes', async (t) => {
    const gone = await bed.startExecutor({ ...simSettings, executorId: 'exec-gone', concurrency: 2 });
    const hold: WorkflowStepInput = { id: 'hold', type: 'custom', timeoutSeconds: 60, params: { argv: ['sleep', '2'] } };
    const streams = [
      await bed.release({ cycleId: 'c-orphan', endpointId: ep(37).id, ssh: ssh(37), workflow: workflow([hold]), packages: PACKAGES }),
      await bed.release({ cycleId: 'c-orphan', endpointId: ep(38).id, ssh: ssh(38), workflow: workflow([hold]), packages: PACKAGES }),
    ];
    await Promise.all(streams.map((s) => bed.waitForEvent(s, (e) => e.type === 'StepStarted' && (e.data as { stepKey: string }).stepKey === 'hold', 20_000)));
    await bed.stopExecutor(gone);
    const heir = await bed.startExecutor({ ...simSettings, executorId: 'exec-heir', concurrency: 2, takeoverAfterMs: 1500, resumeIntervalMs: 300 });
    t.after(() => bed.stopExecutor(heir));
    const runs = await bed.waitForFinal(streams, 30_000);
    for (const [stream, events] of runs) {
      assertRunInvariants(stream, events);
      assert.equal(events.at(-1)!.type, 'RunSucceeded');
      assert.deepEqual(events.filter((e) => e.type === 'RunResumed').map((e) => (e.data as { executorId: string }).executorId), ['exec-heir']);
      const holds = events.filter((e) => e.type === 'StepStarted' && (e.data as { stepKey: string }).stepKey === 'hold').map((e) => e.data as { attempt: number; resumed: boolean });
      assert.deepEqual(holds, holds.map((h, i) => ({ ...h, attempt: i + 1, resumed: i > 0 })));
      assert.equal(holds.length, 2, 'the interrupted hold ran again as a resumed attempt');
    }
  });

  it('a bad setting stops the executor process at start with exit status 2 and a line naming the variable', async () => {
    const p = bed.spawnExecutor({ PATCHBAY_EXECUTOR_CONCURRENCY: '0' });
    const code = await p.exited;
    assert.equal(code, 2, p.output());
    assert.match(p.output(), /"code":"CONFIG_INVALID".*PATCHBAY_EXECUTOR_CONCURRENCY/);
  });

  it('kill -9 of the executor process mid-patch and mid-reboot: resumed from the log, nothing lost or applied twice, no second reboot for one boot', async () => {
    const env = { PATCHBAY_EXECUTOR_ID: 'exec-crashy', PATCHBAY_EXECUTOR_REMOTE_PROCESS_CONTROL: 'false', PATCHBAY_EXECUTOR_REBOOT_MARKER: 'false', PATCHBAY_EXECUTOR_RESUME_INTERVAL_MS: '500', PATCHBAY_EXECUTOR_CONCURRENCY: '4', PATCHBAY_EXECUTOR_REBOOT_POLL_MS: '100' };
    const streams: string[] = [];
    for (let i = 33; i < 37; i++) streams.push(await bed.release({ cycleId: 'c-crash', endpointId: ep(i).id, ssh: ssh(i), workflow: workflow(), packages: PACKAGES }));
    const faults = ['PackagesRecorded:patch:0', 'StepStarted:patch:30', 'RebootIssued:reboot:150', 'RebootConfirmed:reboot:0'];
    let kills = 0;
    for (const fault of faults) {
      const p = bed.spawnExecutor({ ...env, PATCHBAY_EXECUTOR_FAULT_KILL_AFTER: fault });
      const outcome = await Promise.race([p.exited.then((code) => ({ code })), bed.waitForFinal(streams, 20_000).then(() => 'all-final' as const)]);
      if (outcome === 'all-final') {
        p.child.kill('SIGKILL');
        await p.exited;
        break;
      }
      assert.equal(outcome.code, null, `killed by the fault (${fault}); output: ${p.output().slice(-2000)}`);
      if (process.env['PATCHBAY_TEST_DEBUG']) console.log(`# killed at ${fault}: ${p.output().split('\n').filter((l) => l.includes('fault injection')).join(' ')}`);
      kills++;
    }
    const last = bed.spawnExecutor(env);
    const runs = await bed.waitForFinal(streams, 40_000);
    last.child.kill('SIGTERM');
    await last.exited;
    if (process.env['PATCHBAY_TEST_DEBUG']) for (const [s, ev] of runs) console.log(`# ${s}: ${ev.map((e) => `${e.type}(${(e.data as { stepKey?: string }).stepKey ?? ''}${(e.data as { attempt?: number }).attempt ?? ''})`).join(' ')}`);
    assert.ok(kills >= 3, `the executor was killed ${kills} times`);
    let resumed = 0;
    for (const [stream, events] of runs) {
      assertRunInvariants(stream, events);
      assert.equal(events.at(-1)!.type, 'RunSucceeded', `${stream}: ${JSON.stringify(events.at(-1)!.data)}`);
      resumed += events.filter((e) => e.type === 'RunResumed').length;
    }
    assert.ok(resumed >= 3, `runs resumed ${resumed} times`);
    for (let i = 33; i < 37; i++) {
      const m = ep(i).machine;
      for (const p of SCENARIO.packages) assert.equal(m.installed.get(p.name), p.available);
      assert.equal(m.bootHistory.length, 2, `${ep(i).id} rebooted exactly once`);
      for (const [, n] of m.rebootRequestsByBootId) assert.ok(n <= 1);
    }
    console.log(`# crash test on the simulated fleet: ${kills} SIGKILLs, ${resumed} resumes, every run succeeded`);
  });
});
