import { explainSelector, parseSelector, selectorMatches, type MembershipExplanation, type MembershipReason, type ReferenceGroup, type Selector } from '@patchbay/contracts';

/** What membership needs to know about an endpoint (from inventory's lifecycle events). */
export interface EndpointFacts {
  endpointId: string;
  labels: Readonly<Record<string, string>>;
  retired: boolean;
}

/** A group definition prepared for fast evaluation (selector parsed once, sets for static lists). */
export interface CompiledGroup {
  readonly definition: ReferenceGroup;
  readonly selector: Selector | undefined;
  readonly members: ReadonlySet<string>;
  readonly exclusions: ReadonlySet<string>;
}

/** Compiles a validated group definition (its selector must parse). */
export function compileGroup(definition: ReferenceGroup): CompiledGroup {
  return {
    definition,
    selector: definition.selector ? parseSelector(definition.selector) : undefined,
    members: new Set(definition.members),
    exclusions: new Set(definition.exclusions),
  };
}

/** Whether an endpoint belongs to a group, and the one-line reason. */
export interface Verdict {
  member: boolean;
  reason: string;
}

/**
 * Membership rule: an endpoint is in a group when it is registered and not retired, not
 * statically excluded, and either a static member or matched by the selector. Exclusion wins.
 */
export function evaluate(group: CompiledGroup, endpoint: EndpointFacts | undefined, endpointId: string): Verdict {
  if (!endpoint) return { member: false, reason: group.members.has(endpointId) ? 'static member, but the endpoint is not registered' : 'endpoint is not registered' };
  if (endpoint.retired) return { member: false, reason: 'endpoint retired' };
  const matched = group.selector ? selectorMatches(group.selector, endpoint.labels) : false;
  const why = group.members.has(endpointId) ? 'static member' : group.selector ? `selector ${group.selector.text} ${matched ? 'matched' : `did not match (${failing(group.selector, endpoint.labels)})`}` : 'not a static member and the group has no selector';
  if (group.exclusions.has(endpointId)) return { member: false, reason: `${why}; excluded by static exclusion` };
  if (group.members.has(endpointId)) return { member: true, reason: group.selector && matched ? `static member; selector ${group.selector.text} matched` : 'static member' };
  return { member: matched, reason: why };
}

function failing(selector: Selector, labels: Readonly<Record<string, string>>): string {
  return explainSelector(selector, labels)
    .filter((v) => !v.matched)
    .map((v) => `${v.requirement}: ${v.actual === undefined ? 'label absent' : `is ${v.actual}`}`)
    .join('; ');
}

/** Membership of a group: member id → reason. */
export type Membership = ReadonlyMap<string, string>;

/** Full computation over every known endpoint. */
export function computeMembership(group: CompiledGroup, endpoints: Iterable<EndpointFacts>): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of endpoints) {
    const v = evaluate(group, e, e.endpointId);
    if (v.member) out.set(e.endpointId, v.reason);
  }
  return out;
}

/** Who joins and who leaves, each with a reason. */
export interface MembershipDiff {
  added: MembershipReason[];
  removed: MembershipReason[];
}

/**
 * Re-evaluates the given candidates against the current membership. `lookup` answers for any
 * endpoint id (undefined: not registered), so current members missing from `candidates` are
 * re-evaluated too when `everyone` is set (a full recomputation after a definition change).
 */
export function diffMembership(group: CompiledGroup, current: Membership, candidates: Iterable<string>, lookup: (id: string) => EndpointFacts | undefined, everyone: boolean): MembershipDiff {
  const added: MembershipReason[] = [];
  const removed: MembershipReason[] = [];
  const seen = new Set<string>();
  const check = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const v = evaluate(group, lookup(id), id);
    if (v.member && !current.has(id)) added.push({ endpointId: id, reason: v.reason });
    else if (!v.member && current.has(id)) removed.push({ endpointId: id, reason: v.reason });
  };
  for (const id of candidates) check(id);
  if (everyone) for (const id of current.keys()) check(id);
  const byId = (a: MembershipReason, b: MembershipReason) => (a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0);
  return { added: added.sort(byId), removed: removed.sort(byId) };
}

/** Explains, requirement by requirement, why an endpoint is in or out of a group. */
export function explainMembership(group: CompiledGroup, endpoint: EndpointFacts | undefined, endpointId: string, recordedMember: boolean): MembershipExplanation {
  const verdict = evaluate(group, endpoint, endpointId);
  const labels = { ...(endpoint?.labels ?? {}) };
  const requirements = group.selector ? explainSelector(group.selector, labels) : undefined;
  const reasons: string[] = [];
  if (!endpoint) reasons.push('endpoint is not registered');
  else if (endpoint.retired) reasons.push('endpoint retired');
  if (group.selector && endpoint) {
    const matched = requirements!.every((r) => r.matched);
    reasons.push(`selector ${group.selector.text} ${matched ? 'matched' : 'did not match'}`);
    for (const r of requirements!) reasons.push(`  ${r.requirement}: ${r.matched ? 'holds' : 'fails'} (${r.actual === undefined ? 'label absent' : `value ${r.actual}`})`);
  } else if (!group.selector) reasons.push('group has no selector');
  if (group.members.has(endpointId)) reasons.push('listed as a static member');
  if (group.exclusions.has(endpointId)) reasons.push('excluded by static exclusion');
  if (recordedMember !== verdict.member) reasons.push(`recorded membership (${recordedMember ? 'member' : 'not a member'}) is being updated`);
  return {
    groupId: group.definition.id,
    endpointId,
    member: verdict.member,
    summary: `${verdict.reason} → ${verdict.member ? 'member' : 'not a member'}`,
    reasons,
    endpoint: { known: endpoint !== undefined, retired: endpoint?.retired ?? false, labels },
    ...(group.selector ? { selector: { text: group.selector.text, matched: requirements!.every((r) => r.matched), requirements: requirements! } } : {}),
    staticMember: group.members.has(endpointId),
    excluded: group.exclusions.has(endpointId),
  };
}
