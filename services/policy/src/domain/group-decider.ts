import { DefinitionInvalidError, GroupMembershipChanged, ReferenceGroupDefined, ReferenceGroupDeleted, ReferenceGroupUpdated, type EventOf, type MembershipReason, type ReferenceGroup } from '@patchbay/contracts';
import { changedFields, sameDefinition } from './definitions.js';
import { DefinitionExistsError, DefinitionInUseError, DefinitionNotFoundError } from './errors.js';
import { compileGroup, diffMembership, type CompiledGroup, type EndpointFacts } from './membership.js';

/** Events of a `group-<id>` stream. */
export type GroupEvent = EventOf<typeof ReferenceGroupDefined> | EventOf<typeof ReferenceGroupUpdated> | EventOf<typeof ReferenceGroupDeleted> | EventOf<typeof GroupMembershipChanged>;

/** A reference group as its stream says: definition, version, and members with their reasons. */
export interface GroupState {
  /** Definition version; 0 before the first definition. */
  version: number;
  status: 'absent' | 'active' | 'deleted';
  definition: ReferenceGroup | undefined;
  compiled: CompiledGroup | undefined;
  members: Map<string, string>;
}

/** What membership computations read: the endpoints policy knows of (from inventory events). */
export interface EndpointLookup {
  get(endpointId: string): EndpointFacts | undefined;
  ids(): Iterable<string>;
}

/** Commands on one group. Endpoint facts come with the command, so deciding stays pure. */
export type GroupCommand =
  | { type: 'DefineGroup'; definition: ReferenceGroup; endpoints: EndpointLookup }
  /** `upsert` defines a missing group (policy-as-code apply); `update` insists it exists. */
  | { type: 'UpdateGroup'; definition: ReferenceGroup; endpoints: EndpointLookup; upsert: boolean }
  | { type: 'DeleteGroup'; groupId: string; usedBy: readonly string[] }
  /** Endpoint facts changed: re-evaluate these endpoints (endpoint id → id of the event that changed it). */
  | { type: 'RecomputeMembership'; causes: ReadonlyMap<string, string>; endpoints: EndpointLookup }
  /** Re-evaluate every endpoint (at start, after facts were recorded whose recomputation had not run). */
  | { type: 'ReconcileMembership'; endpoints: EndpointLookup };

export function initialGroupState(): GroupState {
  return { version: 0, status: 'absent', definition: undefined, compiled: undefined, members: new Map() };
}

export function evolveGroup(state: GroupState, event: GroupEvent): GroupState {
  switch (event.type) {
    case 'ReferenceGroupDefined':
    case 'ReferenceGroupUpdated':
      return { ...state, version: event.data.version, status: 'active', definition: event.data.definition, compiled: compileGroup(event.data.definition) };
    case 'ReferenceGroupDeleted':
      return { ...state, version: event.data.version, status: 'deleted', definition: undefined, compiled: undefined, members: new Map() };
    case 'GroupMembershipChanged': {
      // Mutating in place keeps replay linear for large groups; the map belongs to this state only.
      const members = state.members;
      for (const r of event.data.removed) members.delete(r.endpointId);
      for (const a of event.data.added) members.set(a.endpointId, a.reason);
      return { ...state, members };
    }
    default: {
      const never: never = event;
      return never;
    }
  }
}

/**
 * Most entries (added + removed) one `GroupMembershipChanged` carries. Larger changes are split
 * into several events of one append, so no event outgrows a NATS message (1 MiB by default).
 */
export const MEMBERSHIP_CHUNK = 1000;

type MembershipData = EventOf<typeof GroupMembershipChanged>['data'];

