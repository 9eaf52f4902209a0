import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startOtlpReceiver, type OtlpReceiver } from '@patchbay/testing';
import { startSimStack, type SimStack } from './sim-stack.js';

/**
 * One cycle is one trace: a request with the caller's `traceparent` reaches the gateway, the
 * planner plans and releases it, the executor runs every endpoint's steps over SSH; every process
 * exports its spans to one collector and all of them, and every stored event of the cycle, carry
 * the caller's trace id.
 */
describe('one cycle, one trace: gateway, planner, executor and SSH calls (simulated fleet, OTLP collector)', { timeout: 240_000 }, () => {
  let receiver: OtlpReceiver;
  let sim: SimStack;

  before(async () => {
    receiver = await startOtlpReceiver();
    sim = await startSimStack({
      endpoints: 3,
      basePort: 27400,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
  });

  after(async () => {
    await sim?.close();
    await receiver?.close();
  });

  it('every process exports its part of the cycle under the caller\'s trace id, and every stored event carries it', async () => {
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
    const { cycleId, status } = await sim.runCycle({ traceparent });
    assert.equal(status, 'completed');

    const history = await sim.api<{ cycleHistory: Array<{ stream: string; type: string; traceparent: string | null }> }>('query($id: ID!) { cycleHistory(cycleId: $id, first: 700) { stream type traceparent } }', { id: cycleId });
    assert.ok(history.cycleHistory.length > 20, `a whole cycle's history (${history.cycleHistory.length} events)`);
    const off = history.cycleHistory.filter((e) => !e.traceparent?.includes(traceId));
    assert.deepEqual(off.map((e) => `${e.stream} ${e.type} ${e.traceparent}`), [], 'every event of the cycle and its runs is recorded under the caller\'s trace');
    assert.equal(new Set(history.cycleHistory.filter((e) => e.stream.startsWith('run-')).map((e) => e.stream)).size, 3, 'three endpoint runs');

    const want = (service: string, name: RegExp) => receiver.spans.some((s) => s.traceId === traceId && s.service === service && name.test(s.name));
    const expected: Array<[string, RegExp]> = [
      ['patchbay-gateway', /^HTTP POST \/graphql$/],
      ['patchbay-gateway', /^send patchbay\.cmd\.planner\./],
      ['patchbay-planner', /^handle patchbay\.cmd\.planner\./],
      ['patchbay-planner', /^plan cycle$/],
      ['patchbay-executor', /^executor\.run$/],
      ['patchbay-executor', /^ssh\.exec$/],
      ['patchbay-executor', /^ssh\.wait_for_boot$/],
    ];
    for (let i = 0; i < 100 && !expected.every(([svc, name]) => want(svc, name)); i++) await new Promise((r) => setTimeout(r, 200));
    const seen = [...new Set(receiver.spans.filter((s) => s.traceId === traceId).map((s) => `${s.service} ${s.name}`))].sort();
    for (const [svc, name] of expected) assert.ok(want(svc, name), `${svc} exported a span ${name} in trace ${traceId}; seen: ${seen.join(' | ')}`);
    const gatewayRoot = receiver.spans.find((s) => s.traceId === traceId && s.service === 'patchbay-gateway' && s.name === 'HTTP POST /graphql')!;
    assert.equal(gatewayRoot.parentSpanId, traceparent.split('-')[2], "the gateway's span is a child of the caller's span");
    const runs = receiver.spans.filter((s) => s.traceId === traceId && s.name === 'executor.run');
    assert.ok(runs.length >= 3, `one executor.run span per endpoint (${runs.length})`);
  });
});
