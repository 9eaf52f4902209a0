import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cyclesToStart, type QueuedCycle } from './queue.js';

const NOW = '2026-11-25T10:00:00.000Z';
const q = (cycleId: string, opts: Partial<QueuedCycle> = {}): QueuedCycle => ({ cycleId, status: 'queued', emergency: false, inFlight: 0, requestedAt: '2026-11-25T09:00:00.000Z', notBefore: NOW, windowOpen: true, ...opts });

test('emergencies jump the queue; others go in request order', () => {
  const cycles = [q('a', { requestedAt: '2026-11-25T08:00:00.000Z' }), q('b', { requestedAt: '2026-11-25T08:30:00.000Z' }), q('zero-day', { emergency: true, requestedAt: '2026-11-25T09:59:00.000Z' })];
  assert.deepEqual(cyclesToStart(cycles, NOW, 1), ['zero-day']);
  assert.deepEqual(cyclesToStart(cycles, NOW, 2), ['zero-day', 'a']);
});

test('running and paused cycles hold slots; halted, completed and aborted do not', () => {
  const base = [q('next')];
  assert.deepEqual(cyclesToStart([...base, q('r', { status: 'running' })], NOW, 1), []);
  assert.deepEqual(cyclesToStart([...base, q('p', { status: 'paused' })], NOW, 1), []);
  assert.deepEqual(cyclesToStart([...base, q('h', { status: 'halted' }), q('c', { status: 'completed' }), q('x', { status: 'aborted' })], NOW, 1), ['next']);
  assert.deepEqual(cyclesToStart([...base, q('h', { status: 'halted', inFlight: 1 })], NOW, 1), [], 'halted with runs in flight still holds its slot');
  assert.deepEqual(cyclesToStart([...base, q('x', { status: 'aborted', inFlight: 2 })], NOW, 1), [], 'aborted, waiting for cancellations');
});

test('a deferred cycle or one outside its window waits without blocking the ones behind it', () => {
  const cycles = [q('deferred', { requestedAt: '2026-11-25T07:00:00.000Z', notBefore: '2026-11-27T00:00:00.000Z' }), q('closed', { requestedAt: '2026-11-25T07:30:00.000Z', windowOpen: false }), q('ready')];
  assert.deepEqual(cyclesToStart(cycles, NOW, 1), ['ready']);
  assert.deepEqual(cyclesToStart([q('awaiting', { status: 'awaiting-approval' })], NOW, 1), []);
});