/** Splits a membership change into events of at most `MEMBERSHIP_CHUNK` entries (none for an empty change); `trigger` may depend on the chunk's endpoints. */
export function membershipEvents(
  data: Omit<MembershipData, 'added' | 'removed' | 'trigger'>,
  added: MembershipReason[],
  removed: MembershipReason[],
  trigger: MembershipData['trigger'] | ((endpointIds: string[]) => MembershipData['trigger']),
): GroupEvent[] {
  const out: GroupEvent[] = [];
  let a = 0;
  let r = 0;
  while (a < added.length || r < removed.length) {
    const takeRemoved = removed.slice(r, r + MEMBERSHIP_CHUNK);
    r += takeRemoved.length;
    const takeAdded = added.slice(a, a + (MEMBERSHIP_CHUNK - takeRemoved.length));
    a += takeAdded.length;
    const t = typeof trigger === 'function' ? trigger([...takeAdded, ...takeRemoved].map((x) => x.endpointId)) : trigger;
    out.push({ type: 'GroupMembershipChanged', data: { ...data, added: takeAdded, removed: takeRemoved, trigger: t } });
  }
  return out;
}

function membershipAfter(state: GroupState, next: CompiledGroup, version: number, endpoints: EndpointLookup): GroupEvent[] {
  const diff = diffMembership(next, state.members, endpoints.ids(), (id) => endpoints.get(id), true);
  return membershipEvents({ groupId: next.definition.id, definitionVersion: version }, diff.added, diff.removed, { kind: 'definition' });
}

/**
 * Decides the events of a group command. Defining or updating with the definition already in
 * force appends nothing (so applying the same policy directory twice is a no-op); a changed
 * definition recomputes membership over every known endpoint in the same append.
 */
export function decideGroup(command: GroupCommand, state: GroupState): GroupEvent[] {
  switch (command.type) {
    case 'DefineGroup':
    case 'UpdateGroup': {
      const def = command.definition;
      if (state.status === 'active') {
        if (sameDefinition(state.definition, def)) return [];
        if (command.type === 'DefineGroup') throw new DefinitionExistsError('group', def.id, state.version);
        const version = state.version + 1;
        const compiled = compileGroup(def);
        return [
          { type: 'ReferenceGroupUpdated', data: { groupId: def.id, version, definition: def, changed: changedFields(state.definition!, def) } },
          ...membershipAfter(state, compiled, version, command.endpoints),
        ];
      }
      if (command.type === 'UpdateGroup' && !command.upsert) throw new DefinitionNotFoundError('group', def.id);
      const version = state.version + 1;
      return [{ type: 'ReferenceGroupDefined', data: { groupId: def.id, version, definition: def } }, ...membershipAfter(state, compileGroup(def), version, command.endpoints)];
    }
    case 'DeleteGroup': {
      if (state.status !== 'active') throw new DefinitionNotFoundError('group', command.groupId);
      if (command.usedBy.length) throw new DefinitionInUseError('group', command.groupId, command.usedBy);
      const removed = [...state.members.keys()].sort().map((endpointId) => ({ endpointId, reason: 'group deleted' }));
      return [...membershipEvents({ groupId: command.groupId, definitionVersion: state.version }, [], removed, { kind: 'definition' }), { type: 'ReferenceGroupDeleted', data: { groupId: command.groupId, version: state.version + 1 } }];
    }
    case 'RecomputeMembership': {
      if (state.status !== 'active') return [];
      const diff = diffMembership(state.compiled!, state.members, command.causes.keys(), (id) => command.endpoints.get(id), false);
      return membershipEvents({ groupId: state.definition!.id, definitionVersion: state.version }, diff.added, diff.removed, (ids) => ({
        kind: 'endpoint',
        causes: ids.map((endpointId) => ({ endpointId, eventId: command.causes.get(endpointId)! })),
      }));
    }
    case 'ReconcileMembership': {
      if (state.status !== 'active') return [];
      const diff = diffMembership(state.compiled!, state.members, command.endpoints.ids(), (id) => command.endpoints.get(id), true);
      return membershipEvents({ groupId: state.definition!.id, definitionVersion: state.version }, diff.added, diff.removed, { kind: 'reconcile' });
    }
    default: {
      const never: never = command;
      throw new DefinitionInvalidError([{ code: 'GROUP_INVALID_VALUE', path: '', message: `unknown command ${JSON.stringify(never)}` }]);
    }
  }
}
