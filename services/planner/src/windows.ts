import { Cron } from 'croner';
import type { MaintenanceWindow } from '@patchbay/contracts';

/** One occurrence of a maintenance window. */
export interface WindowOccurrence {
  index: number;
  start: Date;
  end: Date;
}

const localDate = (at: Date, timeZone: string): string => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);

/**
 * The maintenance window open at `now`, if any (the one ending last when several overlap).
 * Starts come from the cron expression read in the window's IANA zone (croner); a start on a
 * blackout date (local to the zone) opens no window. The length is elapsed time, so a window
 * over a DST change keeps its duration.
 */
export function openWindow(windows: readonly MaintenanceWindow[], now: Date): WindowOccurrence | undefined {
  let best: WindowOccurrence | undefined;
  windows.forEach((w, index) => {
    const cron = new Cron(w.cron, { timezone: w.timezone, paused: true });
    // A start in the same second as `now` counts as open.
    for (const start of cron.previousRuns(8, new Date(now.getTime() + 999))) {
      const end = new Date(start.getTime() + w.durationMinutes * 60_000);
      if (end <= now) break;
      if (start > now) continue;
      if (w.blackoutDates.includes(localDate(start, w.timezone))) continue;
      if (!best || end > best.end) best = { index, start, end };
      break;
    }
  });
  return best;
}

/** The next window start after `from` (skipping blackout dates), for display and tests. */
export function nextWindowStart(windows: readonly MaintenanceWindow[], from: Date): WindowOccurrence | undefined {
  let best: WindowOccurrence | undefined;
  windows.forEach((w, index) => {
    const cron = new Cron(w.cron, { timezone: w.timezone, paused: true });
    for (const start of cron.nextRuns(50, from)) {
      if (w.blackoutDates.includes(localDate(start, w.timezone))) continue;
      if (!best || start < best.start) best = { index, start, end: new Date(start.getTime() + w.durationMinutes * 60_000) };
      break;
    }
  });
  return best;
}
