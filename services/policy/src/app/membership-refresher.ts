import { createHash } from 'node:crypto';
import { decideGroup, type EndpointLookup, type GroupState } from '../domain/group-decider.js';
import type { CommandMeta, DefinitionRepository } from './definition-repository.js';

export interface MembershipRefresherOptions {
  /** How long changed endpoints gather before one recomputation covers them all (ms). Default 20. */
  gatherMs?: number;
  /** Recompute at once when this many endpoints are waiting. Default 1000. */
  maxBatch?: number;
  /** Retry delays after a failed recomputation (ms), the last one repeating. */
  backoffMs?: readonly number[];
  log?: (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown>) => void;
}

/**
 * Recomputes group membership for endpoints whose facts changed, in batches: the endpoint events
 * of an inventory import arrive one by one, and one append per group per batch instead of per
 * event is what keeps 10,000 registrations to seconds rather than a minute (each append is an
 * fsync). Facts are recorded (with the ledger) before their endpoint is handed here; if the
 * process stops before the batch is recomputed, `reconcile()` at the next start catches up.
 */
export class MembershipRefresher {
  private pending = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;
  private readonly idle = new Set<() => void>();
  readonly stats = { batches: 0, appends: 0, failures: 0 };

  constructor(
    private readonly repository: DefinitionRepository,
    private readonly endpoints: EndpointLookup,
    private readonly activeGroups: () => Array<[string, GroupState]>,
    private readonly options: MembershipRefresherOptions = {},
  ) {}

  /** An endpoint's facts changed through event `eventId`: recompute it soon. */
  mark(endpointId: string, eventId: string): void {
    this.pending.set(endpointId, eventId);
    this.schedule(this.pending.size >= (this.options.maxBatch ?? 1000) ? 0 : (this.options.gatherMs ?? 20));
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.running) return;
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.flush().finally(() => {
        this.running = undefined;
        if (this.pending.size > 0) this.schedule(this.failures ? this.backoff() : 0);
        else for (const resolve of this.idle) resolve();
      });
    }, delayMs);
  }

  private backoff(): number {
    const b = this.options.backoffMs ?? [100, 500, 2000, 5000];
    return b[Math.min(this.failures - 1, b.length - 1)]!;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size === 0) return;
    // Derived from the causing events, so a retried batch decides with the same ids.
    const commandId = `membership-${createHash('sha256').update([...batch.entries()].sort().join(';')).digest('hex').slice(0, 32)}`;
    const meta: CommandMeta = { commandId, actor: 'policy' };
    try {
      await this.repository.refresh('group');
      for (const [groupId] of this.activeGroups()) {
        const r = await this.repository.execute('group', groupId, (s) => decideGroup({ type: 'RecomputeMembership', causes: batch, endpoints: this.endpoints }, s), meta);
        this.stats.appends += r.appended;
      }
      this.stats.batches++;
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.stats.failures++;
      // Keep the newer cause where an endpoint changed again meanwhile.
      for (const [id, ev] of batch) if (!this.pending.has(id)) this.pending.set(id, ev);
      this.options.log?.('error', 'membership recomputation failed; retrying', { error: (err as Error).message, endpoints: batch.size, attempt: this.failures });
    }
  }

  /** Resolves once nothing is waiting or being recomputed (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size > 0 || this.running || this.timer) {
      await new Promise<void>((resolve) => {
        this.idle.add(resolve);
        setTimeout(resolve, 50);
      });
      this.idle.clear();
      if (this.stopped) return;
    }
  }

  /**
   * Full recomputation of every active group over every known endpoint: at start, so facts that
   * were recorded just before a stop (their batch never ran) still move membership.
   */
  async reconcile(meta: CommandMeta): Promise<number> {
    let appended = 0;
    await this.repository.refresh('group');
    for (const [groupId] of this.activeGroups()) {
      const r = await this.repository.execute('group', groupId, (s) => decideGroup({ type: 'ReconcileMembership', endpoints: this.endpoints }, s), meta);
      appended += r.appended;
    }
    return appended;
  }

  /** Stops scheduling; waits for a recomputation in progress. Pending endpoints are left to `reconcile()`. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
