import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ValidationError, type RecordedEvent } from '@patchbay/contracts';
import { WrongExpectedVersionError, type EventStore } from '@patchbay/event-store';
import { NotFoundError, UnauthenticatedError } from '../errors.js';
import { ROLES, type Principal, type Role } from './roles.js';

/** `pbt_<id: 12 hex>_<secret: 32 random bytes, base64url>`; only SHA-256 of the secret is stored. */
const TOKEN_PATTERN = /^pbt_([a-f0-9]{12})_([A-Za-z0-9_-]{32,200})$/;

/** Stream of one token: `api-token-<id>` (category `api`). */
export const apiTokenStream = (id: string): string => `api-token-${id}`;
const TOKEN_CATEGORY = 'api';

/** Event types of the token streams. */
export const API_TOKEN_EVENTS = { issued: 'ApiTokenIssued', secretReplaced: 'ApiTokenSecretReplaced', revoked: 'ApiTokenRevoked' } as const;

export interface ApiTokenInfo {
  id: string;
  name: string;
  roles: Role[];
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

interface CachedToken extends ApiTokenInfo {
  secretSha256: string;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * API tokens: random, shown once at creation, kept as events in the event store
 * (`api-token-<id>`: `ApiTokenIssued` with SHA-256 of the secret — 256 random bits need no slow
 * hash —, `ApiTokenSecretReplaced`, `ApiTokenRevoked`), so every gateway replica on the same
 * store agrees and the issuing and revoking of tokens is itself in the audited history. Each
 * replica keeps a cache folded from those events, refreshed at most `refreshMs` old (and at once
 * for an id it does not know), so a revocation reaches every replica within `refreshMs`.
 */
export class ApiTokenRegistry {
  private readonly tokens = new Map<string, CachedToken>();
  private after: bigint | undefined;
  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly store: EventStore, private readonly refreshMs = 1000) {}

  /** Reads token events appended since the last refresh (by any replica). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        for (;;) {
          const page = await this.store.readAll({ after: this.after, categories: [TOKEN_CATEGORY], maxCount: 1000 });
          for (const e of page) this.apply(e);
          if (page.length > 0) this.after = page.at(-1)!.position;
          if (page.length < 1000) break;
        }
        this.refreshedAt = Date.now();
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private apply(e: RecordedEvent): void {
    if (!e.metadata.stream.startsWith('api-token-')) return;
    const d = (e.data ?? {}) as Record<string, unknown>;
    const id = e.metadata.stream.slice('api-token-'.length);
    if (e.type === API_TOKEN_EVENTS.issued) {
      this.tokens.set(id, { id, name: String(d['name']), roles: (d['roles'] as Role[]) ?? [], secretSha256: String(d['secretSha256']), createdAt: e.metadata.recordedAt, createdBy: e.metadata.actor, revokedAt: null });
    } else if (e.type === API_TOKEN_EVENTS.secretReplaced) {
      const t = this.tokens.get(id);
      if (t) Object.assign(t, { secretSha256: String(d['secretSha256']), revokedAt: null });
    } else if (e.type === API_TOKEN_EVENTS.revoked) {
      const t = this.tokens.get(id);
      if (t && !t.revokedAt) t.revokedAt = e.metadata.recordedAt;
    }
  }

  private async fresh(): Promise<void> {
    if (Date.now() - this.refreshedAt >= this.refreshMs) await this.refresh();
  }

  /** Creates a token; the returned `token` string is the only time the secret exists in clear. */
  async create(name: string, roles: readonly string[], createdBy: string): Promise<{ token: string; info: ApiTokenInfo }> {
    if (!/^[\w .@:-]{1,100}$/.test(name)) throw new ValidationError('token name: 1-100 letters, digits, spaces, _ . @ : -', { name });
    const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (roles.length === 0 || bad.length > 0) throw new ValidationError(`roles must be a non-empty subset of ${ROLES.join(', ')}`, { bad });
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    await this.issue(id, name, [...new Set(roles)] as Role[], secret, createdBy);
    return { token: `pbt_${id}_${secret}`, info: (await this.get(id))! };
  }

