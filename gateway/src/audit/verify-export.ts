import { createHash, createPublicKey, verify } from 'node:crypto';
import { canonicalJson, verifyChain, type RecordedEvent } from '@patchbay/contracts';
import { keyIdOf, type ExportManifest } from './export.js';

export interface ExportVerdict {
  ok: boolean;
  /** Stable reason codes: `DIGEST_MISMATCH`, `BAD_SIGNATURE`, `KEY_MISMATCH`, `EVENT_COUNT_MISMATCH`, `CHAIN_BROKEN`, `MALFORMED_LINE`. */
  problems: Array<{ code: string; message: string }>;
}

/**
 * Verifies a downloaded export with nothing but the file, its manifest, the signature and the
 * gateway's public key (SPKI PEM): the SHA-256 matches, the Ed25519 signature over
 * `canonicalJson(manifest)` is valid, and — for JSON Lines — the number of events matches and
 * every stream's hash chain in the file holds (so an edited line is caught even by a verifier
 * that trusts no digest).
 */
export function verifyExport(content: string | Buffer, manifest: ExportManifest, signature: string, publicKeyPem: string): ExportVerdict {
  const problems: ExportVerdict['problems'] = [];
  const key = createPublicKey(publicKeyPem);
  if (manifest.keyId !== keyIdOf(key)) problems.push({ code: 'KEY_MISMATCH', message: `manifest names key ${manifest.keyId}, the given public key is ${keyIdOf(key)}` });
  if (!verify(null, Buffer.from(canonicalJson(manifest)), key, Buffer.from(signature, 'base64'))) problems.push({ code: 'BAD_SIGNATURE', message: 'the signature does not match the manifest' });
  const digest = createHash('sha256').update(content).digest('hex');
  if (digest !== manifest.sha256) problems.push({ code: 'DIGEST_MISMATCH', message: `SHA-256 of the file is ${digest}, the manifest says ${manifest.sha256}` });
  if (manifest.contentType === 'application/jsonl') {
    const lines = content.toString().split('\n').filter((l) => l !== '');
    if (lines.length !== manifest.events) problems.push({ code: 'EVENT_COUNT_MISMATCH', message: `${lines.length} lines, the manifest says ${manifest.events}` });
    const streams = new Map<string, RecordedEvent[]>();
    for (const [i, line] of lines.entries()) {
      try {
        const r = JSON.parse(line) as Record<string, unknown> & { stream: string; data: unknown; type: string; position: string };
        const { position, data, type, ...metadata } = r;
        const list = streams.get(r.stream) ?? [];
        list.push({ type, data, position: BigInt(position), metadata: metadata as unknown as RecordedEvent['metadata'] });
        streams.set(r.stream, list);
      } catch {
        problems.push({ code: 'MALFORMED_LINE', message: `line ${i + 1} is not an exported event` });
      }
    }
    for (const [stream, events] of streams) {
      const v = verifyChain(stream, events);
      if (!v.ok) problems.push({ code: 'CHAIN_BROKEN', message: `${stream} revision ${v.brokenAt} (${v.eventId}): ${v.reason}` });
    }
  }
  return { ok: problems.length === 0, problems };
}
