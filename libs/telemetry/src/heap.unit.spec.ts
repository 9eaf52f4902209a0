import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullGc, markHeap, releaseHeapAfter, releaseHeapWhenIdle, type HeapRelease } from './heap.js';

const MiB = 1024 * 1024;

/** A burst like a facts round: many short-lived objects, none kept. Returns a checksum so nothing is optimised away. */
function burst(objects: number): number {
  let keep: Array<{ id: string; facts: { updates: string[] } }> = [];
  let sum = 0;
  for (let i = 0; i < objects; i++) {
    keep.push({ id: `endpoint-${i}`, facts: { updates: [`pkg-${i}-a`, `pkg-${i}-b`] } });
    // Dropped in slices, as results are once each endpoint's facts are stored.
    if (keep.length === 200_000) {
      sum += keep.length;
      keep = [];
    }
  }
  return sum + keep.length;
}

describe('heap release after a job', () => {
  it('exposes V8 full collection without --expose-gc on the command line', () => {
    assert.equal(typeof fullGc(), 'function');
    assert.equal(fullGc(), fullGc(), 'exposed once');
  });

  it('gives back the heap a burst grew and leaves live objects alone', () => {
    const live = Array.from({ length: 50_000 }, (_, i) => ({ i, name: `live-${i}` }));
    const mark = markHeap();
    assert.equal(burst(3_000_000), 3_000_000);
    const grown = process.memoryUsage().heapTotal - mark.heapTotalBytes;
    // V8 collects young objects during the burst but lets the old generation grow: the premise.
    assert.ok(grown >= 32 * MiB, `the burst grew the heap by ${(grown / MiB).toFixed(0)} MiB`);
    const r = releaseHeapAfter(mark, 16 * MiB);
    assert.ok(r, 'a release was made');
    assert.ok(r.heapAfterBytes < r.heapBeforeBytes - 16 * MiB, `heap ${(r.heapBeforeBytes / MiB).toFixed(0)} → ${(r.heapAfterBytes / MiB).toFixed(0)} MiB`);
    // The emptied pages leave the process at once (a plain gc() keeps them resident).
    assert.ok(r.rssAfterBytes < r.rssBeforeBytes - 16 * MiB, `resident ${(r.rssBeforeBytes / MiB).toFixed(0)} → ${(r.rssAfterBytes / MiB).toFixed(0)} MiB`);
    assert.ok(r.ms >= 0);
    assert.equal(live[49_999]!.name, 'live-49999');
  });

  it('does nothing after a job that grew the heap less than asked', () => {
    const mark = markHeap();
    assert.equal(releaseHeapAfter(mark, 512 * MiB), undefined);
  });
});

describe('heap release when idle', () => {
  const grow = () => {
    const mark = markHeap();
    burst(3_000_000);
    return process.memoryUsage().heapTotal - mark.heapTotalBytes;
  };

  it('releases once the loop goes quiet after a burst, and only then', async () => {
    const released: HeapRelease[] = [];
    const idle = releaseHeapWhenIdle({ intervalMs: 150, minGrowthBytes: 16 * MiB, onRelease: (r) => released.push(r) });
    try {
      assert.ok(grow() >= 32 * MiB);
      // Busy: the loop is held for most of each interval, so nothing is released.
      const busyUntil = Date.now() + 700;
      while (Date.now() < busyUntil) {
        const spin = Date.now() + 140;
        while (Date.now() < spin) burst(1_000);
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(released.length, 0, 'nothing while busy');
      // Quiet: released at the next look, once.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(released.length, 1, 'one release once idle');
      assert.ok(released[0]!.heapAfterBytes < released[0]!.heapBeforeBytes - 16 * MiB);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(released.length, 1, 'nothing more without new growth');
    } finally {
      idle.stop();
    }
  });
});
