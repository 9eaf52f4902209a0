/**
 * Label selectors as the policy service reads them (`env=prod,role in (db,web),!legacy`), so the
 * console can say why an endpoint is in or out of a group from its labels. The service is the
 * authority: when this parser refuses a selector the page says it cannot tell, instead of guessing.
 */
export type Requirement =
  | { op: 'exists' | 'not-exists'; key: string }
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] };

export class SelectorParseError extends Error {
  readonly code = 'SELECTOR_INVALID';
  readonly column: number;
  constructor(column: number, problem: string) {
    super(`${problem} at column ${column}`);
    this.column = column;
  }
}

type Token = { kind: 'word' | '=' | '==' | '!=' | '!' | ',' | '(' | ')' | 'end'; text: string; column: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const column = i + 1;
    if (c === ' ' || c === '\t') i++;
    else if ((c === '=' || c === '!') && src[i + 1] === '=') {
      out.push({ kind: c === '=' ? '==' : '!=', text: `${c}=`, column });
      i += 2;
    } else if ('=!,()'.includes(c)) {
      out.push({ kind: c as Token['kind'], text: c, column });
      i++;
    } else if (/[A-Za-z0-9_./-]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_./-]/.test(src[j]!)) j++;
      out.push({ kind: 'word', text: src.slice(i, j), column });
      i = j;
    } else throw new SelectorParseError(column, `unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ kind: 'end', text: 'end of selector', column: src.length + 1 });
  return out;
}

/** Parses a selector into its requirements (all must hold); throws SelectorParseError. */
export function parseSelector(text: string): Requirement[] {
  const tokens = tokenize(text);
  let p = 0;
  const next = () => tokens[p++]!;
  const peek = () => tokens[p]!;
  const word = (what: string): string => {
    const t = next();
    if (t.kind !== 'word' || t.text === 'in' || t.text === 'notin') throw new SelectorParseError(t.column, `expected a label ${what}, found ${JSON.stringify(t.text)}`);
    return t.text;
  };
  const out: Requirement[] = [];
  if (peek().kind === 'end') throw new SelectorParseError(1, 'empty selector');
  for (;;) {
    if (peek().kind === '!') {
      next();
      out.push({ op: 'not-exists', key: word('key') });
    } else {
      const key = word('key');
      const op = peek();
      if (op.kind === '=' || op.kind === '==' || op.kind === '!=') {
        next();
        out.push({ op: op.kind === '!=' ? 'neq' : 'eq', key, value: word('value') });
      } else if (op.kind === 'word' && (op.text === 'in' || op.text === 'notin')) {
        next();
        const open = next();
        if (open.kind !== '(') throw new SelectorParseError(open.column, `expected "(" after ${op.text}`);
        const values = [word('value')];
        for (let t = next(); t.kind !== ')'; t = next()) {
          if (t.kind !== ',') throw new SelectorParseError(t.column, 'expected "," or ")" in the value list');
          values.push(word('value'));
        }
        out.push({ op: op.text, key, values: [...new Set(values)].sort() });
      } else if (op.kind === ',' || op.kind === 'end') out.push({ op: 'exists', key });
      else throw new SelectorParseError(op.column, `unexpected ${JSON.stringify(op.text)} after the key ${key}`);
    }
    const sep = next();
    if (sep.kind === 'end') return out;
    if (sep.kind !== ',') throw new SelectorParseError(sep.column, 'expected "," between requirements');
  }
}

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

/** `!=` and `notin` also hold when the label is absent, as in Kubernetes (and in the policy service). */
export function requirementHolds(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const v = Object.prototype.hasOwnProperty.call(labels, r.key) ? labels[r.key] : undefined;
  switch (r.op) {
    case 'exists':
      return v !== undefined;
    case 'not-exists':
      return v === undefined;
    case 'eq':
      return v === r.value;
    case 'neq':
      return v !== r.value;
    case 'in':
      return v !== undefined && r.values.includes(v);
    case 'notin':
      return v === undefined || !r.values.includes(v);
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
      requirements = parseSelector(def.selector);
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
