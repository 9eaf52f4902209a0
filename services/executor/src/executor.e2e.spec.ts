import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_SCENARIO, Lab, REPO_SUITES, scenarioSchema, type LabHost } from '@patchbay/fleet-lab';
import type { RunningService } from '@patchbay/service-host';
import { EndpointReleased, PackagesRecorded, RunStarted, StepStarted, toRunStreamName } from '@patchbay/contracts';
import { assertRunInvariants, ExecutorTestBed, stepKeysOf, type WorkflowInput, type WorkflowStepInput } from './testing/test-bed.js';

/**
 * The executor against REAL lab hosts (Debian in namespaces, real sshd, real apt, real reboots with
 * new boot ids), with a real nats-server, the SQLite store and the relay. Releases are appended
 * to the store as the planner would; the executor runs as the host starts it (in this process
 * through `startService`, and as its own process for the kill -9 test). Needs root.
 */

const APP = DEFAULT_SCENARIO.app.service;
const NEVER = 2;
const ROLLBACK = 3;
const NEW_KEY = 4;
const SCENARIO = scenarioSchema.parse({
  name: 'executor-e2e',
  packages: DEFAULT_SCENARIO.packages,
  defaults: { rebootDelayMs: 500 },
  hosts: { [String(NEVER)]: { rebootMode: 'never' }, [String(NEW_KEY)]: { rebootMode: 'new-host-key' } },
});
const PACKAGES = SCENARIO.packages.map((p) => ({ name: p.name, from: p.installed, to: p.available, security: p.classification === 'security' }));
const isRoot = process.getuid?.() === 0;

