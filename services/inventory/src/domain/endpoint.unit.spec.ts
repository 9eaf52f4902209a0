import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SshIdentity } from '@patchbay/contracts';
import { decide, evolve, hostKeyTrusted, initialState, type EndpointCommand, type EndpointEvent } from './endpoint.js';

/** given events / when command / then events (or an error code). */
function spec(given: EndpointEvent[]) {
  const state = given.reduce(evolve, initialState());
  return {
    when: (command: EndpointCommand) => ({
      then: (expected: EndpointEvent[]) => assert.deepEqual(decide(command, state), expected),
      thenFails: (code: string) => assert.throws(() => decide(command, state), (e: Error & { code?: string }) => e.code === code),
    }),
  };
}

const ssh: SshIdentity = { host: '10.0.0.5', port: 22, user: 'patchbay', sudo: true, keyRef: 'env:PATCHBAY_KEY' };
const registered: EndpointEvent = { type: 'EndpointRegistered', data: { endpointId: 'web1', labels: { role: 'web' }, ssh, source: 'manual' } };
const keyA = { algorithm: 'ssh-ed25519', fingerprint: 'SHA256:OD52+uBnH8xaOdsCPV0MyS4Y1KL/Gj6DM9fItAoL2aA' };
const keyB = { algorithm: 'ssh-ed25519', fingerprint: 'SHA256:AAAA+uBnH8xaOdsCPV0MyS4Y1KL/Gj6DM9fItAoL2aA' };

