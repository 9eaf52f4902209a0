import { toCycleStreamName, type RecordedEvent } from '@patchbay/contracts';
import type { EventStore } from '@patchbay/event-store';
import { cycleIdOfEvent } from './fanout.js';

/** What an ITSM consumer asks for; an empty or missing list means "any". */
export interface PatchEventFilter {
  groups?: readonly string[] | null;
  tiers?: readonly string[] | null;
  types?: readonly string[] | null;
}

interface Membership {
  endpoints: Map<string, { groupId: string; tier: string }>;
  groups: Set<string>;
  tiers: Set<string>;
}

/**
 * Which reference groups and tiers each cycle's endpoints belong to, from the plan parts in the
 * `cycle-<id>` stream (read from the store once per cycle, then kept up to date by new plan parts).
 */
export class CycleMembership {
  private readonly cache = new Map<string, Membership>();
  constructor(private readonly store: EventStore, private readonly maxCycles = 1000) {}

  /** Keeps a cached cycle current when a new plan part passes by. */
  observe(event: RecordedEvent): void {
    if (event.type !== 'CyclePlanPartRecorded') return;
    const cycleId = cycleIdOfEvent(event);
    const m = cycleId ? this.cache.get(cycleId) : undefined;
    if (m) addPlanPart(m, event);
  }

  async of(cycleId: string): Promise<Membership> {
    const cached = this.cache.get(cycleId);
    if (cached) return cached;
    const m: Membership = { endpoints: new Map(), groups: new Set(), tiers: new Set() };
    let events: RecordedEvent[] = [];
    try {
      events = await this.store.readStream(toCycleStreamName(cycleId), { ifMissing: 'empty' });
    } catch {
      return m; // a cycle id the store refuses is a cycle with no members
    }
    for (const e of events) if (e.type === 'CyclePlanPartRecorded') addPlanPart(m, e);
    if (this.cache.size >= this.maxCycles) this.cache.delete(this.cache.keys().next().value!);
    if (events.some((e) => e.type === 'CyclePlanPartRecorded')) this.cache.set(cycleId, m);
    return m;
  }
}

function addPlanPart(m: Membership, event: RecordedEvent): void {
  const endpoints = (event.data as { endpoints?: unknown }).endpoints;
  if (!Array.isArray(endpoints)) return;
  for (const p of endpoints as Array<{ endpointId?: unknown; groupId?: unknown; tier?: unknown }>) {
    if (typeof p.endpointId !== 'string' || typeof p.groupId !== 'string' || typeof p.tier !== 'string') continue;
    m.endpoints.set(p.endpointId, { groupId: p.groupId, tier: p.tier });
    m.groups.add(p.groupId);
    m.tiers.add(p.tier);
  }
}

const any = (list: readonly string[] | null | undefined): boolean => !list || list.length === 0;

/**
 * Whether an event passes a filter. Types match the event type. Groups and tiers match a run or
 * endpoint-scoped cycle event by its endpoint's group/tier in the plan, a cycle-wide event when
 * any endpoint of the cycle is in one of them, and a `group-<id>` event by its group id; events
 * of other streams never match a group or tier filter.
 */
export async function matchesFilter(event: RecordedEvent, filter: PatchEventFilter, membership: CycleMembership): Promise<boolean> {
  if (!any(filter.types) && !filter.types!.includes(event.type)) return false;
  if (any(filter.groups) && any(filter.tiers)) return true;
  const stream = event.metadata.stream;
  if (stream.startsWith('group-')) return any(filter.tiers) && filter.groups!.includes(stream.slice('group-'.length));
  const cycleId = cycleIdOfEvent(event);
  if (!cycleId) return false;
  const m = await membership.of(cycleId);
  const endpointId = (event.data as { endpointId?: unknown } | null)?.endpointId;
  if (typeof endpointId === 'string') {
    const member = m.endpoints.get(endpointId);
    if (!member) return false;
    return (any(filter.groups) || filter.groups!.includes(member.groupId)) && (any(filter.tiers) || filter.tiers!.includes(member.tier));
  }
  return (any(filter.groups) || filter.groups!.some((g) => m.groups.has(g))) && (any(filter.tiers) || filter.tiers!.some((t) => m.tiers.has(t)));
}
