/**
 * Splits a line as Python's `shlex.split(line, comments=True)` (POSIX mode), which Ansible uses for
 * INI host lines: whitespace separates, quotes group, backslash escapes, `#` at a token start
 * begins a comment. Throws on an unclosed quote ("No closing quotation").
 */
export function shlexSplit(line: string): string[] {
  const tokens: string[] = [];
  let cur = '';
  let inToken = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (inToken) tokens.push(cur);
      cur = '';
      inToken = false;
      i++;
    } else if (c === '#' && !inToken) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('No closing quotation');
      cur += line.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const d = line[i]!;
        if (d === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1]!)) {
          cur += line[i + 1];
          i += 2;
        } else if (d === '"') {
          closed = true;
          i++;
          break;
        } else {
          cur += d;
          i++;
        }
      }
      if (!closed) throw new Error('No closing quotation');
      inToken = true;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('No escaped character');
      cur += line[i + 1];
      inToken = true;
      i += 2;
    } else {
      cur += c;
      inToken = true;
      i++;
    }
  }
  if (inToken) tokens.push(cur);
  return tokens;
}

/** A value Python's `ast.literal_eval` would make a list, dict, tuple or set: not a label. */
export class ComplexValue {
  constructor(readonly text: string) {}
}

/** Thrown inside {@link parsePythonLiteral} when the text is not a literal. */
class NotALiteral extends Error {}

/**
 * A subset-exact reading of Python's `ast.literal_eval`: strings, ints (decimal, `0x`, `0o`,
 * `0b`, underscores), floats, `True`/`False`/`None`, unary `+`/`-`, and lists, tuples, sets and
 * dicts of those. Containers come back as {@link ComplexValue}; anything else is not a literal.
 */
function parsePythonLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (): never => {
    throw new NotALiteral();
  };
  const value = (depth: number): unknown => {
    if (depth > 50) fail();
    ws();
    const c = text[i];
    if (c === undefined) return fail();
    if (c === "'" || c === '"') {
      const triple = text.startsWith(c.repeat(3), i);
      const q = triple ? c.repeat(3) : c;
      i += q.length;
      let out = '';
      for (;;) {
        if (i >= text.length) fail();
        if (text.startsWith(q, i)) {
          i += q.length;
          break;
        }
        if (text[i] === '\\' && i + 1 < text.length) {
          const e = text[i + 1]!;
          out += ({ n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? `\\${e}`;
          i += 2;
          continue;
        }
        if (!triple && text[i] === '\n') fail();
        out += text[i++];
      }
      // Adjacent string literals concatenate, as in Python.
      ws();
      if (text[i] === "'" || text[i] === '"') {
        const rest = value(depth + 1);
        if (typeof rest !== 'string') fail();
        return out + rest;
      }
      return out;
    }
    if (c === '[' || c === '(' || c === '{') {
      const close = c === '[' ? ']' : c === '(' ? ')' : '}';
      i++;
      ws();
      let first = true;
      while (text[i] !== close) {
        if (!first) {
          if (text[i] !== ',') fail();
          i++;
          ws();
          if (text[i] === close) break;
        }
        first = false;
        value(depth + 1);
        ws();
        if (c === '{' && text[i] === ':') {
          i++;
          value(depth + 1);
          ws();
        }
        if (i >= text.length) fail();
      }
      i++;
      return new ComplexValue(text);
    }
    if (c === '+' || c === '-') {
      i++;
      const v = value(depth + 1);
      if (typeof v !== 'number') fail();
      return c === '-' ? -(v as number) : v;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (word) {
      i += word[0].length;
      if (word[0] === 'True') return true;
      if (word[0] === 'False') return false;
      if (word[0] === 'None') return null;
      return fail();
    }
    const num = /^(0[xX](_?[0-9a-fA-F])+|0[oO](_?[0-7])+|0[bB](_?[01])+|((\d(_?\d)*)?\.\d(_?\d)*|\d(_?\d)*\.?)([eE][+-]?\d(_?\d)*)?[jJ]?)/.exec(text.slice(i));
    if (!num || num[0] === '') return fail();
    i += num[0].length;
    const t = num[0].replace(/_/g, '');
    if (/[jJ]$/.test(t)) return new ComplexValue(num[0]);
    if (/^0[xX]/.test(t)) return parseInt(t.slice(2), 16);
    if (/^0[oO]/.test(t)) return parseInt(t.slice(2), 8);
    if (/^0[bB]/.test(t)) return parseInt(t.slice(2), 2);
    if (/^\d+$/.test(t) && t.length > 1 && t.startsWith('0') && !/^0+$/.test(t)) fail(); // 007 is a syntax error in Python 3
    return Number(t);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail();
  return v;
}

/**
 * Ansible's `_parse_value` for INI values: what `ast.literal_eval` accepts becomes that Python
 * value (quoted strings unquoted, integers in any base, floats, True/False/None, containers as
 * {@link ComplexValue}); anything else stays the raw string.
 */
export function parseIniValue(v: string): unknown {
  try {
    return parsePythonLiteral(v);
  } catch (err) {
    if (err instanceof NotALiteral) return v;
    throw err;
  }
}

/** Ansible's boolean reading of a variable (`ansible_become=yes`, `true`, `1`, `on`). */
export function ansibleTruthy(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value !== 'string') return undefined;
  const v = value.toLowerCase();
  if (['yes', 'on', '1', 'true', 'y', 't'].includes(v)) return true;
  if (['no', 'off', '0', 'false', 'n', 'f', ''].includes(v)) return false;
  return undefined;
}
