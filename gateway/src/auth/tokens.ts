import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { ValidationError } from '@patchbay/contracts';
import { NotFoundError, UnauthenticatedError } from '../errors.js';
import { ROLES, type Principal, type Role } from './roles.js';

/** `pbt_<id: 12 hex>_<secret: 32 random bytes, base64url>`; only SHA-256 of the secret is stored. */
const TOKEN_PATTERN = /^pbt_([a-f0-9]{12})_([A-Za-z0-9_-]{32,200})$/;

export interface ApiTokenInfo {
  id: string;
  name: string;
  roles: Role[];
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

interface Row {
  id: string;
  name: string;
  roles: string;
  secret_hash: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
}

const toInfo = (r: Row): ApiTokenInfo => ({ id: r.id, name: r.name, roles: JSON.parse(r.roles) as Role[], createdAt: r.created_at, createdBy: r.created_by, revokedAt: r.revoked_at });

/**
 * API tokens: random, shown once at creation, stored as SHA-256 of the secret part (the secret
 * has 256 bits of entropy, so a slow hash adds nothing) in the gateway database.
 */
export class ApiTokenRegistry {
  constructor(private readonly db: DatabaseSync) {}

  /** Creates a token; the returned `token` string is the only time the secret exists in clear. */
  create(name: string, roles: readonly string[], createdBy: string): { token: string; info: ApiTokenInfo } {
    if (!/^[\w .@:-]{1,100}$/.test(name)) throw new ValidationError('token name: 1-100 letters, digits, spaces, _ . @ : -', { name });
    const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (roles.length === 0 || bad.length > 0) throw new ValidationError(`roles must be a non-empty subset of ${ROLES.join(', ')}`, { bad });
    const id = randomBytes(6).toString('hex');
    return { token: this.insert(id, name, [...new Set(roles)] as Role[], randomBytes(32).toString('base64url'), createdBy), info: this.get(id)! };
  }

  private insert(id: string, name: string, roles: Role[], secret: string, createdBy: string): string {
    this.db
      .prepare('INSERT INTO api_tokens (id, name, roles, secret_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, name, JSON.stringify(roles), sha256(secret), new Date().toISOString(), createdBy);
    return `pbt_${id}_${secret}`;
  }

  /**
   * First start: with `fixedToken` (PATCHBAY_ADMIN_TOKEN) that token is registered as admin;
   * otherwise, when no token exists yet, a new admin token is created and returned (to be printed
   * once). Returns undefined when nothing new was created.
   */
  bootstrap(fixedToken: string | undefined): string | undefined {
    if (fixedToken) {
      const m = TOKEN_PATTERN.exec(fixedToken);
      if (!m) throw new ValidationError('PATCHBAY_ADMIN_TOKEN is not a Patchbay token');
      const existing = this.get(m[1]!);
      if (!existing) this.insert(m[1]!, 'bootstrap-admin', ['admin'], m[2]!, 'PATCHBAY_ADMIN_TOKEN');
      else this.db.prepare('UPDATE api_tokens SET secret_hash = ?, revoked_at = NULL WHERE id = ?').run(sha256(m[2]!), m[1]!);
      return undefined;
    }
    const count = (this.db.prepare('SELECT COUNT(*) AS n FROM api_tokens').get() as { n: number }).n;
    if (count > 0) return undefined;
    return this.create('bootstrap-admin', ['admin'], 'bootstrap').token;
  }

  /** The principal of a presented token; `UNAUTHENTICATED` for malformed, unknown or revoked tokens. */
  authenticate(token: string): Principal {
    const m = TOKEN_PATTERN.exec(token);
    if (!m) throw new UnauthenticatedError('malformed API token');
    const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(m[1]!) as Row | undefined;
    const presented = Buffer.from(sha256(m[2]!), 'hex');
    // Compare even for unknown ids, so timing does not tell which ids exist.
    const stored = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
    if (!timingSafeEqual(presented, stored) || !row) throw new UnauthenticatedError('unknown API token');
    if (row.revoked_at) throw new UnauthenticatedError('API token revoked');
    const info = toInfo(row);
    return { tokenId: info.id, name: info.name, roles: info.roles, actor: `token:${info.id}:${info.name}` };
  }

  get(id: string): ApiTokenInfo | undefined {
    const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Row | undefined;
    return row ? toInfo(row) : undefined;
  }

  list(): ApiTokenInfo[] {
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at, id').all() as unknown as Row[]).map(toInfo);
  }

  /** Revokes a token (idempotent); `NOT_FOUND` for an unknown id. */
  revoke(id: string): ApiTokenInfo {
    const r = this.db.prepare('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?').run(new Date().toISOString(), id);
    if (Number(r.changes) === 0) throw new NotFoundError('API token', id);
    return this.get(id)!;
  }
}

/** The bearer token of an `Authorization` header value (or a connection-params value). */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return m ? m[1] : header.trim() || undefined;
}
