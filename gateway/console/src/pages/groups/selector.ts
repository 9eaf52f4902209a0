import { parseSelector, requirementHolds, type Requirement } from '@patchbay/contracts';

/*
 * Why an endpoint is in or out of a group, read from its labels with the policy service's own
 * selector grammar (@patchbay/contracts), so the console can say which requirement failed. The
 * service is the authority: a selector the grammar refuses makes the page say it cannot tell.
 */

/** The requirement in words a person reads ("role is one of db, web"). */
export function describeRequirement(r: Requirement): string {
  switch (r.op) {
    case 'exists':
      return `has the label ${r.key}`;
    case 'not-exists':
      return `has no label ${r.key}`;
    case 'eq':
      return `${r.key} is ${r.value}`;
    case 'neq':
      return `${r.key} is not ${r.value} (or absent)`;
    case 'in':
      return `${r.key} is one of ${r.values.join(', ')}`;
    case 'notin':
      return `${r.key} is none of ${r.values.join(', ')} (or absent)`;
    default: {
      const never: never = r;
      return never;
    }
  }
}

export interface GroupDefinitionView {
  selector?: string | undefined;
  members: string[];
  exclusions: string[];
}

/** Reads the parts of a group definition membership depends on (the definition is JSON from the API). */
export function definitionView(definition: unknown): GroupDefinitionView {
  const d = (definition && typeof definition === 'object' ? definition : {}) as Record<string, unknown>;
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return { selector: typeof d['selector'] === 'string' ? d['selector'] : undefined, members: list(d['members']), exclusions: list(d['exclusions']) };
}

export interface RequirementVerdict {
  requirement: Requirement;
  holds: boolean;
  actual: string | undefined;
}

export type MembershipVerdict =
  | { known: false; why: string }
  | { known: true; member: boolean; summary: string; staticMember: boolean; excluded: boolean; retired: boolean; requirements: RequirementVerdict[] };

/**
 * The membership rule of the policy service, evaluated on the endpoint's labels: registered and not
 * retired, not excluded, and a static member or matched by the selector (exclusion wins).
 */
export function explainMembership(def: GroupDefinitionView, endpoint: { id: string; retired: boolean; labels: ReadonlyArray<{ key: string; value: string }> }): MembershipVerdict {
  let requirements: Requirement[] = [];
  if (def.selector !== undefined) {
    try {
      requirements = [...parseSelector(def.selector).requirements];
    } catch (err) {
      return { known: false, why: `the console cannot read this group's selector (${(err as Error).message}), so it cannot tell from here; the policy service decides membership` };
    }
  }
  const labels = Object.fromEntries(endpoint.labels.map((l) => [l.key, l.value]));
  const verdicts = requirements.map((r) => ({ requirement: r, holds: requirementHolds(r, labels), actual: labels[r.key] }));
  const matched = def.selector !== undefined && verdicts.every((v) => v.holds);
  const staticMember = def.members.includes(endpoint.id);
  const excluded = def.exclusions.includes(endpoint.id);
  const base = { known: true as const, staticMember, excluded, retired: endpoint.retired, requirements: verdicts };
  const failing = verdicts.filter((v) => !v.holds).map((v) => `${describeRequirement(v.requirement)}, but ${v.actual === undefined ? `it has no label ${v.requirement.key}` : `${v.requirement.key} is ${v.actual}`}`);
  if (endpoint.retired) return { ...base, member: false, summary: 'Out: the endpoint is retired.' };
  if (excluded) return { ...base, member: false, summary: 'Out: the group lists it as a static exclusion (exclusions win over members and the selector).' };
  if (staticMember) return { ...base, member: true, summary: `In: a static member${matched ? ', and the selector matches too' : ''}.` };
  if (def.selector === undefined) return { ...base, member: false, summary: 'Out: not a static member, and the group has no selector.' };
  if (matched) return { ...base, member: true, summary: 'In: every requirement of the selector holds.' };
  return { ...base, member: false, summary: `Out: the selector does not match (${failing.join('; ')}).` };
}
