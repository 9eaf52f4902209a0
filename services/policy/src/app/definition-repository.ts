import { createHash } from 'node:crypto';
import {
  GroupMembershipChanged,
  PatchPolicyDefined,
  PatchPolicyDeleted,
  PatchPolicyUpdated,
  ReferenceGroupDefined,
  ReferenceGroupDeleted,
  ReferenceGroupUpdated,
  toGroupStreamName,
  toPolicyStreamName,
  toWorkflowStreamName,
  WorkflowTemplateRetired,
  WorkflowTemplateVersionSaved,
  type NewEvent,
  type RecordedEvent,
} from '@patchbay/contracts';
import { WrongExpectedVersionError, type EventStore } from '@patchbay/event-store';
import { evolveGroup, initialGroupState, type GroupEvent, type GroupState } from '../domain/group-decider.js';
import { evolvePolicy, initialPolicyState, type PolicyEvent, type PolicyState } from '../domain/policy-decider.js';
import { evolveWorkflow, initialWorkflowState, type WorkflowEvent, type WorkflowState } from '../domain/workflow-decider.js';

/** Who asked, and why: what every appended event carries. */
export interface CommandMeta {
  commandId: string;
  actor: string;
  correlationId?: string;
  traceparent?: string;
}

/**
 * Event id derived from the command, the stream and the revision the event takes: a retried
 * command that decides the same events at the same place appends nothing new (the store
 * recognises the ids), and one that finds its events already applied decides none.
 */
export function deterministicEventId(commandId: string, stream: string, revision: number): string {
  return `pol-${createHash('sha256').update(`${commandId}\u0000${stream}\u0000${revision}`).digest('hex').slice(0, 40)}`;
}

interface Kind<S, E extends { type: string; data: unknown }> {
  stream: (id: string) => string;
  initial: () => S;
  evolve: (s: S, e: E) => S;
  parsers: Record<string, (data: unknown) => unknown>;
}

const parsers = (...defs: Array<{ type: string; parse: (d: unknown) => unknown }>) => Object.fromEntries(defs.map((d) => [d.type, (x: unknown) => d.parse(x)]));

const KINDS = {
  group: { stream: toGroupStreamName, initial: initialGroupState, evolve: evolveGroup, parsers: parsers(ReferenceGroupDefined, ReferenceGroupUpdated, ReferenceGroupDeleted, GroupMembershipChanged) } satisfies Kind<GroupState, GroupEvent>,
  policy: { stream: toPolicyStreamName, initial: initialPolicyState, evolve: evolvePolicy, parsers: parsers(PatchPolicyDefined, PatchPolicyUpdated, PatchPolicyDeleted) } satisfies Kind<PolicyState, PolicyEvent>,
  workflow: { stream: toWorkflowStreamName, initial: initialWorkflowState, evolve: evolveWorkflow, parsers: parsers(WorkflowTemplateVersionSaved, WorkflowTemplateRetired) } satisfies Kind<WorkflowState, WorkflowEvent>,
};
type KindName = keyof typeof KINDS;
type StateOf<K extends KindName> = K extends 'group' ? GroupState : K extends 'policy' ? PolicyState : WorkflowState;
type EventOfKind<K extends KindName> = K extends 'group' ? GroupEvent : K extends 'policy' ? PolicyEvent : WorkflowEvent;

interface Entry<S> {
  state: S;
  /** Revision of the last event folded in; -1 for a stream without events. */
  revision: number;
}

/** Result of running a decision against a stream. */
export interface Execution<S> {
  state: S;
  appended: number;
  revision: number;
}

/**
 * The policy service's view of its own streams (`group-*`, `policy-*`, `workflow-*`): state per
 * stream folded from the store, a decision loop that appends with the expected revision (and
 * decides again from fresh state when another writer got there first), one decision per stream
 * at a time within this process.
 */
export class DefinitionRepository {
  private readonly entries = { group: new Map<string, Entry<GroupState>>(), policy: new Map<string, Entry<PolicyState>>(), workflow: new Map<string, Entry<WorkflowState>>() };
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Global position up to which each kind was read with `readAll` (refresh reads only what is newer). */
  private readonly readUpTo: Record<KindName, bigint | undefined> = { group: undefined, policy: undefined, workflow: undefined };

  constructor(private readonly store: EventStore) {}

