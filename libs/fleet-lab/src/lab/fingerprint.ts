import { createHash } from 'node:crypto';

/**
 * OpenSSH's SHA256 fingerprint (`SHA256:...`, unpadded base64) of a public key line such as the
 * content of `ssh_host_ed25519_key.pub`.
 */
export function sshFingerprint(publicKeyLine: string): string {
  const parts = publicKeyLine.trim().split(/\s+/);
  const blob = parts[1];
  if (!blob || !/^[A-Za-z0-9+/]+=*$/.test(blob)) throw new TypeError('not an OpenSSH public key line');
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}
