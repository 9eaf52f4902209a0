import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppendSignal } from './catch-up-subscription.js';

describe('AppendSignal', () => {
  it('wakes a waiter at notify, or after its time', async () => {
    const s = new AppendSignal();
    let woken = false;
    const w = s.wait(10_000).then(() => (woken = true));
    s.notify();
    await w;
    assert.ok(woken);
    const started = performance.now();
    await s.wait(60);
    assert.ok(performance.now() - started >= 50, 'nothing notified: the wait lasts its time');
  });

  it('a wait since a generation that has moved ends at once: a notify while the reader was busy is not slept through', async () => {
    const s = new AppendSignal();
    const seen = s.generation;
    s.notify(); // the reader was reading, not waiting
    const started = performance.now();
    await s.wait(10_000, seen);
    assert.ok(performance.now() - started < 50);
    const now = s.generation;
    const again = performance.now();
    await s.wait(60, now);
    assert.ok(performance.now() - again >= 50, 'up to date: it waits again');
  });
});
