import { PatchbayError } from './errors.js';
import type { RequirementVerdict } from './policy.js';

/**
 * Label selectors, Kubernetes style: requirements joined by commas, all of which must hold. One
 * grammar for the policy service (which decides membership) and the web console (which explains it).
 *
 *   env=prod          env==prod        env!=prod
 *   role in (db,web)  role notin (cache)
 *   legacy            (the key exists)  !legacy  (the key does not exist)
 *
 * `!=` and `notin` also hold when the key is absent, as in Kubernetes.
 */
export type Requirement =
  | { op: 'exists' | 'not-exists'; key: string }
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] };

/** A parsed selector: its requirements and its canonical text. */
export interface Selector {
  readonly text: string;
  readonly requirements: readonly Requirement[];
}

/** A selector could not be parsed; `details.column` (1-based) points at the problem. */
export class SelectorSyntaxError extends PatchbayError {
  constructor(
    readonly selector: string,
    readonly column: number,
    problem: string,
  ) {
    super('SELECTOR_INVALID', `selector ${JSON.stringify(selector)}: ${problem} at column ${column}\n  ${selector}\n  ${' '.repeat(Math.max(0, column - 1))}^`, { selector, column, problem });
  }
}

const KEY = /^[A-Za-z0-9]([A-Za-z0-9_./-]{0,62}[A-Za-z0-9])?$/;
const VALUE = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$/;

type Token = { kind: 'word' | '=' | '==' | '!=' | '!' | ',' | '(' | ')' | 'end'; text: string; column: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    const column = i + 1;
    if (c === '=' && src[i + 1] === '=') {
      out.push({ kind: '==', text: '==', column });
      i += 2;
    } else if (c === '!' && src[i + 1] === '=') {
      out.push({ kind: '!=', text: '!=', column });
      i += 2;
    } else if (c === '=' || c === '!' || c === ',' || c === '(' || c === ')') {
      out.push({ kind: c, text: c, column });
      i++;
    } else if (/[A-Za-z0-9_./-]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_./-]/.test(src[j]!)) j++;
      out.push({ kind: 'word', text: src.slice(i, j), column });
      i = j;
    } else {
      throw new SelectorSyntaxError(src, column, `unexpected character ${JSON.stringify(c)}`);
    }
  }
  out.push({ kind: 'end', text: 'end of selector', column: src.length + 1 });
  return out;
}

const describe = (t: Token): string => (t.kind === 'end' ? 'end of selector' : JSON.stringify(t.text));

/** Parses a selector; throws `SelectorSyntaxError` (code `SELECTOR_INVALID`) naming the column. */
export function parseSelector(text: string): Selector {
  const tokens = tokenize(text);
  let p = 0;
  const peek = () => tokens[p]!;
  const next = () => tokens[p++]!;
  const fail = (t: Token, problem: string): never => {
    throw new SelectorSyntaxError(text, t.column, problem);
  };
  const key = (): string => {
    const t = next();
    if (t.kind !== 'word') fail(t, `expected a label key, found ${describe(t)}`);
    if (t.text === 'in' || t.text === 'notin') fail(t, `expected a label key, found the operator "${t.text}"`);
    if (!KEY.test(t.text)) fail(t, `invalid label key ${JSON.stringify(t.text)} (letters, digits, _ . / -, max 64, starting and ending with a letter or digit)`);
    return t.text;
  };
  const value = (): string => {
    const t = next();
    if (t.kind !== 'word') fail(t, `expected a label value, found ${describe(t)}`);
    if (!VALUE.test(t.text)) fail(t, `invalid label value ${JSON.stringify(t.text)} (letters, digits, _ . -, max 64, starting and ending with a letter or digit)`);
    return t.text;
  };
  const requirements: Requirement[] = [];
  if (peek().kind === 'end') fail(peek(), 'empty selector (omit the selector for a group of static members only)');
  for (;;) {
    if (peek().kind === '!') {
      next();
      requirements.push({ op: 'not-exists', key: key() });
    } else {
      const k = key();
      const op = peek();
      if (op.kind === '=' || op.kind === '==' || op.kind === '!=') {
        next();
        requirements.push({ op: op.kind === '!=' ? 'neq' : 'eq', key: k, value: value() });
      } else if (op.kind === 'word' && (op.text === 'in' || op.text === 'notin')) {
        next();
        const open = next();
        if (open.kind !== '(') fail(open, `expected "(" after "${op.text}", found ${describe(open)}`);
        const values = [value()];
        for (;;) {
          const t = next();
          if (t.kind === ')') break;
          if (t.kind !== ',') fail(t, `expected "," or ")" in the value list, found ${describe(t)}`);
          values.push(value());
        }
        requirements.push({ op: op.text === 'in' ? 'in' : 'notin', key: k, values: [...new Set(values)].sort() });
      } else if (op.kind === ',' || op.kind === 'end') {
        requirements.push({ op: 'exists', key: k });
      } else if (op.kind === 'word') {
        fail(op, `unknown operator ${JSON.stringify(op.text)} (expected =, ==, !=, in or notin)`);
      } else {
        fail(op, `expected an operator (=, ==, !=, in, notin), "," or end of selector, found ${describe(op)}`);
      }
    }
    const sep = next();
    if (sep.kind === 'end') break;
    if (sep.kind !== ',') fail(sep, `expected "," between requirements, found ${describe(sep)}`);
  }
  return { text: requirements.map(formatRequirement).join(','), requirements };
}

/** The canonical text of one requirement (`role in (db,web)`). */
export function formatRequirement(r: Requirement): string {
  switch (r.op) {
    case 'exists':
      return r.key;
    case 'not-exists':
      return `!${r.key}`;
    case 'eq':
      return `${r.key}=${r.value}`;
    case 'neq':
      return `${r.key}!=${r.value}`;
    case 'in':
      return `${r.key} in (${r.values.join(',')})`;
    case 'notin':
      return `${r.key} notin (${r.values.join(',')})`;
    default: {
      const never: never = r;
      return never;
    }
  }
}

/** Whether one requirement holds for the labels. */
export function requirementHolds(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key] : undefined;
  switch (r.op) {
    case 'exists':
      return has;
    case 'not-exists':
      return !has;
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

/** Whether every requirement holds. */
export function selectorMatches(s: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of s.requirements) if (!requirementHolds(r, labels)) return false;
  return true;
}

/** Each requirement with whether it held and the endpoint's value of its key. */
export function explainSelector(s: Selector, labels: Readonly<Record<string, string>>): RequirementVerdict[] {
  return s.requirements.map((r) => {
    const actual = Object.prototype.hasOwnProperty.call(labels, r.key) ? labels[r.key] : undefined;
    return { requirement: formatRequirement(r), matched: requirementHolds(r, labels), ...(actual !== undefined ? { actual } : {}) };
  });
}
