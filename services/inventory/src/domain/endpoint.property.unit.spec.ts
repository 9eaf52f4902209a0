import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PatchbayError } from '@patchbay/contracts';
import { decide, evolve, initialState, type EndpointCommand, type EndpointState } from './endpoint.js';

const keys = ['SHA256:OD52+uBnH8xaOdsCPV0MyS4Y1KL/Gj6DM9fItAoL2aA', 'SHA256:AAAA+uBnH8xaOdsCPV0MyS4Y1KL/Gj6DM9fItAoL2aA', 'SHA256:BBBB+uBnH8xaOdsCPV0MyS4Y1KL/Gj6DM9fItAoL2aA'];
const label = fc.constantFrom('role', 'tier', 'site');
const value = fc.constantFrom('a', 'b', 'c');
const labels = fc.dictionary(label, value, { maxKeys: 3 });
const ssh = fc.record({ host: fc.constantFrom('10.0.0.1', '10.0.0.2'), port: fc.constantFrom(22, 2222), user: fc.constantFrom('root', 'patchbay'), sudo: fc.boolean() });
const command: fc.Arbitrary<EndpointCommand> = fc.oneof(
  fc.record({ type: fc.constant('Upsert' as const), endpointId: fc.constant('e'), labels, ssh, source: fc.constant('s') }),
  fc.record({ type: fc.constant('UpdateLabels' as const), endpointId: fc.constant('e'), set: labels, remove: fc.array(label, { maxLength: 2 }) }),
  fc.record({ type: fc.constant('SetSshIdentity' as const), endpointId: fc.constant('e'), ssh }),
  fc.record({ type: fc.constant('Retire' as const), endpointId: fc.constant('e'), reason: fc.constant('r') }),
  fc.record({ type: fc.constant('ObserveHostKey' as const), endpointId: fc.constant('e'), presented: fc.record({ algorithm: fc.constant('ssh-ed25519'), fingerprint: fc.constantFrom(...keys) }), defaultPolicy: fc.constantFrom('tofu' as const, 'explicit' as const) }),
  fc.record({ type: fc.constant('AcceptHostKey' as const), endpointId: fc.constant('e'), fingerprint: fc.constantFrom(...keys), reason: fc.constant('ok') }),
);

/** Runs commands, skipping the ones the decider refuses (with a PatchbayError, never anything else). */
function run(commands: EndpointCommand[]): EndpointState {
  let state = initialState();
  for (const c of commands) {
    try {
      state = decide(c, state).reduce(evolve, state);
    } catch (err) {
      assert.ok(err instanceof PatchbayError, `unexpected ${String(err)}`);
    }
  }
  return state;
}

describe('endpoint decider properties', () => {
  it('every command is idempotent: deciding it again right after it was applied appends nothing', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 12 }), command, (history, c) => {
        const state = run(history);
        let after: EndpointState;
        try {
          after = decide(c, state).reduce(evolve, state);
        } catch {
          return;
        }
        assert.deepEqual(decide(c, after), [], JSON.stringify(c));
      }),
      { numRuns: 2000 },
    );
  });

  it('a key is trusted only after HostKeyPinned, and a pinned key changes only by an operator', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 20 }), (history) => {
        let state = initialState();
        for (const c of history) {
          let events;
          try {
            events = decide(c, state);
          } catch {
            continue;
          }
          for (const e of events) {
            if (e.type === 'HostKeyPinned' && state.pinnedKey && e.data.key.fingerprint !== state.pinnedKey.fingerprint) {
              assert.equal(e.data.decidedBy, 'operator', 'only an operator replaces a pinned key');
              assert.deepEqual(e.data.replaces, state.pinnedKey);
            }
            state = evolve(state, e);
          }
          if (c.type === 'ObserveHostKey' && state.pinnedKey && c.presented.fingerprint !== state.pinnedKey.fingerprint) {
            assert.ok(!events.some((e) => e.type === 'HostKeyPinned'), 'a different key is never pinned by observing it');
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
