import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostBehaviour, scenarioSchema } from '../scenario.js';
import { SimulatedFleetConfigError } from './errors.js';
import { withBehaviourOverrides } from './scenario-file.js';

describe('simulated fleet: scenario behaviour per host (unit)', () => {
  it('a host override changes only the fields it names', () => {
    const s = scenarioSchema.parse({ name: 'x', packages: [], defaults: { rebootDelayMs: 300, aptLatencyMs: 20 }, hosts: { '1': { rebootMode: 'never' } } });
    assert.deepEqual(hostBehaviour(s, 1), { ...s.defaults, rebootMode: 'never' });
    assert.equal(hostBehaviour(s, 1).rebootDelayMs, 300);
    assert.deepEqual(hostBehaviour(s, 0), s.defaults);
  });

  it('command-line overrides replace defaults and are validated', () => {
    const s = scenarioSchema.parse({ name: 'x', packages: [], hosts: { '2': { aptLatencyMs: 5 } } });
    const o = withBehaviourOverrides(s, { aptLatencyMs: 1000, rebootDelayMs: 3000 });
    assert.equal(hostBehaviour(o, 0).aptLatencyMs, 1000);
    assert.equal(hostBehaviour(o, 0).rebootDelayMs, 3000);
    assert.equal(hostBehaviour(o, 2).aptLatencyMs, 5, 'per-host overrides still win');
    assert.throws(() => withBehaviourOverrides(s, { commandFailureRate: 2 }), SimulatedFleetConfigError);
  });
});