  /** Loads every definition stream (at start). */
  async load(): Promise<void> {
    const all = await this.store.readAll({ categories: ['group', 'policy', 'workflow'] });
    for (const e of all) {
      const kind = e.metadata.stream.slice(0, e.metadata.stream.indexOf('-')) as KindName;
      const id = e.metadata.stream.slice(kind.length + 1);
      const entry = this.entry(kind, id);
      this.fold(kind, entry, e);
    }
    const last = all[all.length - 1]?.position;
    if (last !== undefined) for (const k of ['group', 'policy', 'workflow'] as const) this.readUpTo[k] = last;
  }

  private entry<K extends KindName>(kind: K, id: string): Entry<StateOf<K>> {
    const map = this.entries[kind] as unknown as Map<string, Entry<StateOf<K>>>;
    let e = map.get(id);
    if (!e) {
      e = { state: KINDS[kind].initial() as StateOf<K>, revision: -1 };
      map.set(id, e);
    }
    return e;
  }

  private fold<K extends KindName>(kind: K, entry: Entry<StateOf<K>>, e: RecordedEvent): void {
    if (e.metadata.revision <= entry.revision) return;
    const parse = KINDS[kind].parsers[e.type];
    if (parse) {
      const evolve = KINDS[kind].evolve as unknown as (s: StateOf<K>, ev: EventOfKind<K>) => StateOf<K>;
      entry.state = evolve(entry.state, { type: e.type, data: parse(e.data) } as EventOfKind<K>);
    }
    entry.revision = e.metadata.revision;
  }

  private async catchUp<K extends KindName>(kind: K, id: string): Promise<Entry<StateOf<K>>> {
    const entry = this.entry(kind, id);
    const newer = await this.store.readStream(KINDS[kind].stream(id), { fromRevision: entry.revision + 1, ifMissing: 'empty' });
    for (const e of newer) this.fold(kind, entry, e);
    return entry;
  }

  /** Current state of one definition (read through to the store). */
  async get<K extends KindName>(kind: K, id: string): Promise<StateOf<K>> {
    return (await this.serial(KINDS[kind].stream(id), () => this.catchUp(kind, id))).state;
  }

  /** Cached states of every known definition of a kind (as of the last load, decision or read). */
  cached<K extends KindName>(kind: K): Array<[string, StateOf<K>]> {
    return [...(this.entries[kind] as unknown as Map<string, Entry<StateOf<K>>>).entries()].map(([id, e]) => [id, e.state]);
  }

  /** Brings every cached stream of a kind up to date (before decisions that read across streams). */
  async refresh(kind: KindName): Promise<void> {
    const after = this.readUpTo[kind];
    const all = await this.store.readAll({ categories: [kind], ...(after !== undefined ? { after } : {}) });
    for (const e of all) {
      const id = e.metadata.stream.slice(kind.length + 1);
      this.fold(kind, this.entry(kind, id), e);
    }
    const last = all[all.length - 1]?.position;
    if (last !== undefined) this.readUpTo[kind] = last;
  }

  private serial<T>(stream: string, work: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(stream) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => undefined);
    this.queues.set(stream, tail);
    void tail.then(() => {
      if (this.queues.get(stream) === tail) this.queues.delete(stream);
    });
    return next;
  }

  /**
   * Decides from the stream's current state and appends the events with the expected revision.
   * When another writer appended first, the state is caught up and the decision made again.
   * `decide` may throw a domain error: nothing is appended.
   */
  execute<K extends KindName>(kind: K, id: string, decide: (state: StateOf<K>) => EventOfKind<K>[], meta: CommandMeta): Promise<Execution<StateOf<K>>> {
    const stream = KINDS[kind].stream(id);
    return this.serial(stream, async () => {
      for (let attempt = 0; ; attempt++) {
        const entry = await this.catchUp(kind, id);
        const events = decide(entry.state);
        if (events.length === 0) return { state: entry.state, appended: 0, revision: entry.revision };
        const toAppend: NewEvent[] = events.map((e, i) => ({
          eventId: deterministicEventId(meta.commandId, stream, entry.revision + 1 + i),
          type: e.type,
          data: e.data,
          schemaVersion: 1,
          actor: meta.actor,
          correlationId: meta.correlationId ?? meta.commandId,
          causationId: meta.commandId,
          ...(meta.traceparent ? { traceparent: meta.traceparent } : {}),
        }));
        try {
          const result = await this.store.append(stream, toAppend, entry.revision < 0 ? 'no-stream' : entry.revision);
          const after = await this.catchUp(kind, id);
          return { state: after.state, appended: result.duplicate ? 0 : events.length, revision: after.revision };
        } catch (err) {
          if (err instanceof WrongExpectedVersionError && attempt < 5) continue;
          throw err;
        }
      }
    });
  }
}
