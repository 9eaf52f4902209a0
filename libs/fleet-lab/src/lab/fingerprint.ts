import { createHash } from 'node:crypto';

/**
 * OpenSSH's SHA256 fingerprint (`SHA256:...`, unpadded base64) of a public key line such as the
 * content of `ssh_host_ed25519_key.pub`.
 */
export function sshFingerprint(publicKeyLine: string): string {
  const parts = publicKeyLine.trim().split(/\s+/);
  const blob = parts[1];
  if (!blob || !/^[A-Za-z0-9+/]+=*$/.test(blob)) throw new TypeError('not an OpenSSH public key line');
  const raw = Buffer.from(blob, 'base64');
  // The key blob starts with its own length-prefixed type name, which must match the line's.
  const typeLength = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  if (typeLength <= 0 || raw.subarray(4, 4 + typeLength).toString() !== parts[0]) throw new TypeError('not an OpenSSH public key line');
  const digest = createHash('sha256').update(raw).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}
