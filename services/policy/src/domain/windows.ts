import { Cron } from 'croner';
import type { MaintenanceWindow, WindowOccurrence } from '@patchbay/contracts';

/** Why a cron expression is refused, or undefined when croner accepts it in that zone. */
export function cronProblem(expression: string, timezone: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) return `expected 5 fields (minute hour day month weekday) or 6 with seconds, found ${fields.length}`;
  try {
    const job = new Cron(expression, { timezone, paused: true });
    // A valid pattern that never fires (e.g. 30 February) is as useless as an invalid one.
    if (!job.nextRun(new Date(Date.UTC(2000, 0, 1)))) return 'the expression never fires';
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Wall-clock `YYYY-MM-DDTHH:mm:ss±hh:mm` of an instant in a zone. */
export function localIso(instant: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  const wall = `${parts['year']}-${parts['month']}-${parts['day']}T${parts['hour']}:${parts['minute']}:${parts['second']}`;
  const offsetMin = Math.round((Date.parse(`${wall}Z`) - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${wall}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * The next `count` window occurrences at or after `from`, across all windows, in start order. A
 * window already open at `from` counts (its start is before `from`, its end after). Durations
 * are elapsed time: a 4-hour window that spans a DST change still lasts 4 hours. Occurrences
 * whose local start date is a blackout date are skipped.
 */
export function nextWindows(windows: readonly MaintenanceWindow[], from: Date, count: number): WindowOccurrence[] {
  const found: WindowOccurrence[] = [];
  windows.forEach((w, windowIndex) => {
    const job = new Cron(w.cron, { timezone: w.timezone, paused: true });
    const durationMs = w.durationMinutes * 60_000;
    const blackout = new Set(w.blackoutDates);
    // Start looking one duration back, so a window open right now is found.
    let cursor: Date | null = new Date(from.getTime() - durationMs);
    let taken = 0;
    for (let guard = 0; guard < 5000 && taken < count; guard++) {
      cursor = job.nextRun(cursor);
      if (!cursor) break;
      const start = cursor;
      const end = new Date(start.getTime() + durationMs);
      if (end.getTime() <= from.getTime()) continue;
      const localStart = localIso(start, w.timezone);
      if (blackout.has(localStart.slice(0, 10))) continue;
      found.push({ windowIndex, start: start.toISOString(), end: end.toISOString(), timezone: w.timezone, localStart, localEnd: localIso(end, w.timezone) });
      taken++;
    }
  });
  return found.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.windowIndex - b.windowIndex)).slice(0, count);
}

/** The window open at `at`, if any. */
export function openWindowAt(windows: readonly MaintenanceWindow[], at: Date): WindowOccurrence | undefined {
  const first = nextWindows(windows, at, 1)[0];
  return first && Date.parse(first.start) <= at.getTime() ? first : undefined;
}
