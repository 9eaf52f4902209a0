import type { RecordedEvent } from '@patchbay/contracts';
import type { CheckpointStore, Subscription } from './port.js';

/** Lets an idle subscription sleep until a timer fires or the store says something was appended. */
export class AppendSignal {
  private waiters = new Set<() => void>();
  /** Counts `notify()` calls: a reader that notes it before reading can tell whether it missed one. */
  generation = 0;

  /** Wakes every sleeping subscription now. */
  notify(): void {
    this.generation++;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /**
   * Resolves after `ms` or at the next `notify()`, whichever comes first — at once when `since`
   * (a `generation` noted before the caller last read) is behind: a notify that came while the
   * caller was busy reading is not slept through.
   */
  wait(ms: number, since?: number): Promise<void> {
    if (since !== undefined && since !== this.generation) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
}

/** What a polling catch-up subscription needs from a store. */
export interface CatchUpSource {
  name: string;
  /** Events strictly after `after` (all when undefined), at most `limit`, in global order. */
  readPage(after: bigint | undefined, limit: number): Promise<RecordedEvent[]>;
  checkpoints: CheckpointStore;
  handler: (event: RecordedEvent) => Promise<void>;
  onError?: (error: unknown, event?: RecordedEvent) => void;
  signal: AppendSignal;
  pollIntervalMs: number;
  /** Events handled between two checkpoint saves while catching up (at most this many are redelivered after a crash). */
  pageSize: number;
}

const MAX_BACKOFF_MS = 5_000;

/**
 * Catch-up subscription by polling: reads pages after the checkpoint, hands each event to the
 * handler in global order, saves the checkpoint after each page (and on stop), then polls.
 * A failing handler is retried with backoff on the same event: delivery is at least once and
 * never skips an event.
 */
export class PollingCatchUpSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  private resolveCaughtUp!: () => void;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(private readonly src: CatchUpSource) {
    this.caughtUp = new Promise((resolve) => (this.resolveCaughtUp = resolve));
    this.done = this.run();
  }

  /** Stops after the current handler call and saves the checkpoint of everything handled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.src.signal.notify();
    await this.done;
  }

  private sleep(ms: number, since?: number): Promise<void> {
    return this.stopped ? Promise.resolve() : this.src.signal.wait(ms, since);
  }

  private report(error: unknown, event?: RecordedEvent): void {
    try {
      this.src.onError?.(error, event);
    } catch {
      // A failing error reporter must not stop delivery.
    }
  }

  private async run(): Promise<void> {
    const { src } = this;
    let backoff = 50;
    let position: bigint | undefined;
    for (;;) {
      if (this.stopped) return this.resolveCaughtUp();
      try {
        position = await src.checkpoints.load(src.name);
        break;
      } catch (error) {
        this.report(error);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
    let saved = position;
    const save = async (): Promise<void> => {
      if (position === saved || position === undefined) return;
      try {
        await src.checkpoints.save(src.name, position);
        saved = position;
      } catch (error) {
        // The next save carries the later position; a lost save only means redelivery.
        this.report(error);
      }
    };
    try {
      while (!this.stopped) {
        let page: RecordedEvent[];
        // Noted before the read: an append while this page is read and handled wakes the next sleep at once.
        const seen = src.signal.generation;
        try {
          page = await src.readPage(position, src.pageSize);
          backoff = 50;
        } catch (error) {
          this.report(error);
          await this.sleep(backoff);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
        for (const event of page) {
          let attempt = 50;
          for (;;) {
            if (this.stopped) return;
            try {
              await src.handler(event);
              break;
            } catch (error) {
              this.report(error, event);
              await save();
              await this.sleep(attempt);
              attempt = Math.min(attempt * 2, MAX_BACKOFF_MS);
            }
          }
          position = event.position;
        }
        await save();
        if (page.length < src.pageSize) {
          this.resolveCaughtUp();
          await this.sleep(src.pollIntervalMs, seen);
        }
      }
    } finally {
      await save();
      this.resolveCaughtUp();
    }
  }
}
