import { createHash } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import { toCycleStreamName, type NewEvent, type RecordedEvent } from '@patchbay/contracts';
import { WrongExpectedVersionError, type EventStore } from '@patchbay/event-store';
import { cycleMetrics, eventMetrics, type CycleOutcome } from '@patchbay/telemetry';
import { decide, evolve, initialState, type CycleCommand, type CycleEvent, type CycleState } from './domain/cycle.js';

/** A cycle as loaded: its state, the revision of its last event (-1: none) and the commands already applied. */
export interface LoadedCycle {
  state: CycleState;
  revision: number;
  commands: Set<string>;
}

/** Who sent a command and what it answers to. */
export interface CommandMeta {
  commandId: string;
  actor: string;
}

/** Statuses a cycle does not leave for another run state. */
const ENDED: readonly CycleState['status'][] = ['completed', 'halted', 'aborted'];

const commandKey = (commandId: string): string => createHash('sha256').update(commandId).digest('hex').slice(0, 20);

/** Deterministic event id: the same command at the same position always makes the same id. */
export const cycleEventId = (cycleId: string, commandId: string, index: number): string => `${cycleId}.${commandKey(commandId)}.${index}`;

function currentTrace(): { traceparent?: string; tracestate?: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return { ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}), ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}) };
}

/**
 * Loads cycles from their streams, runs the decider and appends what it decided with the expected
 * revision. Decisions are serialised in this process; another writer is caught by the revision
 * check (the cycle is reloaded and the command decided again). A command already applied (found by
 * its event ids) is not decided twice, so a retried command or a redelivered run event is harmless.
 */
export class CycleRepository {
  private readonly cache = new Map<string, LoadedCycle>();
  private lock: Promise<unknown> = Promise.resolve();

  /** `now` is the clock a cycle's duration is measured with (the planner's). */
  constructor(
    private readonly store: EventStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Every cycle known in memory (after `loadAll`, every cycle in the store). */
  all(): LoadedCycle[] {
    return [...this.cache.values()];
  }

  /** Reads every cycle stream into memory (at start). */
  async loadAll(): Promise<void> {
    let after: bigint | undefined;
    for (;;) {
      const page = await this.store.readAll({ ...(after !== undefined ? { after } : {}), categories: ['cycle'], maxCount: 5000 });
      for (const e of page) {
        const id = (e.data as { cycleId: string }).cycleId;
        const c = this.cache.get(id) ?? { state: initialState(id), revision: -1, commands: new Set<string>() };
        this.absorb(c, e);
        this.cache.set(id, c);
        after = e.position;
      }
      if (page.length < 5000) return;
    }
  }

  private absorb(c: LoadedCycle, e: RecordedEvent): void {
    evolve(c.state, e as unknown as CycleEvent);
    c.revision = e.metadata.revision;
    const key = e.metadata.eventId.split('.')[1];
    if (key) c.commands.add(key);
  }

  /** True when this command's events are already in the cycle's stream. */
  async applied(cycleId: string, commandId: string): Promise<boolean> {
    return (await this.load(cycleId)).commands.has(commandKey(commandId));
  }

  /** The cycle from memory, or read from its stream (state `new`, revision -1 when missing). */
  async load(cycleId: string, fresh = false): Promise<LoadedCycle> {
    const cached = this.cache.get(cycleId);
    if (cached && !fresh) return cached;
    const c: LoadedCycle = { state: initialState(cycleId), revision: -1, commands: new Set() };
    for (const e of await this.store.readStream(toCycleStreamName(cycleId), { ifMissing: 'empty' })) this.absorb(c, e);
    if (c.revision >= 0) this.cache.set(cycleId, c);
    return c;
  }

  /**
   * `patchbay.events.appended` for the batch, and `patchbay.cycles` / `patchbay.cycle.duration`
   * when this batch ended the cycle. Halted counts as an end (a halted cycle cannot resume), so
   * a halted cycle aborted later is not counted twice.
   */
  private recordMetrics(before: CycleState['status'], after: CycleState, appended: number): void {
    eventMetrics().appended('cycle', appended);
    if (!ENDED.includes(after.status) || ENDED.includes(before)) return;
    const requested = after.requestedAt ? Date.parse(after.requestedAt) : NaN;
    cycleMetrics().ended({
      kind: after.kind ?? 'unknown',
      outcome: after.status as CycleOutcome,
      ...(Number.isFinite(requested) ? { durationSeconds: (this.now().getTime() - requested) / 1000 } : {}),
    });
  }

  /**
   * Decides one command on one cycle and appends the events. Returns the events appended (empty
   * when the decider had nothing to say or the command was already applied).
   */
  execute(cycleId: string, meta: CommandMeta, command: CycleCommand | ((state: CycleState) => CycleCommand | undefined)): Promise<{ events: CycleEvent[]; state: CycleState; duplicate: boolean }> {
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        const c = await this.load(cycleId, attempt > 0);
        if (c.commands.has(commandKey(meta.commandId))) return { events: [], state: c.state, duplicate: true };
        const cmd = typeof command === 'function' ? command(c.state) : command;
        if (!cmd) return { events: [], state: c.state, duplicate: false };
        const events = decide(cmd, c.state);
        if (events.length === 0) return { events, state: c.state, duplicate: false };
        const trace = currentTrace();
        const batch: NewEvent[] = events.map((e, i) => ({
          eventId: cycleEventId(cycleId, meta.commandId, i),
          type: e.type,
          data: e.data,
          correlationId: cycleId,
          causationId: meta.commandId,
          actor: meta.actor,
          ...trace,
        }));
        try {
          const r = await this.store.append(toCycleStreamName(cycleId), batch, c.revision < 0 ? 'no-stream' : c.revision);
          const before = c.state.status;
          for (const e of events) evolve(c.state, e);
          if (!r.duplicate) this.recordMetrics(before, c.state, events.length);
          c.revision = r.nextExpectedRevision;
          c.commands.add(commandKey(meta.commandId));
          this.cache.set(cycleId, c);
          return { events, state: c.state, duplicate: r.duplicate };
        } catch (err) {
          if (err instanceof WrongExpectedVersionError && attempt < 3) continue;
          this.cache.delete(cycleId);
          throw err;
        }
      }
    };
    const next = this.lock.then(run, run);
    this.lock = next.catch(() => undefined);
    return next;
  }
}
