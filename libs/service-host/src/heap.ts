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

/** The heap's size at the start of a job, to compare with at its end. */
export interface HeapMark {
  readonly heapTotalBytes: number;
}

export const markHeap = (): HeapMark => ({ heapTotalBytes: process.memoryUsage().heapTotal });

/**
 * Runs V8's memory-reducing full collection (the "last resort" flavour: collections repeated until
 * nothing more is freed, emptied pages given back to the system at once — a plain `gc()` keeps them
 * resident) when the heap grew by at least `minGrowthBytes` since `mark` (a job that allocated
 * little leaves nothing worth it). Returns what it did, or undefined when it did nothing. It holds
 * the event loop: tens of milliseconds for a heap of a few hundred MiB of which little is live
 * (the cost follows the live objects, not the dead ones).
 */
export function releaseHeapAfter(mark: HeapMark, minGrowthBytes: number): HeapRelease | undefined {
  const before = process.memoryUsage();
  if (before.heapTotal - mark.heapTotalBytes < minGrowthBytes) return undefined;
  const collect = fullGc();
  if (!collect) return undefined;
  const t = performance.now();
  collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const after = process.memoryUsage();
  return { heapBeforeBytes: before.heapTotal, heapAfterBytes: after.heapTotal, rssBeforeBytes: before.rss, rssAfterBytes: after.rss, ms: performance.now() - t };
}
