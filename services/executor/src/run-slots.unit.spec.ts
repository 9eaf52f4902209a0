import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunSlots } from './executor.js';

describe('run slots', () => {
  it('grants at most n, in arrival order, and a double release frees one slot only', async () => {
    const slots = new RunSlots(2);
    const a = await slots.acquire();
    const b = slots.tryAcquire()!;
    assert.equal(slots.tryAcquire(), undefined);
    const order: string[] = [];
    const c = slots.acquire().then((r) => (order.push('c'), r));
    const d = slots.acquire().then((r) => (order.push('d'), r));
    a();
    a();
    await c;
    assert.deepEqual(order, ['c']);
    assert.equal(slots.inUse, 2);
    b();
    await d;
    assert.deepEqual(order, ['c', 'd']);
  });

  it('acquireWithin gives up after its wait and never receives a slot later', async () => {
    const slots = new RunSlots(1);
    const held = slots.tryAcquire()!;
    const started = Date.now();
    assert.equal(await slots.acquireWithin(50), undefined);
    assert.ok(Date.now() - started >= 45);
    held();
    assert.equal(slots.inUse, 0, 'the timed-out caller was not handed the freed slot');
    const again = slots.tryAcquire();
    assert.ok(again);
  });

  it('acquireWithin gets a slot freed during its wait', async () => {
    const slots = new RunSlots(1);
    const held = slots.tryAcquire()!;
    setTimeout(held, 20);
    const got = await slots.acquireWithin(1000);
    assert.ok(got);
    assert.equal(slots.inUse, 1);
    got();
    assert.equal(slots.inUse, 0);
  });
});
