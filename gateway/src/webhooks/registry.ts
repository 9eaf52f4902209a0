import { randomBytes, randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { EVENT_TYPE_PATTERN, ValidationError } from '@patchbay/contracts';
import { NotFoundError } from '../errors.js';

export interface WebhookSubscription {
  id: string;
  url: string;
  eventTypes: string[];
  groups: string[];
  tiers: string[];
  createdAt: string;
  createdBy: string;
  deletedAt: string | null;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface WebhookDelivery {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
  log: Array<{ attempt: number; at: string; status: number | null; error: string | null; durationMs: number }>;
}

interface SubRow {
  id: string;
  url: string;
  secret: string;
  event_types: string;
  groups: string;
  tiers: string;
  created_at: string;
  created_by: string;
  deleted_at: string | null;
}

const toSub = (r: SubRow): WebhookSubscription & { secret: string } => ({
  id: r.id,
  url: r.url,
  secret: r.secret,
  eventTypes: JSON.parse(r.event_types) as string[],
  groups: JSON.parse(r.groups) as string[],
  tiers: JSON.parse(r.tiers) as string[],
  createdAt: r.created_at,
  createdBy: r.created_by,
  deletedAt: r.deleted_at,
});

/** Webhook subscriptions and their delivery log, in the gateway database. */
export class WebhookRegistry {
  constructor(private readonly db: DatabaseSync) {}

  /** Registers a receiver; the secret (given or generated) is returned once, for the receiver's configuration. */
  create(input: { url: string; eventTypes?: readonly string[] | null; groups?: readonly string[] | null; tiers?: readonly string[] | null; secret?: string | null }, createdBy: string): { subscription: WebhookSubscription; secret: string } {
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new ValidationError('webhook url must be an absolute http(s) URL', { url: input.url });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ValidationError('webhook url must be an absolute http(s) URL', { url: input.url });
    const types = [...(input.eventTypes ?? [])];
    const bad = types.filter((t) => !EVENT_TYPE_PATTERN.test(t));
    if (bad.length) throw new ValidationError('event types must be event type names', { bad });
    const ids = [...(input.groups ?? []), ...(input.tiers ?? [])];
    if (ids.some((g) => !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/.test(g))) throw new ValidationError('groups and tiers must be ids (letters, digits, _ . : -)');
    const secret = input.secret ?? randomBytes(32).toString('base64url');
    if (secret.length < 16 || secret.length > 256) throw new ValidationError('webhook secret: 16 to 256 characters');
    const id = randomUUID();
    this.db
      .prepare('INSERT INTO webhook_subscriptions (id, url, secret, event_types, groups, tiers, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, url.toString(), secret, JSON.stringify(types), JSON.stringify(input.groups ?? []), JSON.stringify(input.tiers ?? []), new Date().toISOString(), createdBy);
    const { secret: _s, ...subscription } = this.getWithSecret(id)!;
    this.activeCache = undefined;
    return { subscription, secret };
  }

  getWithSecret(id: string): (WebhookSubscription & { secret: string }) | undefined {
    const r = this.db.prepare('SELECT * FROM webhook_subscriptions WHERE id = ?').get(id) as SubRow | undefined;
    return r ? toSub(r) : undefined;
  }

  private activeCache: { at: number; subs: Array<WebhookSubscription & { secret: string }> } | undefined;

  /**
   * Active subscriptions (with secrets: for the dispatcher only). Asked for every event, so kept
   * for up to a second (another process writing the same database is seen within that); this
   * registry's own creates and deletes are seen at once.
   */
  active(): Array<WebhookSubscription & { secret: string }> {
    const now = Date.now();
    if (this.activeCache && now - this.activeCache.at < 1000) return this.activeCache.subs;
    const subs = (this.db.prepare('SELECT * FROM webhook_subscriptions WHERE deleted_at IS NULL ORDER BY created_at').all() as unknown as SubRow[]).map(toSub);
    this.activeCache = { at: now, subs };
    return subs;
  }

  list(): WebhookSubscription[] {
    return (this.db.prepare('SELECT * FROM webhook_subscriptions ORDER BY created_at').all() as unknown as SubRow[]).map(toSub).map(({ secret: _s, ...rest }) => rest);
  }

  /** Deletes (soft: the delivery log stays); pending deliveries are dropped. `NOT_FOUND` for an unknown id. */
  delete(id: string): WebhookSubscription {
    const r = this.db.prepare('UPDATE webhook_subscriptions SET deleted_at = COALESCE(deleted_at, ?) WHERE id = ?').run(new Date().toISOString(), id);
    if (Number(r.changes) === 0) throw new NotFoundError('webhook subscription', id);
    this.activeCache = undefined;
    this.db.prepare("UPDATE webhook_deliveries SET status = 'dead', last_error = COALESCE(last_error, 'subscription deleted'), finished_at = ? WHERE subscription_id = ? AND status = 'pending'").run(new Date().toISOString(), id);
    const { secret: _s, ...rest } = this.getWithSecret(id)!;
    return rest;
  }

  /** Queues one delivery; a second enqueue of the same event for the same subscription is ignored. */
  enqueue(subscriptionId: string, eventId: string, eventType: string, body: string): void {
    this.db
      .prepare("INSERT OR IGNORE INTO webhook_deliveries (id, subscription_id, event_id, event_type, body, status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)")
      .run(randomUUID(), subscriptionId, eventId, eventType, body, Date.now(), new Date().toISOString());
  }

  /** Claims up to `limit` due deliveries for `leaseMs` (so two gateways sharing the database never send one twice at once). */
  claimDue(limit: number, leaseMs: number): Array<{ id: string; subscriptionId: string; eventId: string; body: string; attempts: number }> {
    const now = Date.now();
    const rows = this.db
      .prepare("SELECT id, subscription_id, event_id, body, attempts FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at LIMIT ?")
      .all(now, now, limit) as Array<{ id: string; subscription_id: string; event_id: string; body: string; attempts: number }>;
    const claimed = [];
    for (const r of rows) {
      const u = this.db.prepare("UPDATE webhook_deliveries SET lease_until = ? WHERE id = ? AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?)").run(now + leaseMs, r.id, now);
      if (Number(u.changes) === 1) claimed.push({ id: r.id, subscriptionId: r.subscription_id, eventId: r.event_id, body: r.body, attempts: r.attempts });
    }
    return claimed;
  }

  /** Records one attempt and the delivery's next state. */
  recordAttempt(id: string, attempt: number, result: { status: number | null; error: string | null; durationMs: number }, next: { status: DeliveryStatus; nextAttemptAt?: number }): void {
    const at = new Date().toISOString();
    this.db.prepare('INSERT OR REPLACE INTO webhook_attempts (delivery_id, attempt, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)').run(id, attempt, at, result.status, result.error, Math.round(result.durationMs));
    this.db
      .prepare('UPDATE webhook_deliveries SET attempts = ?, status = ?, next_attempt_at = ?, lease_until = NULL, last_status = ?, last_error = ?, finished_at = ? WHERE id = ?')
      .run(attempt, next.status, next.nextAttemptAt ?? 0, result.status, result.error, next.status === 'pending' ? null : at, id);
  }

  /** The delivery log of one subscription, newest first. */
  deliveries(subscriptionId: string, status?: DeliveryStatus | null, limit = 100): WebhookDelivery[] {
    const rows = this.db
      .prepare(`SELECT * FROM webhook_deliveries WHERE subscription_id = ? ${status ? 'AND status = ?' : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`)
      .all(...(status ? [subscriptionId, status, limit] : [subscriptionId, limit])) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r['id'] as string,
      subscriptionId: r['subscription_id'] as string,
      eventId: r['event_id'] as string,
      eventType: r['event_type'] as string,
      status: r['status'] as DeliveryStatus,
      attempts: Number(r['attempts']),
      nextAttemptAt: r['status'] === 'pending' ? new Date(Number(r['next_attempt_at'])).toISOString() : null,
      lastStatus: r['last_status'] === null ? null : Number(r['last_status']),
      lastError: (r['last_error'] as string | null) ?? null,
      createdAt: r['created_at'] as string,
      finishedAt: (r['finished_at'] as string | null) ?? null,
      log: (this.db.prepare('SELECT attempt, at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt').all(r['id'] as string) as Array<Record<string, unknown>>).map((a) => ({
        attempt: Number(a['attempt']),
        at: a['at'] as string,
        status: a['status'] === null ? null : Number(a['status']),
        error: (a['error'] as string | null) ?? null,
        durationMs: Number(a['duration_ms']),
      })),
    }));
  }
}
