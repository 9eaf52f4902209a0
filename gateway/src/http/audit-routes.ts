import type { IncomingMessage, ServerResponse } from 'node:http';
import { PatchbayError } from '@patchbay/contracts';
import { authorize, type Principal } from '../auth/roles.js';
import type { GatewayServices } from '../context.js';
import { readCycleHistory } from '../audit/history.js';
import { signExport } from '../audit/export.js';

/** Response headers of a download: the manifest (base64 of its JSON) and its signature. */
export const EXPORT_HEADERS = { manifest: 'patchbay-export-manifest', signature: 'patchbay-export-signature', keyId: 'patchbay-export-key-id' } as const;

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, VALIDATION_FAILED: 400 };

/**
 * Plain-HTTP audit downloads (same token, same roles as `cycleExport`):
 * `GET /audit/cycles/<id>/export.jsonl|.csv` and `GET /audit/public-key` (open: it is public).
 */
export async function handleAuditHttp(req: IncomingMessage, res: ServerResponse, path: string, principal: Principal | undefined, s: GatewayServices): Promise<void> {
  const send = (status: number, body: string, headers: Record<string, string>) => {
    res.writeHead(status, headers);
    res.end(body);
  };
  const fail = (err: unknown) => {
    const code = err instanceof PatchbayError ? err.code : 'INTERNAL';
    const message = err instanceof PatchbayError ? err.message : 'Unexpected error.';
    send(STATUS[code] ?? 500, JSON.stringify({ error: { code, message } }), { 'content-type': 'application/json; charset=utf-8' });
  };
  if (req.method !== 'GET') return send(405, JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: 'GET only' } }), { 'content-type': 'application/json', allow: 'GET' });
  if (path === '/audit/public-key') return send(200, s.signer.publicKeyPem, { 'content-type': 'application/x-pem-file', [EXPORT_HEADERS.keyId]: s.signer.keyId });
  const m = /^\/audit\/cycles\/([^/]+)\/export\.(jsonl|csv)$/.exec(path);
  if (!m) return fail(new PatchbayError('NOT_FOUND', `no audit route ${path}`));
  try {
    authorize('Query.cycleExport', principal);
    const format = m[2] as 'jsonl' | 'csv';
    const cycleId = decodeURIComponent(m[1]!);
    const signed = signExport(await readCycleHistory(s.store, cycleId), format, s.signer);
    send(200, signed.content, {
      'content-type': format === 'jsonl' ? 'application/jsonl; charset=utf-8' : 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="cycle-${cycleId}.${format}"`,
      [EXPORT_HEADERS.manifest]: Buffer.from(JSON.stringify(signed.manifest)).toString('base64'),
      [EXPORT_HEADERS.signature]: signed.signature,
      [EXPORT_HEADERS.keyId]: signed.manifest.keyId,
    });
  } catch (err) {
    fail(err);
  }
}
