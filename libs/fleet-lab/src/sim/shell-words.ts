import { ShellSyntaxError } from './errors.js';

/** One token of a POSIX shell command line: a word after quote removal, or a control operator. */
export type ShellToken = { kind: 'word'; value: string } | { kind: 'op'; value: ShellOperator };

/** Control and redirection operators the tokenizer recognises (the simulated shell runs only `;`, `&&`, `||`). */
export type ShellOperator = ';' | '&&' | '||' | '|' | '&' | '<' | '>' | '>>' | '(' | ')';

const OPERATOR_START = new Set([';', '&', '|', '<', '>', '(', ')']);

/**
 * Splits a command line into words and operators by the POSIX shell's quoting rules
 * (single quotes, double quotes with their four escapable characters, backslash, line continuation,
 * comments). It never expands anything: an unquoted or double-quoted `$` or backquote raises
 * {@link ShellSyntaxError}, because faithfully expanding it would need a real shell and silently
 * keeping it would answer a different command than the one sent.
 */
export function tokenizeShell(input: string): ShellToken[] {
  const tokens: ShellToken[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const n = input.length;
  const endWord = (): void => {
    if (inWord) tokens.push({ kind: 'word', value: word });
    word = '';
    inWord = false;
  };
  while (i < n) {
    const c = input[i]!;
    if (c === "'") {
      const close = input.indexOf("'", i + 1);
      if (close < 0) throw new ShellSyntaxError('unterminated single quote', { at: i });
      word += input.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= n) throw new ShellSyntaxError('unterminated double quote', { at: i });
        const d = input[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n && '$`"\\\n'.includes(input[i + 1]!)) {
          if (input[i + 1] !== '\n') word += input[i + 1];
          i += 2;
          continue;
        }
        if (d === '$' || d === '`') throw new ShellSyntaxError(`unsupported expansion '${d}' inside double quotes`, { at: i });
        word += d;
        i++;
      }
    } else if (c === '\\') {
      if (i + 1 >= n) {
        // A trailing backslash is kept literally, as dash and bash do.
        word += '\\';
        inWord = true;
        i++;
      } else if (input[i + 1] === '\n') {
        i += 2;
      } else {
        word += input[i + 1];
        inWord = true;
        i += 2;
      }
    } else if (c === ' ' || c === '\t') {
      endWord();
      i++;
    } else if (c === '\n') {
      endWord();
      tokens.push({ kind: 'op', value: ';' });
      i++;
    } else if (c === '#' && !inWord) {
      const nl = input.indexOf('\n', i);
      i = nl < 0 ? n : nl;
    } else if (c === '$' || c === '`') {
      throw new ShellSyntaxError(`unsupported expansion '${c}'`, { at: i });
    } else if (OPERATOR_START.has(c)) {
      endWord();
      const two = input.slice(i, i + 2);
      if (two === '&&' || two === '||' || two === '>>') {
        tokens.push({ kind: 'op', value: two });
        i += 2;
      } else {
        tokens.push({ kind: 'op', value: c as ShellOperator });
        i++;
      }
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  endWord();
  return tokens;
}

/** Words of a command line that must be one simple command (no operators); the inverse of quoteArgv. */
export function parseShellWords(input: string): string[] {
  return tokenizeShell(input).map((t) => {
    if (t.kind === 'op') throw new ShellSyntaxError(`unexpected operator '${t.value}'`, { operator: t.value });
    return t.value;
  });
}

/** A simple command of a list and the operator that joins it to the previous one. */
export interface ListItem {
  /** How this command runs after the previous one: always, only on success, only on failure. */
  readonly connector: ';' | '&&' | '||';
  readonly argv: string[];
}

/**
 * Splits a command line into the `;` / `&&` / `||` list the simulated shell can run. Pipes,
 * redirections, background jobs and subshells raise {@link ShellSyntaxError}.
 */
export function parseCommandList(input: string): ListItem[] {
  const items: ListItem[] = [];
  let connector: ListItem['connector'] = ';';
  let argv: string[] = [];
  for (const t of tokenizeShell(input)) {
    if (t.kind === 'word') {
      argv.push(t.value);
      continue;
    }
    if (t.value !== ';' && t.value !== '&&' && t.value !== '||') {
      throw new ShellSyntaxError(`unsupported operator '${t.value}'`, { operator: t.value });
    }
    if (argv.length === 0) {
      // An empty command between newlines is harmless; `&&` or `||` with nothing before it is not.
      if (t.value === ';') continue;
      throw new ShellSyntaxError(`syntax error near unexpected token '${t.value}'`, { operator: t.value });
    }
    items.push({ connector, argv });
    argv = [];
    connector = t.value;
  }
  if (argv.length > 0) items.push({ connector, argv });
  else if (connector !== ';') throw new ShellSyntaxError(`syntax error: command expected after '${connector}'`);
  return items;
}
