import { useEffect, useState } from 'react';
import { graphql } from '../../gql';
import { useMutation } from '../../api/hooks';
import { Button, ErrorMessage, Field } from '../../ui/components';

// A query, run on demand: the export is signed on the gateway each time it is asked for.
const AuditExportDoc = graphql(`
  query AuditExport($cycleId: ID!, $format: ExportFormat!) {
    cycleExport(cycleId: $cycleId, format: $format) {
      content
      manifest
      signature
    }
    auditPublicKey {
      keyId
      algorithm
      pem
    }
  }
`);

type Format = 'jsonl' | 'csv';
interface Files {
  format: Format;
  content: { name: string; url: string; bytes: number };
  signature: { name: string; url: string };
  manifest: Record<string, unknown>;
  /** Whether the SHA-256 of the file as downloaded matches the signed manifest (checked in this browser). */
  digestMatches: boolean | undefined;
}

async function sha256Hex(text: string): Promise<string | undefined> {
  if (!globalThis.crypto?.subtle) return undefined;
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Signed export: the file, and beside it the manifest, signature and public key that prove it. */
export function ExportPanel({ cycleId }: { cycleId: string }) {
  const [format, setFormat] = useState<Format>('jsonl');
  const exp = useMutation(AuditExportDoc);
  const [files, setFiles] = useState<Files>();
  useEffect(
    () => () => {
      if (files) {
        URL.revokeObjectURL(files.content.url);
        URL.revokeObjectURL(files.signature.url);
      }
    },
    [files],
  );
  useEffect(() => setFiles(undefined), [cycleId]);

  const run = async () => {
    const r = await exp.run({ cycleId, format });
    if (!r) return;
    const base = `cycle-${cycleId}.${format}`;
    const blob = new Blob([r.cycleExport.content], { type: format === 'jsonl' ? 'application/jsonl' : 'text/csv' });
    const sig = new Blob([JSON.stringify({ file: base, manifest: r.cycleExport.manifest, signature: r.cycleExport.signature, publicKey: r.auditPublicKey }, null, 2)], { type: 'application/json' });
    const manifest = (r.cycleExport.manifest ?? {}) as Record<string, unknown>;
    const digest = await sha256Hex(r.cycleExport.content);
    setFiles({ format, content: { name: base, url: URL.createObjectURL(blob), bytes: blob.size }, signature: { name: `${base}.signature.json`, url: URL.createObjectURL(sig) }, manifest, digestMatches: digest === undefined ? undefined : digest === manifest['sha256'] });
  };

  return (
    <section aria-labelledby="export-title" className="card">
      <h2 id="export-title">Export</h2>
      <p className="muted">The history as a file, signed by the gateway (Ed25519 over the manifest, which holds the file's SHA-256).</p>
      <div className="filters">
        <Field label="Export format">
          {(p) => (
            <select {...p} value={format} onChange={(e) => setFormat(e.target.value as Format)}>
              <option value="jsonl">JSON Lines</option>
              <option value="csv">CSV</option>
            </select>
          )}
        </Field>
        <Button tone="primary" onClick={() => void run()} disabled={exp.running}>
          {exp.running ? 'Exporting…' : 'Export signed history'}
        </Button>
      </div>
      <ErrorMessage error={exp.error} title="The export failed" />
      <div aria-live="polite">
        {files ? (
          <>
            <p>
              {String(files.manifest['events'] ?? '?')} events, {files.content.bytes} bytes, signed with key <code>{String(files.manifest['keyId'] ?? '?')}</code>.{' '}
              {files.digestMatches === true ? 'The file’s SHA-256 matches the signed manifest.' : files.digestMatches === false ? <strong className="verdict-no">The file’s SHA-256 does not match the manifest.</strong> : 'This browser cannot compute SHA-256 here (not a secure context).'}
            </p>
            <ul className="inline-list">
              <li>
                <a href={files.content.url} download={files.content.name} className="btn btn-primary">
                  Download {files.content.name}
                </a>
              </li>
              <li>
                <a href={files.signature.url} download={files.signature.name} className="btn btn-default">
                  Download manifest and signature
                </a>
              </li>
            </ul>
          </>
        ) : null}
      </div>
    </section>
  );
}
