import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utils } from 'ssh2';
import { fingerprintOfPublicKeyLine, generateHostKeyPool, generateSshKeyPair, sshFingerprint } from './host-keys.js';

describe('simulated fleet: host and client keys (unit)', () => {
  it('every generated key pair parses back (ssh2 sometimes writes unreadable ed25519 keys)', () => {
    for (let i = 0; i < 2000; i++) {
      const pair = generateSshKeyPair();
      assert.ok(!(utils.parseKey(pair.private) instanceof Error), `key ${i}`);
    }
  });

  it('fingerprints like OpenSSH and mixes ed25519 and ECDSA in the pool', () => {
    const pool = generateHostKeyPool(3);
    assert.deepEqual(
      pool.map((k) => k.publicKey.split(' ')[0]),
      ['ssh-ed25519', 'ssh-ed25519', 'ecdsa-sha2-nistp256'],
    );
    for (const k of pool) {
      const parsed = utils.parseKey(k.publicKey);
      assert.ok(!(parsed instanceof Error));
      assert.equal(k.fingerprint, sshFingerprint((Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH()));
      assert.match(k.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    }
    assert.equal(new Set(pool.map((k) => k.fingerprint)).size, 3);
    // What `ssh-keygen -lf` prints for this key.
    assert.equal(
      fingerprintOfPublicKeyLine('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test'),
      'SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU',
    );
  });
});
