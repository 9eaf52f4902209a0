import {
  PatchbayError,
  CycleAborted,
  EndpointReleased,
  RunStarted,
  toRunStreamName,
  type RecordedEvent,
} from '@patchbay/contracts';
import { WrongExpectedVersionError, type EventStore } from '@patchbay/event-store';
import type { EventConsumer, NatsBus } from '@patchbay/messaging';
import type { RemoteExecutor } from '@patchbay/remote';
import { CYCLE_ABORT_REASON } from './activities/steps.js';
import { EndpointRun, runEventId, type CrashFault, type ExecutorLog } from './endpoint-run.js';

/** Durable consumer of released endpoints, shared by every executor replica (each message goes to one). */
export const RELEASED_DURABLE = 'executor-endpoint-released';
/** Subject filter of `EndpointReleased`, whatever stream category the planner appends it to. */
export const RELEASED_SUBJECT = 'patchbay.evt.*.EndpointReleased';

/** What an {@link Executor} is built from (the module fills it from the settings). */
export interface ExecutorOptions {
  store: EventStore;
  bus: NatsBus;
  remote: RemoteExecutor;
  /** Stable across restarts: a restarted executor resumes the runs recorded under its id. */
  executorId: string;
  /** Endpoint runs driven at once by this executor. */
  concurrency: number;
  /** How often unfinished runs of this executor are looked for (ms). */
  resumeIntervalMs: number;
  /** How often the cycle streams are read for aborts (ms). */
  abortPollMs: number;
  /** Pause between boot-id polls while an endpoint reboots (ms). */
  rebootPollMs: number;
  /** Mark reboots in the endpoint's /run (needs a POSIX shell there). */
  rebootMarker: boolean;
  /**
   * Take over another executor's unfinished run after its log has been silent this long (ms); 0
   * never does. Must exceed the longest step timeout: a live owner in a long step would otherwise
   * lose the run mid-step (it stops at its next append; the step is then resumed by the rules).
   */
  takeoverAfterMs?: number;
  /** How long a release waits here for a free slot before it is handed back to the bus (ms). Default 1000. */
  claimWaitMs?: number;
  /** How long the bus waits for a claim before redelivering a release to another replica (ms). */
  ackWaitMs?: number;
  log: ExecutorLog;
  crashFault?: CrashFault | undefined;
}

/** The executor's run slots: a counting semaphore with at most `n` holders, granted in arrival order. */
export class RunSlots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly n: number) {}
  /** Slots held now. */
  get inUse(): number {
    return this.used;
  }
  /** Waits for a slot; resolves with its release function (calling it twice is harmless). */
  async acquire(): Promise<() => void> {
    if (this.used >= this.n) await new Promise<void>((r) => this.waiters.push(r));
    else this.used++;
    return this.releaser();
  }
  /** A slot within `ms`, or undefined when none freed up in time. */
  acquireWithin(ms: number): Promise<(() => void) | undefined> {
    const now = this.tryAcquire();
    if (now || ms <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const grant = (): void => {
        clearTimeout(timer);
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        // Timed out: leave the queue so a later release does not hand this caller a slot.
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      }, ms);
      this.waiters.push(grant);
    });
  }
  /** A slot now, or undefined when all are taken (nobody is queued ahead). */
  tryAcquire(): (() => void) | undefined {
    if (this.used >= this.n || this.waiters.length > 0) return undefined;
    this.used++;
    return this.releaser();
  }
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.used--;
    };
  }
}

/** Figures for health replies and tests. */
export interface ExecutorStats {
  /** Runs this executor claimed (RunStarted appended). */
  claimed: number;
  /** Releases dropped because their run already exists (claimed by another replica, or running here). */
  lostClaims: number;
  resumed: number;
  finished: number;
  active: number;
  /** Releases refused because they did not validate (`VALIDATION_FAILED`, logged). */
  invalidReleases: number;
  /** Releases handed back to the bus because every slot was taken. */
  handedBack: number;
}

/** Every slot of this executor is taken; the release goes back to the bus for a replica with room. */
export class ExecutorAtCapacityError extends PatchbayError {
  constructor(executorId: string, concurrency: number) {
    super('EXECUTOR_AT_CAPACITY', `executor ${executorId} runs ${concurrency} endpoints already; the release is handed back`, { executorId, concurrency });
  }
}

/**
 * The executor: claims released endpoints (one `RunStarted` per run stream, appended with
 * expected revision `no-stream`, so two replicas never both run one endpoint), drives up to
 * `concurrency` runs at once, resumes its unfinished runs from the log at start and periodically,
 * and cancels the runs of aborted cycles.
 */
export class Executor {
  private readonly active = new Map<string, { run: EndpointRun; done: Promise<void> }>();
  private readonly abortedCycles = new Map<string, string>();
  private readonly slots: RunSlots;
  private consumer?: EventConsumer;
  private timers: NodeJS.Timeout[] = [];
  private cyclePosition: bigint | undefined;
  private runPosition: bigint | undefined;
  /** Owner and time of the last event of every unfinished run seen in the `run` category. */
  private readonly owners = new Map<string, { owner: string; lastAt: number }>();
  private scan?: Promise<void>;
  private stopping = false;
  private scanning: Promise<void> = Promise.resolve();
  readonly stats: ExecutorStats = { claimed: 0, lostClaims: 0, resumed: 0, finished: 0, active: 0, invalidReleases: 0, handedBack: 0 };

