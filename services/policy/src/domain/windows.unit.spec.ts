import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MaintenanceWindow } from '@patchbay/contracts';
import { checkPolicy } from './definitions.js';
import { cronProblem, nextWindows, openWindowAt } from './windows.js';

const w = (cron: string, timezone: string, durationMinutes = 240, blackoutDates: string[] = []): MaintenanceWindow => ({ cron, timezone, durationMinutes, blackoutDates });
const starts = (ws: MaintenanceWindow[], from: string, n = 3) => nextWindows(ws, new Date(from), n).map((o) => [o.start, o.localStart, o.localEnd]);

describe('maintenance windows across DST changes', () => {
  it('Europe/Paris, spring forward (29 March 2026): a 01:00 window keeps its 4 elapsed hours and ends at 06:00 CEST', () => {
    assert.deepEqual(starts([w('0 1 * * *', 'Europe/Paris')], '2026-03-28T12:00:00Z', 2), [
      ['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00+01:00', '2026-03-29T06:00:00+02:00'],
      ['2026-03-29T23:00:00.000Z', '2026-03-30T01:00:00+02:00', '2026-03-30T05:00:00+02:00'],
    ]);
  });
  it('Europe/Paris: a start at 02:30, which does not exist on 29 March, opens when the gap ends (03:00 CEST)', () => {
    assert.deepEqual(starts([w('30 2 * * *', 'Europe/Paris', 60)], '2026-03-28T12:00:00Z', 2), [
      ['2026-03-29T01:00:00.000Z', '2026-03-29T03:00:00+02:00', '2026-03-29T04:00:00+02:00'],
      ['2026-03-30T00:30:00.000Z', '2026-03-30T02:30:00+02:00', '2026-03-30T03:30:00+02:00'],
    ]);
  });
  it('Europe/Paris, fall back (25 October 2026): 02:30 happens twice but the window opens once, at the first', () => {
    const got = starts([w('30 2 * * *', 'Europe/Paris', 60)], '2026-10-24T12:00:00Z', 2);
    assert.deepEqual(got[0], ['2026-10-25T00:30:00.000Z', '2026-10-25T02:30:00+02:00', '2026-10-25T02:30:00+01:00']);
    assert.equal(got[1]![0], '2026-10-26T01:30:00.000Z');
  });
  it('America/New_York, spring forward (8 March 2026) and fall back (1 November 2026)', () => {
    assert.deepEqual(starts([w('30 2 * * *', 'America/New_York')], '2026-03-07T12:00:00Z', 2), [
      ['2026-03-08T07:00:00.000Z', '2026-03-08T03:00:00-04:00', '2026-03-08T07:00:00-04:00'],
      ['2026-03-09T06:30:00.000Z', '2026-03-09T02:30:00-04:00', '2026-03-09T06:30:00-04:00'],
    ]);
    assert.deepEqual(starts([w('30 1 * * *', 'America/New_York')], '2026-10-31T12:00:00Z', 2), [
      ['2026-11-01T05:30:00.000Z', '2026-11-01T01:30:00-04:00', '2026-11-01T04:30:00-05:00'],
      ['2026-11-02T06:30:00.000Z', '2026-11-02T01:30:00-05:00', '2026-11-02T05:30:00-05:00'],
    ]);
  });
  it('the same wall-clock cron in two zones gives different instants', () => {
    const paris = nextWindows([w('0 22 * * 6', 'Europe/Paris')], new Date('2026-06-01T00:00:00Z'), 1)[0]!;
    const ny = nextWindows([w('0 22 * * 6', 'America/New_York')], new Date('2026-06-01T00:00:00Z'), 1)[0]!;
    assert.equal(paris.start, '2026-06-06T20:00:00.000Z');
    assert.equal(ny.start, '2026-06-07T02:00:00.000Z');
  });
});

describe('maintenance windows: blackout dates, open windows, several windows', () => {
  it('skips occurrences whose local start date is a blackout date', () => {
    const got = starts([w('0 22 * * *', 'Europe/Paris', 120, ['2026-12-24', '2026-12-25'])], '2026-12-23T00:00:00Z', 3).map((s) => s[1]);
    assert.deepEqual(got, ['2026-12-23T22:00:00+01:00', '2026-12-26T22:00:00+01:00', '2026-12-27T22:00:00+01:00']);
  });
  it('a window already open at `from` is the first one returned', () => {
    const ws = [w('0 22 * * *', 'UTC', 180)];
    const open = openWindowAt(ws, new Date('2026-05-05T23:30:00Z'));
    assert.equal(open?.start, '2026-05-05T22:00:00.000Z');
    assert.equal(open?.end, '2026-05-06T01:00:00.000Z');
    assert.equal(openWindowAt(ws, new Date('2026-05-06T01:00:00Z')), undefined, 'the end is exclusive');
  });
  it('merges several windows in start order', () => {
    const got = nextWindows([w('0 3 * * 0', 'UTC', 60), w('0 1 * * *', 'UTC', 60)], new Date('2026-05-02T12:00:00Z'), 3).map((o) => [o.windowIndex, o.start]);
    assert.deepEqual(got, [
      [1, '2026-05-03T01:00:00.000Z'],
      [0, '2026-05-03T03:00:00.000Z'],
      [1, '2026-05-04T01:00:00.000Z'],
    ]);
  });
});

describe('maintenance windows: invalid cron or zone rejected', () => {
  const policy = (window: Record<string, unknown>) => ({ id: 'p', groups: ['g'], workflow: { id: 'wf', version: 1 }, windows: [window] });
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['minute out of range', { cron: '61 2 * * *', timezone: 'UTC', durationMinutes: 60 }, 'POLICY_INVALID_CRON', 'windows[0].cron'],
    ['too few fields', { cron: '0 2 *', timezone: 'UTC', durationMinutes: 60 }, 'POLICY_INVALID_CRON', 'windows[0].cron'],
    ['never fires', { cron: '0 2 30 2 *', timezone: 'UTC', durationMinutes: 60 }, 'POLICY_INVALID_CRON', 'windows[0].cron'],
    ['unknown zone', { cron: '0 2 * * *', timezone: 'Europe/Atlantis', durationMinutes: 60 }, 'POLICY_INVALID_TIMEZONE', 'windows[0].timezone'],
    ['zero duration', { cron: '0 2 * * *', timezone: 'UTC', durationMinutes: 0 }, 'POLICY_INVALID_VALUE', 'windows[0].durationMinutes'],
    ['not a date', { cron: '0 2 * * *', timezone: 'UTC', durationMinutes: 60, blackoutDates: ['2026-02-30'] }, 'POLICY_INVALID_VALUE', 'windows[0].blackoutDates[0]'],
  ];
  for (const [name, window, code, path] of cases) {
    it(`${name}: ${code} at ${path}`, () => {
      const r = checkPolicy(policy(window));
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.issues[0]!.code, code);
      assert.equal(!r.ok && r.issues[0]!.path, path);
    });
  }
  it('cronProblem accepts 5 and 6 fields', () => {
    assert.equal(cronProblem('0 22 * * 1-5', 'Europe/Paris'), undefined);
    assert.equal(cronProblem('0 0 22 * * 1-5', 'Europe/Paris'), undefined);
  });
});