/** A load balancer's admin API stand-in: records drain/rejoin calls per endpoint. */
async function startHookServer(): Promise<{ server: Server; url: string; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    res.writeHead(req.url?.includes('/fail') ? 503 : 204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

describe('executor on the real lab', { skip: !isRoot && 'needs root for the lab' }, () => {
  let bed: ExecutorTestBed;
  let lab: Lab;
  let hooks: Awaited<ReturnType<typeof startHookServer>>;
  let executor: RunningService | undefined;
  const host = (i: number): LabHost => lab.hosts[i]!;
  const ssh = (i: number) => ({ host: host(i).host, port: host(i).port, user: 'patchbay', keyRef: `file:${lab.clientKeyPath}`, sudo: true });
  const dpkgVersion = async (i: number, pkg: string) => (await host(i).exec(['dpkg-query', '-W', '-f', '${Version}', pkg])).stdout.trim();

  /** The reference workflow: check disk, stop app, snapshot, drain, patch, reboot, wait, start app, validate, rejoin, cleanup. */
  const reference = (i: number, over: { reboot?: Partial<WorkflowStepInput>; validate?: WorkflowStepInput } = {}): WorkflowInput => ({
    workflowId: 'reference',
    version: 1,
    steps: [
      { phase: 'pre', step: { id: 'disk', type: 'check-disk', params: { path: '/', minFreeMb: 50 } } },
      { phase: 'pre', step: { id: 'stop-app', type: 'stop-service', params: { service: APP }, compensate: ['start-app'] } },
      { phase: 'pre', step: { id: 'snapshot', type: 'snapshot', params: { hook: { kind: 'command', on: 'endpoint', argv: ['cp', '-a', '/var/lib/dpkg/status', '/var/backups/dpkg.status.pre-patch'] } } } },
      { phase: 'pre', step: { id: 'drain', type: 'drain', params: { hook: { kind: 'http', method: 'POST', url: `${hooks.url}/pool/web/${host(i).name}/drain` } }, compensate: ['rejoin'] } },
      { phase: 'patch', step: { id: 'patch', type: 'patch', timeoutSeconds: 180, params: { scope: 'all' }, onFailure: 'compensate', compensate: ['start-app', 'rejoin'] } },
      { phase: 'post', step: { id: 'reboot', type: 'reboot', timeoutSeconds: 120, params: { mode: 'if-required', returnTimeoutSeconds: 60 }, onFailure: 'compensate', compensate: ['rejoin', 'start-app'], ...(over.reboot ?? {}) } as WorkflowStepInput },
      { phase: 'post', step: { id: 'ssh-up', type: 'wait-for', timeoutSeconds: 30, params: { check: { kind: 'tcp', port: 22 }, intervalSeconds: 0.5 } } },
      { phase: 'post', step: { id: 'start-app', type: 'start-service', params: { service: APP } } },
      { phase: 'post', step: over.validate ?? { id: 'validate', type: 'validate', retries: { max: 10, backoffSeconds: 0.3, multiplier: 1 }, params: { check: { kind: 'http', url: host(i).appUrl, expectStatus: [200] } } } },
      { phase: 'post', step: { id: 'rejoin', type: 'rejoin', params: { hook: { kind: 'http', method: 'POST', url: `${hooks.url}/pool/web/${host(i).name}/rejoin` } } } },
      { phase: 'post', step: { id: 'cleanup', type: 'cleanup', params: {}, onFailure: 'continue' } },
    ],
    compensations: [],
  });

  before(async () => {
    hooks = await startHookServer();
    bed = await ExecutorTestBed.start();
    lab = await Lab.up({ hosts: 5, scenario: SCENARIO, stateDir: join(bed.dir, 'lab') });
    for (const h of lab.hosts) await bed.pinHostKey(h.name, (await h.hostKey()).fingerprint);
    executor = await bed.startExecutor({ executorId: 'e2e-a', concurrency: 4 });
  });
  after(async () => {
    const t = Date.now();
    await lab?.down();
    const t1 = Date.now();
    await bed?.stop();
    const t2 = Date.now();
    hooks?.server.closeAllConnections();
    await new Promise((r) => hooks?.server.close(r));
    if (process.env['PATCHBAY_TEST_DEBUG']) console.log(`# teardown: lab ${t1 - t} ms, bed ${t2 - t1} ms, hooks ${Date.now() - t2} ms`);
  });

  it('runs the full reference workflow on two hosts, every step recorded, packages and boot ids as the log says', async () => {
    const boots = [await host(0).bootId(), await host(1).bootId()];
    const started = Date.now();
    const streams = [
      await bed.release({ cycleId: 'e2e-full', endpointId: host(0).name, ssh: ssh(0), workflow: reference(0), packages: PACKAGES }),
      await bed.release({ cycleId: 'e2e-full', endpointId: host(1).name, ssh: ssh(1), workflow: reference(1), packages: PACKAGES }),
    ];
    const runs = await bed.waitForFinal(streams, 120_000);
    console.log(`# real lab, 2 hosts, reference workflow (11 steps, 4 packages, 1 reboot): ${Date.now() - started} ms wall`);
    for (const [i, stream] of streams.entries()) {
      const events = runs.get(stream)!;
      assertRunInvariants(stream, events);
      assert.equal(events.at(-1)!.type, 'RunSucceeded', JSON.stringify(events.at(-1)!.data));
      assert.deepEqual(stepKeysOf(events, 'StepStarted'), ['disk', 'stop-app', 'snapshot', 'drain', 'patch', 'reboot', 'ssh-up', 'start-app', 'validate', 'rejoin', 'cleanup']);
      assert.deepEqual(stepKeysOf(events, 'StepSucceeded'), stepKeysOf(events, 'StepStarted'));
      const issued = events.find((e) => e.type === 'RebootIssued')!.data as { bootIdBefore: string };
      const confirmed = events.find((e) => e.type === 'RebootConfirmed')!.data as { bootIdAfter: string };
      assert.equal(issued.bootIdBefore, boots[i]);
      assert.equal(confirmed.bootIdAfter, await host(i).bootId());
      assert.ok(events.findIndex((e) => e.type === 'RebootIssued') < events.findIndex((e) => e.type === 'RebootConfirmed'));
      const recorded = Object.fromEntries(events.filter((e) => e.type === 'PackagesRecorded').map((e) => [(e.data as { when: string }).when, (e.data as { packages: Record<string, string> }).packages]));
      for (const p of SCENARIO.packages) {
        assert.equal(recorded['before']![p.name], p.installed);
        assert.equal(recorded['after']![p.name], p.available);
        assert.equal(await dpkgVersion(i, p.name), p.available);
      }
      const patch = events.find((e) => e.type === 'StepSucceeded' && (e.data as { stepKey: string }).stepKey === 'patch')!.data as { commands: Array<{ argv: string[]; exitCode: number; digest: string; stdoutTail: string }> };
      const install = patch.commands.find((c) => c.argv.includes('install'))!;
      assert.equal(install.exitCode, 0);
      assert.match(install.stdoutTail, /Setting up pb-openssl-demo \(1\.0\.1-1\)/);
      assert.match(install.digest, /^[0-9a-f]{64}$/);
      await host(i).waitForApp(5000);
      assert.equal((await host(i).exec(['test', '-e', '/var/backups/dpkg.status.pre-patch'], { allowFailure: true })).code, 0, 'snapshot hook ran on the endpoint');
      assert.ok(hooks.calls.includes(`POST /pool/web/${host(i).name}/drain`) && hooks.calls.includes(`POST /pool/web/${host(i).name}/rejoin`));
      assert.ok(hooks.calls.indexOf(`POST /pool/web/${host(i).name}/drain`) < hooks.calls.indexOf(`POST /pool/web/${host(i).name}/rejoin`));
    }
  });

  it('a host that never comes back is failed after its return timeout and its compensations run', async () => {
    const stream = await bed.release({
      cycleId: 'e2e-never',
      endpointId: host(NEVER).name,
      ssh: ssh(NEVER),
      workflow: reference(NEVER, { reboot: { timeoutSeconds: 30, params: { mode: 'if-required', returnTimeoutSeconds: 8 } } }),
      packages: PACKAGES,
    });
    const started = Date.now();
    const events = (await bed.waitForFinal([stream], 60_000)).get(stream)!;
    assertRunInvariants(stream, events);
    const end = events.at(-1)!;
    assert.equal(end.type, 'RunFailed');
    const d = end.data as { stepId: string; code: string; compensated: boolean };
    assert.deepEqual([d.stepId, d.code], ['reboot', 'REBOOT_TIMEOUT']);
    assert.deepEqual(stepKeysOf(events, 'StepStarted').slice(-2), ['compensate.rejoin', 'compensate.start-app']);
    assert.ok(stepKeysOf(events, 'StepSucceeded').includes('compensate.rejoin'), 'the load balancer got the endpoint back');
    const startApp = events.find((e) => e.type === 'StepFailed' && (e.data as { stepKey: string }).stepKey === 'compensate.start-app')!.data as { code: string };
    assert.equal(startApp.code, 'HOST_UNREACHABLE');
    assert.equal(d.compensated, false);
    assert.ok(hooks.calls.includes(`POST /pool/web/${host(NEVER).name}/rejoin`));
    assert.equal(host(NEVER).power, 'off');
    console.log(`# never-returning host failed ${Date.now() - started} ms after release (return timeout 8 s)`);
  });

  it('a host back from its reboot with another host key is refused (HOST_KEY_REJECTED), never trusted, and compensations run', async () => {
    const stream = await bed.release({ cycleId: 'e2e-newkey', endpointId: host(NEW_KEY).name, ssh: ssh(NEW_KEY), workflow: reference(NEW_KEY, { reboot: { params: { mode: 'if-required', returnTimeoutSeconds: 20 } } }), packages: PACKAGES });
    const events = (await bed.waitForFinal([stream], 60_000)).get(stream)!;
    assertRunInvariants(stream, events);
    const end = events.at(-1)!.data as { stepId: string; code: string };
    assert.equal(events.at(-1)!.type, 'RunFailed');
    assert.deepEqual([end.stepId, end.code], ['reboot', 'HOST_KEY_REJECTED']);
    assert.ok(!events.some((e) => e.type === 'RebootConfirmed'), 'a host with another key is not taken for the rebooted endpoint');
    assert.ok(stepKeysOf(events, 'StepSucceeded').includes('compensate.rejoin'));
  });

  it('a validation failure after patching rolls packages back to their recorded versions and validates again', async () => {
    // The repository also offers the installed versions (as a mirror keeping old versions does).
    for (const f of await readdir(lab.repo.initialDir)) if (f.endsWith('.deb')) await copyFile(join(lab.repo.initialDir, f), join(lab.repo.dir, REPO_SUITES.regular.dir, f));
    await lab.repo.index();
    // "The new pb-tools breaks the service": the check passes only with the old version.
    const validate: WorkflowStepInput = { id: 'validate', type: 'validate', params: { check: { kind: 'command', argv: ['dpkg-query', '-W', '-f', '${Version}', 'pb-tools'], expectOutput: '2.3.0-1' } } };
    const stream = await bed.release({ cycleId: 'e2e-rollback', endpointId: host(ROLLBACK).name, ssh: ssh(ROLLBACK), workflow: reference(ROLLBACK, { validate }), packages: PACKAGES, rollbackOnValidationFailure: true });
    const events = (await bed.waitForFinal([stream], 120_000)).get(stream)!;
    assertRunInvariants(stream, events);
    const end = events.at(-1)!;
    assert.equal(end.type, 'RunFailed');
    assert.equal((end.data as { code: string }).code, 'VALIDATION_FAILED_ROLLED_BACK');
    assert.deepEqual(stepKeysOf(events, 'StepStarted').slice(-2), ['rollback.packages', 'rollback.validate']);
    const recorded = Object.fromEntries(events.filter((e) => e.type === 'PackagesRecorded').map((e) => [(e.data as { when: string }).when, (e.data as { packages: Record<string, string> }).packages]));
    for (const p of SCENARIO.packages) {
      assert.equal(recorded['after']![p.name], p.available, `${p.name} was patched`);
      assert.equal(recorded['after-rollback']![p.name], p.installed, `${p.name} is back at its recorded version`);
      assert.equal(await dpkgVersion(ROLLBACK, p.name), p.installed);
    }
    const audit = await host(ROLLBACK).exec(['dpkg', '--audit'], { allowFailure: true });
    assert.equal(audit.stdout.trim(), '', 'dpkg is consistent after the rollback');
  });

  it('kill -9 of the executor mid-patch, right after RebootIssued and mid-reboot wait: resumed, nothing repeated, one reboot per boot', async () => {
    if (executor) await bed.stopExecutor(executor);
    executor = undefined;
    // A postinst that takes 3 s: the first kill (600 ms after the patch step starts) always lands
    // while dpkg runs, and never after the patch has finished and the first reboot been issued
    // (with a quick install it once did, and the next phase then had no RebootIssued to die at).
    await lab.publish({ ...SCENARIO.packages.find((p) => p.name === 'pb-tools')!, available: '2.5.0-1', postinstSeconds: 3 });
    const ids = [0, 1];
    const bootsBefore = ids.map((i) => host(i).state.boots);
    const twoReboots = (i: number): WorkflowInput => {
      const w = reference(i);
      const steps = [...w.steps];
      const at = steps.findIndex((s) => s.step.id === 'reboot');
      steps.splice(at, 1, { phase: 'post', step: { id: 'reboot-1', type: 'reboot', timeoutSeconds: 120, params: { mode: 'always', returnTimeoutSeconds: 60 } } }, { phase: 'post', step: { id: 'reboot-2', type: 'reboot', timeoutSeconds: 120, params: { mode: 'always', returnTimeoutSeconds: 60 } } });
      return { ...w, steps };
    };
    const streams: string[] = [];
    for (const i of ids) streams.push(await bed.release({ cycleId: 'e2e-crash', endpointId: host(i).name, ssh: ssh(i), workflow: twoReboots(i), packages: [{ name: 'pb-tools', from: '2.4.0-1', to: '2.5.0-1', security: false }], rebootPolicy: 'always' }));
    const env = { PATCHBAY_EXECUTOR_ID: 'e2e-crashy', PATCHBAY_EXECUTOR_RESUME_INTERVAL_MS: '500', PATCHBAY_EXECUTOR_ABORT_POLL_MS: '200' };
    const faults = ['StepStarted:patch:600', 'RebootIssued:reboot-1:0', 'RebootIssued:reboot-2:700'];
    // Each phase may wait out the dpkg lock an interrupted apt left behind (DPkg::Lock::Timeout is
    // 120 s), so a phase gets longer than that before it counts as stuck.
    const kills: string[] = [];
    for (const fault of faults) {
      const p = bed.spawnExecutor({ ...env, PATCHBAY_EXECUTOR_FAULT_KILL_AFTER: fault });
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 200_000)))]);
      clearTimeout(timer);
      if (code === 'timeout') {
        // Stuck before its fault point: say where each run stands and what the machine was doing.
        p.child.kill('SIGKILL');
        await p.exited;
        const where = await Promise.all(streams.map(async (s) => `${s}: ${(await bed.runEvents(s)).map((e) => `${e.type}(${(e.data as { stepKey?: string }).stepKey ?? ''}${e.type === 'StepFailed' ? ` ${JSON.stringify(e.data).slice(0, 1500)}` : ''})`).join(' ')}`));
        const ps = spawnSync('ps', ['-eo', 'pid,pcpu,rss,etime,args', '--sort=-pcpu'], { encoding: 'utf8' }).stdout.split('\n').slice(0, 12).join('\n');
        assert.fail(`phase ${fault} never reached its fault point in 200 s (load ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n${where.join('\n')}\n${ps}\noutput: ${p.output().slice(-3000)}`);
      }
      assert.equal(code, null, `killed at ${fault}; output: ${p.output().slice(-3000)}`);
      kills.push(fault);
    }
    const last = bed.spawnExecutor(env);
    const runs = await bed.waitForFinal(streams, 120_000);
    last.child.kill('SIGTERM');
    await last.exited;
    if (process.env['PATCHBAY_TEST_DEBUG']) {
      for (const s of streams) {
        for (const e of runs.get(s)!) {
          const d = e.data as { stepKey?: string; attempt?: number; detail?: unknown; resumed?: boolean; code?: string };
          console.log(`# ${s} ${e.type} ${d.stepKey ?? ''}#${d.attempt ?? ''} ${d.resumed ? 'resumed ' : ''}${d.code ?? ''} ${d.detail ? JSON.stringify(d.detail).slice(0, 300) : ''}`);
        }
      }
    }
    for (const [idx, i] of ids.entries()) {
      const events = runs.get(streams[idx]!)!;
      assertRunInvariants(streams[idx]!, events);
      assert.equal(events.at(-1)!.type, 'RunSucceeded', JSON.stringify(events.at(-1)!.data));
      assert.equal(events.filter((e) => e.type === 'RebootIssued').length, 2);
      assert.equal(events.filter((e) => e.type === 'RebootConfirmed').length, 2);
      assert.ok(events.filter((e) => e.type === 'RunResumed').length >= 2);
      assert.equal(host(i).state.boots - bootsBefore[idx]!, 2, `${host(i).name} booted exactly twice (two reboot steps)`);
      assert.equal(await dpkgVersion(i, 'pb-tools'), '2.5.0-1');
      assert.equal((await host(i).exec(['dpkg', '--audit'], { allowFailure: true })).stdout.trim(), '');
      await host(i).waitForApp(5000);
    }
    const resumedPatch = streams.filter((s) => runs.get(s)!.some((e) => e.type === 'StepStarted' && (e.data as { stepKey?: string; attempt?: number }).stepKey === 'patch' && (e.data as { attempt: number }).attempt > 1));
    assert.ok(resumedPatch.length >= 1, 'the first kill interrupted a patch, which was started again as a resumed attempt');
    console.log(`# real lab kill -9 at ${kills.join(', ')}: both runs succeeded, each host booted exactly twice; patch resumed on ${resumedPatch.length} host(s)`);
  });

  it('resumes a patch that a crash left with dpkg interrupted: dpkg --audit finds it, dpkg --configure -a finishes it, the install runs again', async () => {
    // The state a controller crash mid-dpkg leaves: the package unpacked, not configured, and a
    // run stream whose patch step has started with no outcome.
    const h = host(ROLLBACK);
    // Published here too: this test must not depend on the crash test having run before it.
    await lab.publish({ ...SCENARIO.packages.find((p) => p.name === 'pb-tools')!, available: '2.5.0-1' });
    const deb = (await h.exec(['sh', '-c', 'ls /srv/repo/regular/pb-tools_2.5.0-1_*.deb'])).stdout.trim();
    await h.exec(['dpkg', '--unpack', deb]);
    assert.match((await h.exec(['dpkg', '--audit'], { allowFailure: true })).stdout, /pb-tools/);
    const cycleId = 'e2e-dpkg';
    const stream = toRunStreamName(cycleId, h.name);
    const workflow = EndpointReleased.schema.shape.workflow.parse({
      workflowId: 'patch-only',
      version: 1,
      steps: [
        { phase: 'patch', step: { id: 'patch', type: 'patch', timeoutSeconds: 180, params: { scope: 'all' } } },
        { phase: 'post', step: { id: 'validate', type: 'validate', params: { check: { kind: 'command', argv: ['dpkg-query', '-W', '-f', '${db:Status-Abbrev}${Version}', 'pb-tools'], expectOutput: 'ii 2.5.0-1' } } } },
      ],
    });
    const plan = { wave: 0, ssh: ssh(ROLLBACK), workflow, packages: [{ name: 'pb-tools', from: '2.3.0-1', to: '2.5.0-1', security: false }], rebootPolicy: 'never' as const, rollbackOnValidationFailure: false, emergency: false };
    const before = Object.fromEntries(SCENARIO.packages.map((p) => [p.name, p.installed!]));
    const ref = { cycleId, endpointId: h.name };
    await bed.store.append(
      stream,
      [
        { eventId: `${stream}:seed:0`, type: RunStarted.type, data: RunStarted.parse({ ...ref, executorId: 'e2e-resume', releasedEventId: 'seeded', plan }) },
        { eventId: `${stream}:seed:1`, type: StepStarted.type, data: StepStarted.parse({ ...ref, stepKey: 'patch', attempt: 1, stepId: 'patch', type: 'patch', phase: 'patch' }) },
        { eventId: `${stream}:seed:2`, type: PackagesRecorded.type, data: PackagesRecorded.parse({ ...ref, stepKey: 'patch', attempt: 1, when: 'before', manager: 'apt', packages: before }) },
      ],
      'no-stream',
    );
    const resumer = await bed.startExecutor({ executorId: 'e2e-resume', concurrency: 2 });
    try {
      const events = (await bed.waitForFinal([stream], 120_000)).get(stream)!;
      assertRunInvariants(stream, events);
      assert.equal(events.at(-1)!.type, 'RunSucceeded', JSON.stringify(events.at(-1)!.data));
      assert.ok(events.some((e) => e.type === 'RunResumed'));
      const patch = events.find((e) => e.type === 'StepSucceeded' && (e.data as { stepKey: string }).stepKey === 'patch')!.data as {
        attempt: number;
        detail: { repair?: Record<string, unknown> };
        commands: Array<{ argv: string[]; stdoutTail: string; exitCode: number }>;
      };
      assert.equal(patch.attempt, 2);
      assert.deepEqual(patch.detail.repair, { audited: true, findings: true, repaired: true });
      const argvs = patch.commands.map((c) => c.argv.slice(0, 2).join(' '));
      assert.ok(argvs.indexOf('dpkg --audit') < argvs.indexOf('dpkg --force-confdef'), argvs.join(' | '));
      assert.match(patch.commands.find((c) => c.argv[1] === '--audit')!.stdoutTail, /pb-tools/);
      assert.equal((await h.exec(['dpkg-query', '-W', '-f', '${db:Status-Abbrev}${Version}', 'pb-tools'])).stdout, 'ii 2.5.0-1');
      assert.equal((await h.exec(['dpkg', '--audit'], { allowFailure: true })).stdout.trim(), '');
    } finally {
      await bed.stopExecutor(resumer);
    }
  });
});
