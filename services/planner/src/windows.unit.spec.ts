import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maintenanceWindowSchema } from '@patchbay/contracts';
import { nextWindowStart, openWindow } from './windows.js';

const w = (cron: string, durationMinutes: number, timezone: string, blackoutDates: string[] = []) => maintenanceWindowSchema.parse({ cron, durationMinutes, timezone, blackoutDates });

test('a window is read in its IANA zone: 22:00 Paris in winter is 21:00 UTC', () => {
  const win = [w('0 22 * * *', 120, 'Europe/Paris')];
  assert.equal(openWindow(win, new Date('2026-01-15T20:59:00Z')), undefined);
  const o = openWindow(win, new Date('2026-01-15T21:30:00Z'))!;
  assert.equal(o.start.toISOString(), '2026-01-15T21:00:00.000Z');
  assert.equal(o.end.toISOString(), '2026-01-15T23:00:00.000Z');
  assert.equal(openWindow(win, new Date('2026-01-15T23:00:00Z')), undefined, 'the end is exclusive');
  assert.equal(openWindow(win, new Date('2026-07-15T20:30:00Z'))?.start.toISOString(), '2026-07-15T20:00:00.000Z', 'summer time: 20:00 UTC');
});

test('a window over the DST change keeps its elapsed length', () => {
  // 2026-03-29 01:30 Paris (CET, UTC+1) for 3 hours ends 05:30 local CEST = 03:30 UTC.
  const o = openWindow([w('30 1 * * *', 180, 'Europe/Paris')], new Date('2026-03-29T03:00:00Z'))!;
  assert.equal(o.start.toISOString(), '2026-03-29T00:30:00.000Z');
  assert.equal(o.end.toISOString(), '2026-03-29T03:30:00.000Z');
});

test('no window opens on a blackout date (local to the zone)', () => {
  const win = [w('0 1 * * *', 60, 'Asia/Tokyo', ['2026-05-02'])];
  // 01:00 Tokyo on 2 May is 16:00 UTC on 1 May.
  assert.equal(openWindow(win, new Date('2026-05-01T16:30:00Z')), undefined);
  assert.ok(openWindow(win, new Date('2026-05-02T16:30:00Z')));
  assert.equal(nextWindowStart(win, new Date('2026-05-01T00:00:00Z'))!.start.toISOString(), '2026-05-02T16:00:00.000Z');
});

test('of several open windows the one ending last is reported', () => {
  const o = openWindow([w('0 10 * * *', 60, 'UTC'), w('30 9 * * *', 240, 'UTC')], new Date('2026-06-01T10:15:00Z'))!;
  assert.equal(o.index, 1);
  assert.equal(o.end.toISOString(), '2026-06-01T13:30:00.000Z');
});
