import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordedEvent } from '@patchbay/contracts';
import { SqliteEventStore } from '@patchbay/event-store';
import { writeClientKey } from '@patchbay/fleet-lab';
import { TrialFleet } from './fleet.js';
import { checkCycle } from './invariants.js';

/**
 * The suite's invariant checks can fail: a well-formed cycle (stored by the real SQLite store, so
 * the hash chains are real) passes, and each kind of breakage the scenarios look for is reported.
 */
describe('reliability invariants: each check reports the breakage it is meant to catch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-invariants-'));
  let fleet: TrialFleet;
  let events: RecordedEvent[];
  const cycleId = 'c1';
  let ep: string;
  let run: string;

  before(async () => {
    fleet = await TrialFleet.start({ label: 'inv', endpoints: 1, key: writeClientKey(dir), basePort: 29_000 });
    ep = fleet.idOf(fleet.fleet.endpoints[0]!);
    run = `run-${cycleId}.${ep}`;
    const store = SqliteEventStore.open(join(dir, 'events.db'));
    const ev = (type: string, data: Record<string, unknown>) => ({ eventId: randomUUID(), type, data, correlationId: cycleId });
    await store.append(`cycle-${cycleId}`, [ev('CycleRequested', { cycleId }), ev('EndpointReleased', { cycleId, endpointId: ep })], 'no-stream');
    const bootId = fleet.fleet.endpoints[0]!.bootId;
    await store.append(
      run,
      [
        ev('RunStarted', { endpointId: ep }),
        ev('StepStarted', { stepKey: 'marker-pre', attempt: 1 }),
        ev('StepSucceeded', { stepKey: 'marker-pre', attempt: 1 }),
        ev('StepStarted', { stepKey: 'reboot', attempt: 1 }),
        ev('RebootIssued', { stepKey: 'reboot', attempt: 1, bootIdBefore: bootId }),
        ev('StepSucceeded', { stepKey: 'reboot', attempt: 1 }),
        ev('RunSucceeded', { endpointId: ep }),
      ],
      'no-stream',
    );
    await store.append(`cycle-${cycleId}`, [ev('EndpointRunFinished', { cycleId, endpointId: ep }), ev('CycleCompleted', { cycleId })], 1);
    events = await store.readAll();
    await store.close();
    fleet.commands.get(ep)!.push('echo pb-marker-pre');
  });
  after(async () => {
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const without = (pred: (e: RecordedEvent) => boolean) => events.filter((e) => !pred(e));

  it('a well-formed cycle passes', () => {
    assert.deepEqual(checkCycle(events, cycleId, fleet, { expectEndpoints: 1 }).violations, []);
  });

  it('a step started twice for one attempt, a step started again after it succeeded', () => {
    const started = events.find((e) => e.type === 'StepStarted')!;
    const v = checkCycle([...events, started], cycleId, fleet).violations.join('\n');
    assert.match(v, /StepStarted marker-pre#1 ×2/);
    assert.match(v, /started again after it succeeded/);
  });

  it('a run without its final event, a run ended twice, an endpoint never released', () => {
    assert.match(
      checkCycle(
        without((e) => e.type === 'RunSucceeded'),
        cycleId,
        fleet,
      ).violations.join('\n'),
      /0 final events/,
    );
    const end = events.find((e) => e.type === 'RunSucceeded')!;
    assert.match(checkCycle([...events, end], cycleId, fleet).violations.join('\n'), /2 final events/);
    assert.match(
      checkCycle(
        without((e) => e.type === 'EndpointReleased'),
        cycleId,
        fleet,
      ).violations.join('\n'),
      /never released/,
    );
  });

  it('two RebootIssued for one boot id, two reboot commands in one boot', () => {
    const issued = events.find((e) => e.type === 'RebootIssued')!;
    assert.match(checkCycle([...events, issued], cycleId, fleet).violations.join('\n'), /two RebootIssued for one boot id/);
    const machine = fleet.fleet.endpoints[0]!.machine;
    machine.rebootRequestsByBootId.set(machine.bootId, 2);
    try {
      assert.match(checkCycle(events, cycleId, fleet).violations.join('\n'), /2 reboot commands during boot/);
    } finally {
      machine.rebootRequestsByBootId.delete(machine.bootId);
    }
  });

  it('an effect on the host with no recorded start, a succeeded step that never ran on the host', () => {
    const log = fleet.commands.get(ep)!;
    log.push('echo pb-marker-pre');
    try {
      assert.match(checkCycle(events, cycleId, fleet).violations.join('\n'), /pb-marker-pre ran 2 times for 1 recorded starts/);
    } finally {
      log.pop();
    }
    log.pop();
    try {
      assert.match(checkCycle(events, cycleId, fleet).violations.join('\n'), /marker-pre succeeded but never ran on the host/);
    } finally {
      log.push('echo pb-marker-pre');
    }
  });

  it('an edited or missing event breaks its hash chain', () => {
    const edited = events.map((e) => (e.type === 'StepSucceeded' ? { ...e, data: { ...(e.data as object), attempt: 2 } } : e));
    assert.match(checkCycle(edited, cycleId, fleet).violations.join('\n'), /hash chain of run-c1\.\S+ broken/);
    const gap = without((e) => e.type === 'RebootIssued');
    assert.match(checkCycle(gap, cycleId, fleet).violations.join('\n'), /hash chain of run-c1\.\S+ broken at 4/);
  });
});