  private async issue(id: string, name: string, roles: Role[], secret: string, createdBy: string): Promise<void> {
    await this.store.append(apiTokenStream(id), [{ eventId: `${apiTokenStream(id)}:issued`, type: API_TOKEN_EVENTS.issued, data: { tokenId: id, name, roles, secretSha256: sha256(secret) }, actor: createdBy }], 'no-stream');
    await this.refresh();
  }

  /**
   * First start: with `fixedToken` (PATCHBAY_ADMIN_TOKEN) that token is made an admin token (its
   * secret replaced if the id exists with another one); otherwise, when the store holds no token
   * yet, a new admin token is created and returned (to be printed once). Returns undefined when
   * nothing new was created.
   */
  async bootstrap(fixedToken: string | undefined): Promise<string | undefined> {
    await this.refresh();
    if (fixedToken) {
      const m = TOKEN_PATTERN.exec(fixedToken);
      if (!m) throw new ValidationError('PATCHBAY_ADMIN_TOKEN is not a Patchbay token');
      const [, id, secret] = m as unknown as [string, string, string];
      const existing = this.tokens.get(id);
      if (!existing) {
        try {
          await this.issue(id, 'bootstrap-admin', ['admin'], secret, 'PATCHBAY_ADMIN_TOKEN');
        } catch (err) {
          if (!(err instanceof WrongExpectedVersionError)) throw err; // another replica just did it
        }
      } else if (existing.secretSha256 !== sha256(secret) || existing.revokedAt) {
        await this.store.append(apiTokenStream(id), [{ eventId: `${apiTokenStream(id)}:replaced:${sha256(secret).slice(0, 16)}:${Date.now()}`, type: API_TOKEN_EVENTS.secretReplaced, data: { tokenId: id, secretSha256: sha256(secret) }, actor: 'PATCHBAY_ADMIN_TOKEN' }], 'stream-exists');
        await this.refresh();
      }
      return undefined;
    }
    if (this.tokens.size > 0) return undefined;
    return (await this.create('bootstrap-admin', ['admin'], 'bootstrap')).token;
  }

  /** The principal of a presented token; `UNAUTHENTICATED` for malformed, unknown or revoked tokens. */
  async authenticate(token: string): Promise<Principal> {
    const m = TOKEN_PATTERN.exec(token);
    if (!m) throw new UnauthenticatedError('malformed API token');
    await this.fresh();
    if (!this.tokens.has(m[1]!)) await this.refresh(); // created on another replica a moment ago
    const t = this.tokens.get(m[1]!);
    // Compare even for unknown ids, so timing does not tell which ids exist.
    const ok = timingSafeEqual(Buffer.from(sha256(m[2]!), 'hex'), Buffer.from(t?.secretSha256 ?? '0'.repeat(64), 'hex'));
    if (!ok || !t) throw new UnauthenticatedError('unknown API token');
    if (t.revokedAt) throw new UnauthenticatedError('API token revoked');
    return { tokenId: t.id, name: t.name, roles: t.roles, actor: `token:${t.id}:${t.name}` };
  }

  async get(id: string): Promise<ApiTokenInfo | undefined> {
    await this.fresh();
    const t = this.tokens.get(id);
    if (!t) return undefined;
    const { secretSha256: _h, ...info } = t;
    return { ...info, roles: [...info.roles] };
  }

  async list(): Promise<ApiTokenInfo[]> {
    await this.refresh();
    return [...this.tokens.values()].map(({ secretSha256: _h, ...info }) => ({ ...info, roles: [...info.roles] })).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Revokes a token (idempotent); `NOT_FOUND` for an unknown id. */
  async revoke(id: string, by: string): Promise<ApiTokenInfo> {
    await this.refresh();
    const t = this.tokens.get(id);
    if (!t) throw new NotFoundError('API token', id);
    if (!t.revokedAt) {
      await this.store.append(apiTokenStream(id), [{ eventId: `${apiTokenStream(id)}:revoked`, type: API_TOKEN_EVENTS.revoked, data: { tokenId: id }, actor: by }], 'stream-exists');
      await this.refresh();
    }
    return (await this.get(id))!;
  }
}

/** The bearer token of an `Authorization` header value (or a connection-params value). */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return m ? m[1] : header.trim() || undefined;
}
