import { InvalidArgvError, InvalidEnvError } from './errors.js';
import { quoteArgv, validateArgv } from './quote-argv.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** How one argv is wrapped into the command line of an SSH exec request. */
export interface RemoteCommandSpec {
  /** Prefix `sudo -n --` (never prompts). */
  readonly sudo?: boolean;
  /** Passed as `env NAME=value` words; names `[A-Za-z_][A-Za-z0-9_]*`, values without NUL. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * When set, the line is `exec … timeout -k <killAfterMs> <deadlineMs> …`: the program replaces
   * the login shell (so an SSH signal request reaches it) and GNU `timeout` kills its whole process
   * group at the deadline even if the controller is gone.
   */
  readonly deadline?: { readonly deadlineMs: number; readonly killAfterMs: number };
}

/**
 * Validates argv and env and builds the one command line sent for them. Only constant words and
 * {@link quoteArgv} output make up the line; nothing from the caller is interpolated unquoted.
 *
 * Word order: `[exec] [sudo -n --] [timeout -k K D] [env N=V…] argv…`; `timeout` sits inside sudo
 * so it runs as root and can kill root's processes.
 *
 * @throws InvalidArgvError (`INVALID_ARGV`) for argv that {@link validateArgv} refuses, or an argv[0]
 *   that is empty, starts with `-` or contains `=` (the prefixes would read it as an option or an
 *   assignment); InvalidEnvError (`INVALID_ENV`) for a bad name or value.
 */
export function buildRemoteCommand(argv: readonly string[], spec: RemoteCommandSpec = {}): string {
  validateArgv(argv);
  const argv0 = argv[0]!;
  if (argv0.length === 0 || argv0.startsWith('-') || argv0.includes('=')) {
    throw new InvalidArgvError('argv[0] must name a program: not empty, no leading "-", no "="', { index: 0 });
  }
  const words: string[] = [];
  if (spec.sudo) words.push('sudo', '-n', '--');
  if (spec.deadline) words.push('timeout', '-k', seconds(spec.deadline.killAfterMs), seconds(spec.deadline.deadlineMs));
  const env = Object.entries(spec.env ?? {});
  if (env.length > 0) {
    words.push('env');
    for (const [name, value] of env) {
      if (!ENV_NAME.test(name)) throw new InvalidEnvError(`environment variable name ${JSON.stringify(name.slice(0, 64))} is not [A-Za-z_][A-Za-z0-9_]*`, { name: name.slice(0, 64) });
      if (typeof value !== 'string' || value.includes('\0')) throw new InvalidEnvError(`environment variable ${name} must be a string without NUL bytes`, { name });
      words.push(`${name}=${value}`);
    }
  }
  words.push(...argv);
  return spec.deadline ? `exec ${quoteArgv(words)}` : quoteArgv(words);
}

/** `timeout`'s duration syntax: seconds with a fractional part. */
function seconds(ms: number): string {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new InvalidArgvError(`a remote deadline must be a positive number of ms, got ${ms}`);
  return `${(Math.max(1, Math.round(ms)) / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
}
