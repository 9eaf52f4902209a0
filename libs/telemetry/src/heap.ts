import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8 runs a full (old-generation) collection only when the old generation nears a limit it sets
 * itself, which grows with the heap. A process that allocates a burst and then goes quiet — the
 * inventory after gathering facts from thousands of endpoints — keeps every dead object of the
 * burst resident until its next burst: measured at 10,000 endpoints, 503 MiB resident of which
 * 24 MiB was live. `releaseHeapAfter` lets such a job give it back when it ends.
 */

/** V8's `gc()`; the options object is read by V8 13 (Node 24), older V8 runs a plain full collection. */
type Gc = (options?: { type: 'major'; execution: 'sync'; flavor: 'regular' | 'last-resort' }) => void;
let gc: Gc | null | undefined;

/**
 * V8's full collection: `global.gc` when node runs with `--expose-gc`, otherwise exposed once at
 * run time (`--expose-gc` set through V8's flags, then the `gc` function of a new context, as test
 * runners do). Undefined where V8 refuses.
 */
export function fullGc(): Gc | undefined {
  if (gc === undefined) {
    const exposed = (globalThis as { gc?: unknown }).gc;
    if (typeof exposed === 'function') gc = exposed as Gc;
    else {
      try {
        setFlagsFromString('--expose-gc');
        const fn: unknown = runInNewContext('gc');
        gc = typeof fn === 'function' ? (fn as Gc) : null;
      } catch {
        gc = null;
      }
    }
  }
  return gc ?? undefined;
}

/** What one release did: V8's heap (reserved by its spaces) and the process's resident memory, before and after. */
export interface HeapRelease {
  heapBeforeBytes: number;
  heapAfterBytes: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  ms: number;
}

/** The heap's size and the process's resident memory at the start of a job, to compare with at its end. */
export interface HeapMark {
  readonly heapTotalBytes: number;
  readonly rssBytes: number;
}

export const markHeap = (): HeapMark => {
  const m = process.memoryUsage();
  return { heapTotalBytes: m.heapTotal, rssBytes: m.rss };
};

/**
 * Runs V8's memory-reducing full collection (the "last resort" flavour: collections repeated until
 * nothing more is freed, emptied pages given back to the system at once — a plain `gc()` keeps them
 * resident) when the heap or the resident memory grew by at least `minGrowthBytes` since `mark` (a
 * job that allocated little leaves nothing worth it; resident memory counts too because buffers
 * outside the heap — socket reads, SQLite rows — are freed only when the objects holding them are
 * collected). Returns what it did, or undefined when it did nothing. It holds
 * the event loop: tens of milliseconds for a heap of a few hundred MiB of which little is live
 * (the cost follows the live objects, not the dead ones).
 */
export function releaseHeapAfter(mark: HeapMark, minGrowthBytes: number): HeapRelease | undefined {
  const before = process.memoryUsage();
  if (Math.max(before.heapTotal - mark.heapTotalBytes, before.rss - mark.rssBytes) < minGrowthBytes) return undefined;
  const collect = fullGc();
  if (!collect) return undefined;
  const t = performance.now();
  collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const after = process.memoryUsage();
  return { heapBeforeBytes: before.heapTotal, heapAfterBytes: after.heapTotal, rssBeforeBytes: before.rss, rssAfterBytes: after.rss, ms: performance.now() - t };
}

export interface IdleHeapReleaseOptions {
  /** How often the process looks at itself (default 30 s). */
  intervalMs?: number;
  /** Heap growth since the last release that is worth one (default 64 MiB). */
  minGrowthBytes?: number;
  /** Busiest the event loop may have been over the interval, 0–1 (default 0.02: idle). */
  maxUtilization?: number;
  /** Told of each release. */
  onRelease?: (release: HeapRelease) => void;
}

/**
 * Gives back, once the process has gone quiet, what its last burst of work grew the heap by: every
 * `intervalMs`, when the event loop was busy less than `maxUtilization` of the time since the last
 * look and the heap grew by `minGrowthBytes` since the last release, one memory-reducing full
 * collection (a busy process is left alone: V8 collects as it allocates). Measured after a
 * 10,000-endpoint cycle: executor 361 → 142 MiB, relay 176 → 89 MiB, gateway 354 → 236 MiB.
 * The timer does not keep the process alive; `stop()` ends it.
 */
export function releaseHeapWhenIdle(options: IdleHeapReleaseOptions = {}): { stop: () => void } {
  const minGrowth = options.minGrowthBytes ?? 64 * 1024 * 1024;
  const maxUtilization = options.maxUtilization ?? 0.02;
  let mark = markHeap();
  let since = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const busy = performance.eventLoopUtilization(since).utilization;
    since = performance.eventLoopUtilization();
    if (busy > maxUtilization) return;
    const released = releaseHeapAfter(mark, minGrowth);
    if (!released) return;
    mark = markHeap();
    options.onRelease?.(released);
  }, options.intervalMs ?? 30_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
