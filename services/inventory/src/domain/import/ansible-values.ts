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

/**
 * Ansible's `_parse_value` for INI values: what `ast.literal_eval` accepts becomes that Python
 * value (quoted strings unquoted, integers, floats, True/False/None, containers); anything else
 * stays the raw string.
 */
export function parseIniValue(v: string): unknown {
  const t = v.trim();
  if (/^'(?:[^'\\]|\\.)*'$/.test(t) || /^"(?:[^"\\]|\\.)*"$/.test(t)) return t.slice(1, -1).replace(/\\(.)/g, '$1');
  if (t === 'True') return true;
  if (t === 'False') return false;
  if (t === 'None') return null;
  if (/^[+-]?\d+$/.test(t) && !/^[+-]?0\d/.test(t)) return Number(t);
  if (/^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/.test(t) && /[.eE]/.test(t)) return Number(t);
  if (/^[[{(]/.test(t) && /[\]})]$/.test(t)) return new ComplexValue(t);
  return v;
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