  constructor(private readonly opts: ExecutorOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.slots = new RunSlots(opts.concurrency);
  }

  /** Reads aborts and unfinished runs, resumes them, then starts consuming releases. */
  async start(): Promise<void> {
    await this.pollAborts();
    await this.scanRuns();
    this.consumer = await this.opts.bus.consume(RELEASED_DURABLE, RELEASED_SUBJECT, (event) => this.onReleased(event), {
      maxAckPending: Math.max(2, this.opts.concurrency),
      // Claims side by side: each waits for its RunStarted to be committed, and one after the other
      // the claims (not the slots) capped the runs in flight — at 10,000 endpoints ~460 of 1,000,
      // with hundreds of releases waiting. A duplicate claim is still refused: the run stream's
      // expected revision, and `launch` never drives one stream twice.
      concurrency: Math.min(64, Math.max(1, this.opts.concurrency)),
      ackWaitMs: this.opts.ackWaitMs ?? 60_000,
      // A busy replica hands releases back (nak) rather than holding them; they come back until
      // some replica has room, which in a long cycle can take many rounds.
      maxDeliver: 100_000,
      backoff: [100, 250, 500, 1000],
    });
    const every = (ms: number, f: () => Promise<void>) => {
      const t = setInterval(() => {
        if (!this.stopping) f().catch((e) => this.opts.log('warn', { error: (e as Error).message }, 'periodic executor task failed'));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.abortPollMs, () => this.pollAborts());
    every(this.opts.resumeIntervalMs, () => this.scanRuns());
  }

  /** Stops taking work; runs in flight stop without recording anything and are resumed at the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    // Runs first: a release handler waiting for a slot gets one only when a run ends.
    for (const { run } of this.active.values()) run.abort({ kind: 'shutdown' });
    await this.consumer?.stop();
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
    await this.scanning.catch(() => undefined);
  }

  /** Resolves once no run is active (for tests). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }

  get activeRuns(): number {
    return this.active.size;
  }

  private cycleAborted = (cycleId: string): { reason: string } | undefined => {
    const reason = this.abortedCycles.get(cycleId);
    return reason === undefined ? undefined : { reason };
  };

  private deps() {
    return {
      store: this.opts.store,
      remote: this.opts.remote,
      executorId: this.opts.executorId,
      log: this.opts.log,
      cycleAborted: this.cycleAborted,
      rebootPollMs: this.opts.rebootPollMs,
      rebootMarker: this.opts.rebootMarker,
      crashFault: this.opts.crashFault,
    };
  }

  private async readCategory(category: string, after: bigint | undefined, each: (e: RecordedEvent) => void): Promise<bigint | undefined> {
    let pos = after;
    for (;;) {
      const page = await this.opts.store.readAll({ categories: [category], maxCount: 2000, ...(pos !== undefined ? { after: pos } : {}) });
      for (const e of page) {
        each(e);
        pos = e.position;
      }
      if (page.length < 2000) return pos;
    }
  }

  /** Reads new CycleAborted events (the store is the truth) and aborts the matching runs in flight. */
  async pollAborts(): Promise<void> {
    this.cyclePosition = await this.readCategory('cycle', this.cyclePosition, (e) => {
      if (e.type !== CycleAborted.type) return;
      const d = e.data as { cycleId: string; reason: string; by: string };
      if (this.abortedCycles.has(d.cycleId)) return;
      this.abortedCycles.set(d.cycleId, `aborted by ${d.by}: ${d.reason}`);
      for (const { run } of this.active.values()) {
        if (run.cycleId === d.cycleId) run.abort({ kind: CYCLE_ABORT_REASON, reason: d.reason });
      }
    });
  }

  /** Finds unfinished runs owned by this executor (a small projection over the `run` category) and resumes them. */
  async scanRuns(): Promise<void> {
    // One scan at a time: a scan waiting for free slots must not be overtaken by the next tick.
    this.scan ??= this.scanOnce().finally(() => (this.scan = undefined));
    this.scanning = this.scan.catch(() => undefined);
    await this.scan;
  }

  private async scanOnce(): Promise<void> {
    this.runPosition = await this.readCategory('run', this.runPosition, (e) => {
      const stream = e.metadata.stream;
      const lastAt = Date.parse(e.metadata.recordedAt);
      if (e.type === 'RunStarted' || e.type === 'RunResumed') this.owners.set(stream, { owner: (e.data as { executorId: string }).executorId, lastAt });
      else if (e.type === 'RunSucceeded' || e.type === 'RunFailed' || e.type === 'RunCancelled') this.owners.delete(stream);
      else {
        const o = this.owners.get(stream);
        if (o) o.lastAt = lastAt;
      }
    });
    const takeover = this.opts.takeoverAfterMs ?? 0;
    for (const [stream, { owner, lastAt }] of this.owners) {
      if (this.active.has(stream) || this.stopping) continue;
      const mine = owner === this.opts.executorId;
      // Another executor's run is taken over only after it has been silent that long (its owner is presumed gone).
      if (!mine && !(takeover > 0 && Date.now() - lastAt > takeover)) continue;
      if (!mine) this.opts.log('warn', { stream, owner, silentMs: Date.now() - lastAt }, 'taking over a run whose executor has been silent');
      await this.resume(stream);
    }
  }

  private async resume(stream: string): Promise<void> {
    const release = await this.slots.acquire();
    let launched = false;
    try {
      if (this.active.has(stream) || this.stopping) return;
      const events = await this.opts.store.readStream(stream, { ifMissing: 'empty' });
      const run = new EndpointRun(this.deps(), stream, events);
      if (run.status !== 'running') return;
      this.opts.log('info', { stream }, 'resuming an unfinished run from its log');
      this.stats.resumed++;
      launched = this.launch(stream, run, release, true);
    } finally {
      if (!launched) release();
    }
  }

  private launch(stream: string, run: EndpointRun, release: () => void, resumed: boolean): boolean {
    if (this.active.has(stream)) return false;
    const done = (async () => {
      try {
        if (resumed) await run.markResumed();
        await run.drive();
      } catch (e) {
        if ((e as { code?: string }).code !== 'RUN_OWNERSHIP_LOST') this.opts.log('error', { stream, error: (e as Error).message }, 'run stopped on an error; it is resumed at the next scan');
      } finally {
        this.active.delete(stream);
        this.stats.active = this.active.size;
        if (run.status !== 'running') {
          this.stats.finished++;
          // The run is over: its SSH connection is not kept for a next cycle hours away (at 10,000
          // endpoints that was 10,000 idle sessions and ~1 GB in this process), unless another run
          // of the same endpoint still uses it.
          const endpointId = run.endpointId;
          if (endpointId && ![...this.active.values()].some((a) => a.run.endpointId === endpointId)) void this.opts.remote.close(endpointId).catch(() => undefined);
        }
        release();
      }
    })();
    this.active.set(stream, { run, done });
    this.stats.active = this.active.size;
    return true;
  }

  /** Claims a released endpoint; a lost claim (another replica, a redelivery) drops the message. */
  private async onReleased(event: RecordedEvent): Promise<void> {
    const parsed = EndpointReleased.schema.safeParse(event.data);
    if (!parsed.success) {
      // A release that does not validate never will: retrying cannot help, so it is refused here, loudly.
      this.stats.invalidReleases++;
      this.opts.log('error', { code: 'VALIDATION_FAILED', eventId: event.metadata.eventId, stream: event.metadata.stream, issues: parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.')}: ${i.message}`) }, 'invalid EndpointReleased refused');
      return;
    }
    const released = parsed.data;
    const stream = toRunStreamName(released.cycleId, released.endpointId);
    if (this.active.has(stream)) {
      this.stats.lostClaims++;
      return;
    }
    // Back-pressure without hoarding: a replica waits briefly for a slot (one of its runs may be
    // ending), then hands the release back so a replica with room takes it instead.
    const release = await this.slots.acquireWithin(this.opts.claimWaitMs ?? 1000);
    if (!release) {
      this.stats.handedBack++;
      throw new ExecutorAtCapacityError(this.opts.executorId, this.opts.concurrency);
    }
    let launched = false;
    try {
      if (this.stopping) throw new Error('executor stopping');
      const { cycleId, endpointId, ...plan } = released;
      let duplicate = false;
      try {
        const r = await this.opts.store.append(
          stream,
          [
            {
              eventId: runEventId(stream, 'run-started', this.opts.executorId),
              type: RunStarted.type,
              schemaVersion: RunStarted.schemaVersion,
              data: RunStarted.parse({ cycleId, endpointId, executorId: this.opts.executorId, releasedEventId: event.metadata.eventId, plan }),
              correlationId: cycleId,
              causationId: event.metadata.eventId,
              actor: `executor:${this.opts.executorId}`,
              ...(event.metadata.traceparent ? { traceparent: event.metadata.traceparent } : {}),
            },
          ],
          'no-stream',
        );
        duplicate = r.duplicate;
      } catch (e) {
        // The stream exists (another replica's claim, or an earlier release of the same endpoint): not ours.
        const code = (e as { code?: string }).code;
        if (e instanceof WrongExpectedVersionError || code === 'WRONG_EXPECTED_VERSION' || code === 'DUPLICATE_EVENT_ID') {
          this.stats.lostClaims++;
          this.opts.log('debug', { stream }, 'run already claimed; dropping the release');
          return;
        }
        throw e;
      }
      this.stats.claimed++;
      const events = await this.opts.store.readStream(stream);
      const run = new EndpointRun(this.deps(), stream, events);
      if (run.status !== 'running') return;
      launched = this.launch(stream, run, release, duplicate);
    } finally {
      if (!launched) release();
    }
  }
}
