import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { utils } from 'ssh2';

/** A host key pair shared by many simulated endpoints. */
export interface HostKey {
  /** OpenSSH private key text, as ssh2's server takes it. */
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA...` line, as in known_hosts. */
  readonly publicKey: string;
  /** OpenSSH-style `SHA256:...` fingerprint of the public key. */
  readonly fingerprint: string;
}

/**
 * OpenSSH's fingerprint of a public key blob (the wire-format key, as ssh2's hostVerifier receives
 * it): `SHA256:` + unpadded base64 of its SHA-256.
 */
export function sshFingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Fingerprint of an `ssh-xxx AAAA... comment` public key line. */
export function fingerprintOfPublicKeyLine(line: string): string {
  const b64 = line.trim().split(/\s+/)[1] ?? '';
  return sshFingerprint(Buffer.from(b64, 'base64'));
}

/**
 * A small pool of host keys. Generating one key per endpoint would make 10,000 endpoints take
 * seconds of CPU for no realism gained; endpoints share keys round-robin, which is what a fleet
 * cloned from one image without regenerating keys looks like anyway. Mixing ed25519 and ECDSA
 * keeps both host-key algorithms exercised.
 */
export function generateHostKeyPool(size: number): HostKey[] {
  const pool: HostKey[] = [];
  for (let i = 0; i < size; i++) {
    const pair = generateSshKeyPair(i % 3 === 2 ? 'ecdsa' : 'ed25519');
    pool.push({ privateKey: pair.private, publicKey: pair.public, fingerprint: fingerprintOfPublicKeyLine(pair.public) });
  }
  return pool;
}

/**
 * An OpenSSH-format key pair that ssh2 can read back. ssh2 1.17's generator strips leading zero
 * bytes from an ed25519 public key (about 1 key in 256; mscdex/ssh2 issues 1390 and 1513), and its
 * own parser then rejects the pair as malformed, which would make a fleet or a client fail at
 * random; such pairs are drawn again.
 */
export function generateSshKeyPair(type: 'ed25519' | 'ecdsa' = 'ed25519'): { private: string; public: string } {
  for (;;) {
    const pair = type === 'ecdsa' ? utils.generateKeyPairSync('ecdsa', { bits: 256 }) : utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

/** A client key pair whose private half is in a file (0600) an inventory can name. */
export interface ClientKey {
  /** The public key (OpenSSH line), what a fleet is told to accept. */
  public: string;
  /** The private key's file. */
  path: string;
}

/** A fresh client key pair, the private key written to `<dir>/client-key` (mode 0600). */
export function writeClientKey(dir: string): ClientKey {
  const key = generateSshKeyPair();
  const path = join(dir, 'client-key');
  writeFileSync(path, key.private, { mode: 0o600 });
  return { public: key.public.trim(), path };
}