describe('endpoint decider', () => {
  it('registers a new endpoint with sorted labels', () =>
    spec([]).when({ type: 'Register', endpointId: 'web1', labels: { z: '1', a: '2' }, ssh, source: 'manual' }).then([
      { type: 'EndpointRegistered', data: { endpointId: 'web1', labels: { a: '2', z: '1' }, ssh, source: 'manual' } },
    ]));
  it('registering the same endpoint again with the same settings appends nothing', () =>
    spec([registered]).when({ type: 'Register', endpointId: 'web1', labels: { role: 'web' }, ssh, source: 'manual' }).then([]));
  it('registering an existing endpoint with other settings is ENDPOINT_ALREADY_REGISTERED', () =>
    spec([registered]).when({ type: 'Register', endpointId: 'web1', labels: { role: 'db' }, ssh, source: 'manual' }).thenFails('ENDPOINT_ALREADY_REGISTERED'));
  it('upsert changes only what differs', () =>
    spec([registered]).when({ type: 'Upsert', endpointId: 'web1', labels: { role: 'db' }, ssh, source: 'x' }).then([
      { type: 'EndpointLabelsChanged', data: { endpointId: 'web1', labels: { role: 'db' }, previous: { role: 'web' } } },
    ]));
  it('upsert with a new SSH port changes the identity only', () =>
    spec([registered]).when({ type: 'Upsert', endpointId: 'web1', labels: { role: 'web' }, ssh: { ...ssh, port: 2222 }, source: 'x' }).then([
      { type: 'EndpointSshIdentityChanged', data: { endpointId: 'web1', ssh: { ...ssh, port: 2222 } } },
    ]));
  it('label updates set and remove keys; no change appends nothing', () => {
    spec([registered]).when({ type: 'UpdateLabels', endpointId: 'web1', set: { tier: 'gold' }, remove: ['role'] }).then([
      { type: 'EndpointLabelsChanged', data: { endpointId: 'web1', labels: { tier: 'gold' }, previous: { role: 'web' } } },
    ]);
    spec([registered]).when({ type: 'UpdateLabels', endpointId: 'web1', set: { role: 'web' }, remove: [] }).then([]);
  });
  it('commands on an unknown endpoint are ENDPOINT_NOT_FOUND, on a retired one ENDPOINT_RETIRED', () => {
    spec([]).when({ type: 'UpdateLabels', endpointId: 'web1', set: {}, remove: [] }).thenFails('ENDPOINT_NOT_FOUND');
    spec([]).when({ type: 'Retire', endpointId: 'web1', reason: 'x' }).thenFails('ENDPOINT_NOT_FOUND');
    const retired: EndpointEvent = { type: 'EndpointRetired', data: { endpointId: 'web1', reason: 'gone' } };
    spec([registered, retired]).when({ type: 'SetSshIdentity', endpointId: 'web1', ssh }).thenFails('ENDPOINT_RETIRED');
    spec([registered, retired]).when({ type: 'Retire', endpointId: 'web1', reason: 'again' }).then([]);
  });
  it('retires an active endpoint', () =>
    spec([registered]).when({ type: 'Retire', endpointId: 'web1', reason: 'decommissioned' }).then([{ type: 'EndpointRetired', data: { endpointId: 'web1', reason: 'decommissioned' } }]));

  describe('host keys', () => {
    it('first contact under trust-on-first-use pins the key, recorded as tofu', () =>
      spec([registered]).when({ type: 'ObserveHostKey', endpointId: 'web1', presented: keyA, defaultPolicy: 'tofu' }).then([
        { type: 'HostKeyPinned', data: { endpointId: 'web1', key: keyA, decidedBy: 'tofu', reason: 'first contact; host-key policy allows trust on first use' } },
      ]));
    it('first contact under the explicit policy leaves the key pending, once', () => {
      spec([registered]).when({ type: 'ObserveHostKey', endpointId: 'web1', presented: keyA, defaultPolicy: 'explicit' }).then([{ type: 'HostKeyPending', data: { endpointId: 'web1', key: keyA } }]);
      spec([registered, { type: 'HostKeyPending', data: { endpointId: 'web1', key: keyA } }]).when({ type: 'ObserveHostKey', endpointId: 'web1', presented: keyA, defaultPolicy: 'explicit' }).then([]);
    });
    it("the endpoint's own policy wins over the service default", () => {
      const explicitEndpoint: EndpointEvent = { type: 'EndpointRegistered', data: { ...registered.data, hostKeyPolicy: 'explicit' } } as EndpointEvent;
      spec([explicitEndpoint]).when({ type: 'ObserveHostKey', endpointId: 'web1', presented: keyA, defaultPolicy: 'tofu' }).then([{ type: 'HostKeyPending', data: { endpointId: 'web1', key: keyA } }]);
    });
    it('a changed key is a mismatch (recorded once per key) and is not trusted', () => {
      const pinned: EndpointEvent = { type: 'HostKeyPinned', data: { endpointId: 'web1', key: keyA, decidedBy: 'tofu', reason: 'r' } };
      spec([registered, pinned]).when({ type: 'ObserveHostKey', endpointId: 'web1', presented: keyA, defaultPolicy: 'tofu' }).then([]);
      spec([registered, pinned]).when({ type: 'ObserveHostKey', endpointId: 'web1', presented: keyB, defaultPolicy: 'tofu' }).then([
        { type: 'HostKeyMismatchDetected', data: { endpointId: 'web1', pinned: keyA, presented: keyB } },
      ]);
      const mismatch: EndpointEvent = { type: 'HostKeyMismatchDetected', data: { endpointId: 'web1', pinned: keyA, presented: keyB } };
      spec([registered, pinned, mismatch]).when({ type: 'ObserveHostKey', endpointId: 'web1', presented: keyB, defaultPolicy: 'tofu' }).then([]);
      const state = [registered, pinned, mismatch].reduce(evolve, initialState());
      assert.equal(hostKeyTrusted(state, keyB), false);
      assert.equal(hostKeyTrusted(state, keyA), true);
    });
    it('an operator accepts a pending key by its fingerprint; any other fingerprint is HOST_KEY_NOT_PRESENTED', () => {
      const pending: EndpointEvent = { type: 'HostKeyPending', data: { endpointId: 'web1', key: keyA } };
      spec([registered, pending]).when({ type: 'AcceptHostKey', endpointId: 'web1', fingerprint: keyA.fingerprint, reason: 'checked on console' }).then([
        { type: 'HostKeyPinned', data: { endpointId: 'web1', key: keyA, decidedBy: 'operator', reason: 'checked on console' } },
      ]);
      spec([registered, pending]).when({ type: 'AcceptHostKey', endpointId: 'web1', fingerprint: keyB.fingerprint, reason: 'x' }).thenFails('HOST_KEY_NOT_PRESENTED');
    });
    it('after a mismatch an operator may accept the new key, which replaces the old pin', () => {
      const pinned: EndpointEvent = { type: 'HostKeyPinned', data: { endpointId: 'web1', key: keyA, decidedBy: 'tofu', reason: 'r' } };
      const mismatch: EndpointEvent = { type: 'HostKeyMismatchDetected', data: { endpointId: 'web1', pinned: keyA, presented: keyB } };
      spec([registered, pinned, mismatch]).when({ type: 'AcceptHostKey', endpointId: 'web1', fingerprint: keyB.fingerprint, reason: 'reinstalled' }).then([
        { type: 'HostKeyPinned', data: { endpointId: 'web1', key: keyB, decidedBy: 'operator', reason: 'reinstalled', replaces: keyA } },
      ]);
    });
  });
});
