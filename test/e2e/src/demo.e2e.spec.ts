import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyChain, type RecordedEvent } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { cliEntry, descendants } from './stack-process.js';

/** `patchbay demo --exit` on a data dir, as its own process (killed after 15 minutes): exit code and output. */
async function demoProcess(dataDir: string): Promise<{ code: number | null; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  delete env['NATS_URL'];
  delete env['EVENTSTORE_URL'];
  const child = spawn(process.execPath, [cliEntry(), 'demo', '--hosts', '5', '--exit', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      for (const pid of descendants(child.pid!)) process.kill(pid, 'SIGKILL');
      child.kill('SIGKILL');
    }, 15 * 60_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, out };
}

/**
 * The README's first command, run as an operator would (`patchbay demo`), on real lab hosts:
 * a cycle with the full pre/post workflow and an emergency cycle, then the stored history checked.
 */
describe('patchbay demo: the main job on the embedded default (5 real lab hosts)', { skip: process.getuid?.() !== 0 ? 'needs root for the lab' : false }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'patchbay-demo-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs a cycle and an emergency cycle to completion, with every step recorded and every chain intact', async () => {
    const { code, out } = await demoProcess(dataDir);
    assert.equal(code, 0, out);
    const finished = out.match(/■ cycle \S+ completed/g) ?? [];
    assert.equal(finished.length, 2, `both cycles completed:\n${out}`);
    assert.match(out, /■ cycle manual-\S+ completed: 5 succeeded, 0 failed, 0 skipped/);
    assert.match(out, /■ cycle emergency-\S+ completed: 4 succeeded, 0 failed/, 'the emergency reaches only the hosts that lack the fix');
    const emergencyPart = out.split('▶ emergency')[1] ?? '';
    assert.doesNotMatch(emergencyPart, /host0 +released/, 'host0, fixed by hand, is not part of the emergency');
    const releasedAt = (host: string) => emergencyPart.search(new RegExp(`${host} +released`));
    for (const h of ['host1', 'host2', 'host3', 'host4']) assert.ok(releasedAt(h) >= 0, `${h} is part of the emergency`);
    assert.ok(Math.max(releasedAt('host1'), releasedAt('host2')) < Math.min(releasedAt('host3'), releasedAt('host4')), 'in tier order: web (high) before the databases (critical)');

    const store = await SqliteEventStore.open(join(dataDir, 'events.db'));
    try {
      const all = await store.readAll({ categories: ['cycle', 'run'] });
      const streams = new Map<string, RecordedEvent[]>();
      for (const e of all) streams.set(e.metadata.stream, [...(streams.get(e.metadata.stream) ?? []), e]);
      const runs = [...streams.keys()].filter((s) => s.startsWith('run-'));
      assert.ok(runs.length >= 9, `one run stream per patched endpoint and cycle: ${runs.length}`);
      for (const [stream, events] of streams) assert.equal(verifyChain(stream, events).ok, true, `chain of ${stream}`);
      for (const run of runs) {
        const events = streams.get(run)!;
        const types = events.map((e) => e.type);
        assert.equal(types.filter((t) => t === 'RunSucceeded' || t === 'RunFailed' || t === 'RunCancelled').length, 1, `${run} ends once`);
        const steps = events.filter((e) => e.type === 'StepSucceeded').map((e) => (e.data as { stepKey: string }).stepKey);
        for (const id of ['disk', 'stop-app', 'snapshot', 'drain', 'patch', 'start-app', 'health', 'rejoin']) assert.ok(steps.includes(id), `${run}: step ${id} succeeded (${steps.join(',')})`);
        const boots = events.filter((e) => e.type === 'RebootIssued').map((e) => (e.data as { bootIdBefore: string }).bootIdBefore);
        assert.equal(new Set(boots).size, boots.length, `${run}: never two reboots for one boot id`);
      }
    } finally {
      await store.close();
    }
  });

  it('runs again on the same data dir: the lab hosts are made again with new host keys, which the demo accepts as an operator would, and both cycles complete', async () => {
    const { code, out } = await demoProcess(dataDir);
    assert.equal(code, 0, out);
    assert.match(out, /host keys of host0, host1, host2, host3, host4 changed since the last demo/);
    assert.match(out, /facts: 5\/5 endpoints answered/);
    assert.match(out, /■ cycle manual-\S+ completed: 5 succeeded, 0 failed, 0 skipped/);
    assert.match(out, /■ cycle emergency-\S+ completed: 4 succeeded, 0 failed/);
    // The acceptance is in the endpoints' history, by the demo's operator, with its reason.
    const store = await SqliteEventStore.open(join(dataDir, 'events.db'));
    try {
      const pins = (await store.readAll({ categories: ['endpoint'] })).filter((e) => e.type === 'HostKeyPinned' && (e.data as { decidedBy: string }).decidedBy === 'operator');
      assert.deepEqual(pins.map((e) => e.metadata.stream).sort(), ['endpoint-host0', 'endpoint-host1', 'endpoint-host2', 'endpoint-host3', 'endpoint-host4']);
      for (const e of pins) {
        const d = e.data as { reason: string; replaces?: { fingerprint: string }; key: { fingerprint: string } };
        assert.match(d.reason, /made again by the demo/);
        assert.ok(d.replaces && d.replaces.fingerprint !== d.key.fingerprint, `${e.metadata.stream}: replaces the first demo's key`);
      }
    } finally {
      await store.close();
    }
  });
});
