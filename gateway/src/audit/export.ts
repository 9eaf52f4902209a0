import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { canonicalJson, type RecordedEvent } from '@patchbay/contracts';
import type { CycleHistory } from './history.js';

export type ExportFormat = 'jsonl' | 'csv';

/** What the signature covers: the file's digest and what it claims to be. */
export interface ExportManifest {
  format: 'patchbay-audit-export/1';
  cycleId: string;
  contentType: 'application/jsonl' | 'text/csv';
  events: number;
  /** Global position of the last event (as a decimal string). */
  lastPosition: string | null;
  /** SHA-256 of the exported file's bytes, lowercase hex. */
  sha256: string;
  /** `sha256(public key DER)[0..16]`: which key signed. */
  keyId: string;
}

export interface SignedExport {
  content: string;
  manifest: ExportManifest;
  /** Ed25519 over `canonicalJson(manifest)`, base64. */
  signature: string;
}

/** One exported line: every field the hash chain covers, so the export alone re-verifies. */
export function exportRecord(e: RecordedEvent): Record<string, unknown> {
  const m = e.metadata;
  return {
    position: e.position.toString(),
    stream: m.stream,
    revision: m.revision,
    eventId: m.eventId,
    type: e.type,
    recordedAt: m.recordedAt,
    actor: m.actor,
    correlationId: m.correlationId,
    causationId: m.causationId,
    schemaVersion: m.schemaVersion,
    traceparent: m.traceparent,
    tracestate: m.tracestate,
    prevHash: m.prevHash,
    hash: m.hash,
    data: e.data,
  };
}

const CSV_COLUMNS = ['position', 'stream', 'revision', 'eventId', 'type', 'recordedAt', 'actor', 'correlationId', 'causationId', 'schemaVersion', 'prevHash', 'hash', 'data'] as const;
const csvCell = (v: unknown): string => {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'object' ? canonicalJson(v) : String(v);
  return /[",\r\n]/.test(s) || /^[=+\-@\t]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The history as JSON Lines (one canonical JSON event per line) or CSV (RFC 4180, `data` as canonical JSON). */
export function renderExport(history: CycleHistory, format: ExportFormat): string {
  const records = history.events.map(exportRecord);
  if (format === 'jsonl') return records.map((r) => `${canonicalJson(r)}\n`).join('');
  return [CSV_COLUMNS.join(','), ...records.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(','))].map((l) => `${l}\r\n`).join('');
}

/** The Ed25519 key signing exports. */
export interface ExportSigner {
  readonly keyId: string;
  /** SPKI PEM of the public key: what a third party needs to verify. */
  readonly publicKeyPem: string;
  sign(data: string): string;
}

/** Key id: first 16 hex of SHA-256 over the public key's DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** Loads the PKCS#8 PEM Ed25519 key at `path`, creating it (mode 0600) when missing. */
export function loadExportSigner(path: string): ExportSigner {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  }
  const privateKey = createPrivateKey(readFileSync(path));
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: keyIdOf(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign: (data) => sign(null, Buffer.from(data), privateKey).toString('base64'),
  };
}

/** Renders and signs a cycle's export. */
export function signExport(history: CycleHistory, format: ExportFormat, signer: ExportSigner): SignedExport {
  const content = renderExport(history, format);
  const last = history.events.at(-1);
  const manifest: ExportManifest = {
    format: 'patchbay-audit-export/1',
    cycleId: history.cycleId,
    contentType: format === 'jsonl' ? 'application/jsonl' : 'text/csv',
    events: history.events.length,
    lastPosition: last ? last.position.toString() : null,
    sha256: createHash('sha256').update(content).digest('hex'),
    keyId: signer.keyId,
  };
  return { content, manifest, signature: signer.sign(canonicalJson(manifest)) };
}
