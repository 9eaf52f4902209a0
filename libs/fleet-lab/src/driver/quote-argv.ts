import { InvalidArgvError } from './errors.js';

// Characters that mean nothing to any POSIX shell in any position of a word (except `=` in the
// first word, handled below). Everything else is single-quoted.
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
// With the `u` flag a surrogate range matches only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Quotes one argument for a POSIX shell. Safe words stay bare for readable logs; anything else is
 * wrapped in single quotes, inside which the shell interprets nothing, with each `'` written as
 * `'\''` (close, escaped quote, reopen).
 */
export function quoteArg(arg: string): string {
  if (arg.length > 0 && SAFE.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The one audited way to turn argv into a command string for a remote POSIX shell (sshd runs the
 * exec request through the user's shell). `sh -c` of the result runs exactly `argv`, no expansion,
 * no word splitting. A first word containing `=` is quoted so the shell cannot take it for a
 * variable assignment.
 *
 * @throws InvalidArgvError for an empty argv, a NUL byte (cannot exist in a C argv) or an
 *   unpaired UTF-16 surrogate (has no UTF-8 encoding, so it would arrive altered).
 */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new InvalidArgvError('argv must not be empty');
  return argv
    .map((arg, i) => {
      if (typeof arg !== 'string') throw new InvalidArgvError(`argv[${i}] is not a string`, { index: i });
      if (arg.includes('\0')) throw new InvalidArgvError(`argv[${i}] contains a NUL byte`, { index: i });
      if (LONE_SURROGATE.test(arg)) throw new InvalidArgvError(`argv[${i}] contains an unpaired surrogate`, { index: i });
      if (i === 0 && arg.includes('=')) return `'${arg.replaceAll("'", `'\\''`)}'`;
      return quoteArg(arg);
    })
    .join(' ');
}
