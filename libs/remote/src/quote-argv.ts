import { InvalidArgvError } from './errors.js';

// Characters that mean nothing to a POSIX shell anywhere in a word. Everything else is
// single-quoted. `=` is safe except in a first word (an assignment), handled below.
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
// With the `u` flag a surrogate range matches only unpaired halves: those have no UTF-8 encoding,
// so such an argument would arrive altered.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
// Words a shell parses as syntax when they come first (POSIX reserved words plus bash's).
const RESERVED_WORDS = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'do',
  'done',
  'case',
  'esac',
  'while',
  'until',
  'for',
  'in',
  'function',
  'select',
  'time',
  'coproc',
]);

/**
 * Quotes one argument for a POSIX shell. Safe words stay bare so logs stay readable; anything else
 * is wrapped in single quotes, inside which a shell interprets nothing, with each `'` written as
 * `'\''` (close the quote, an escaped quote, reopen).
 */
export function quoteArg(arg: string): string {
  if (arg.length > 0 && SAFE_WORD.test(arg)) return arg;
  return singleQuoted(arg);
}

/**
 * The one audited way to turn argv into a command line for a remote POSIX shell (sshd hands an
 * exec request to the login shell's `-c`). `sh -c` of the result runs exactly `argv`: no
 * expansion, no word splitting, no globbing, no command substitution. The first word is also
 * quoted when a shell would read it as an assignment (`a=b`) or a reserved word (`if`, `time`).
 *
 * @throws InvalidArgvError (`INVALID_ARGV`) for an empty argv, a non-string element, a NUL byte
 *   (cannot exist in a C argv) or an unpaired UTF-16 surrogate.
 */
export function quoteArgv(argv: readonly string[]): string {
  validateArgv(argv);
  return argv.map((arg, i) => (i === 0 && (arg.includes('=') || RESERVED_WORDS.has(arg)) ? singleQuoted(arg) : quoteArg(arg))).join(' ');
}

/**
 * Checks that argv can be passed to a remote program unchanged.
 * @throws InvalidArgvError (`INVALID_ARGV`)
 */
export function validateArgv(argv: readonly string[]): void {
  if (!Array.isArray(argv)) throw new InvalidArgvError('argv must be an array of strings');
  if (argv.length === 0) throw new InvalidArgvError('argv must not be empty');
  argv.forEach((arg: unknown, i) => {
    if (typeof arg !== 'string') throw new InvalidArgvError(`argv[${i}] is not a string`, { index: i, type: typeof arg });
    if (arg.includes('\0')) throw new InvalidArgvError(`argv[${i}] contains a NUL byte`, { index: i });
    if (LONE_SURROGATE.test(arg)) throw new InvalidArgvError(`argv[${i}] contains an unpaired UTF-16 surrogate`, { index: i });
  });
}

function singleQuoted(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
