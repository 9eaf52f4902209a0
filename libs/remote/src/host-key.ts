import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { HostKeyVerifier, PresentedHostKey } from './port.js';

/**
 * OpenSSH's fingerprint of a wire-format public key blob (what ssh2's `hostVerifier` receives and
 * the base64 field of a known_hosts line decodes to): `SHA256:` + unpadded base64 of its SHA-256,
 * exactly as `ssh-keygen -lf` prints it.
 */
export function sshSha256Fingerprint(publicKeyBlob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Describes a presented key blob. The algorithm is the blob's first SSH string (RFC 4253 §6.6);
 * a blob too short to hold one is reported as `unknown` rather than trusted to parse.
 */
export function describeHostKey(publicKeyBlob: Uint8Array): PresentedHostKey {
  const blob = Buffer.from(publicKeyBlob);
  let algorithm = 'unknown';
  if (blob.length >= 4) {
    const len = blob.readUInt32BE(0);
    if (len > 0 && len <= 64 && 4 + len <= blob.length) algorithm = blob.toString('latin1', 4, 4 + len);
  }
  return { algorithm, sha256Fingerprint: sshSha256Fingerprint(blob), publicKeyBase64: blob.toString('base64') };
}

/**
 * A verifier that accepts exactly the pinned fingerprints per endpoint and rejects everything else
 * (unknown endpoints included). For tests, tools and fixed fleets; the inventory service keeps the
 * pins, with trust on first use as a recorded decision.
 */
export function pinnedHostKeys(pins: Readonly<Record<string, string | readonly string[]>>): HostKeyVerifier {
  return async (endpointId, presented) => {
    const pinned = pins[endpointId];
    const allowed = pinned === undefined ? [] : typeof pinned === 'string' ? [pinned] : pinned;
    return allowed.includes(presented.sha256Fingerprint) ? 'accept' : 'reject';
  };
}

/**
 * Which crypto ssh2 loaded: its native binding (built for this Node by the workspace postinstall)
 * or the pure-JavaScript fallback, which costs several times the CPU per handshake and packet.
 */
export function sshCryptoBackend(): 'native' | 'javascript' {
  const requireFromHere = createRequire(__filename);
  const crypto = requireFromHere('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean };
  return crypto.bindingAvailable ? 'native' : 'javascript';
}
