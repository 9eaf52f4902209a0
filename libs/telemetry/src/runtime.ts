import { setFlagsFromString } from 'node:v8';
import { releaseHeapWhenIdle } from './heap.js';

/** How far V8 lets the heap grow past what a full collection found live, in percent. */
export const HEAP_GROWING_ENV = 'PATCHBAY_NODE_HEAP_GROWING_PERCENT';
/**
 * Default: the heap may reach twice what is live. V8's own factor (up to 4×) let each of the
 * stack's processes hold two to three times its live objects during a 10,000-endpoint cycle; at
 * 2× the stack's peak went 1,455 → 1,113 MiB for the same CPU relative to the fleet (bench/RESULTS.md).
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 100;
export const MAX_HEAP_GROWING_PERCENT = 400;

/** The setting from the environment: 0 (V8 decides) up to 400; anything else is refused with CONFIG_INVALID. */
export function heapGrowingPercentOf(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[HEAP_GROWING_ENV];
  if (raw === undefined || raw === '') return DEFAULT_HEAP_GROWING_PERCENT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n > MAX_HEAP_GROWING_PERCENT) {
    throw Object.assign(new Error(`${HEAP_GROWING_ENV} must be an integer from 0 (V8 decides) to ${MAX_HEAP_GROWING_PERCENT}, got ${JSON.stringify(raw)}`), { code: 'CONFIG_INVALID' });
  }
  return n;
}

/**
 * Sets V8's heap growing factor to 1 + percent/100 for this process (0 leaves V8's own). V8 reads
 * it at every full collection, so setting it when the process starts is as good as the
 * command-line flag, which NODE_OPTIONS refuses; every Patchbay process calls it first, through `manageHeap`.
 */
export function applyHeapGrowingPercent(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${Math.trunc(percent)}`);
}

/**
 * What every Patchbay process does about its heap when it starts: V8's growing factor from the
 * setting, and the release of what a burst of work left once the process is idle
 * (`releaseHeapWhenIdle`). Returns what stops the idle release.
 */
export function manageHeap(growingPercent: number): { stop: () => void } {
  applyHeapGrowingPercent(growingPercent);
  return releaseHeapWhenIdle();
}
