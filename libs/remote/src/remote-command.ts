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
  /**
   * Marks the program and everything it starts with `PATCHBAY_RUN_ID=<runId>` in the environment,
   * so {@link buildStopCommand} can find exactly those processes (32 lowercase hex digits).
   */
  readonly runId?: string;
}

/** Environment variable that marks the processes of one run. */
export const RUN_ID_VARIABLE = 'PATCHBAY_RUN_ID';
const RUN_ID = /^[0-9a-f]{32}$/;

// Signals every process whose environment carries the run's marker. A constant script: the run id
// and signal arrive as positional parameters, never inside the script text. Its own environment
// has no marker, so it never signals itself.
const STOP_SCRIPT = 't="$1=$2"; for d in /proc/[0-9]*; do grep -qzxF -e "$t" "$d/environ" 2>/dev/null && kill -s "$3" "${d#/proc/}" 2>/dev/null; done; exit 0';

/**
 * The command line that sends `signal` to every process of a run started with `runId`, wherever
 * it is in the process tree (children that left the process group included). Run it as the same
 * user, with the same sudo, as the command.
 */
export function buildStopCommand(runId: string, signal: 'TERM' | 'KILL', sudo: boolean): string {
  if (!RUN_ID.test(runId)) throw new InvalidArgvError('runId must be 32 lowercase hex digits');
  return buildRemoteCommand(['sh', '-c', STOP_SCRIPT, 'patchbay-stop', RUN_ID_VARIABLE, runId, signal], { sudo });
}

/**
 * Validates argv and env and builds the one command line sent for them. Only constant words and
 * {@link quoteArgv} output make up the line; nothing from the caller is interpolated unquoted.
 *
 * Word order: `[exec] [sudo -n --] [timeout -k K D] [env N=V… PATCHBAY_RUN_ID=…] argv…`; `timeout` sits inside sudo
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
  if (spec.runId !== undefined) {
    if (!RUN_ID.test(spec.runId)) throw new InvalidArgvError('runId must be 32 lowercase hex digits');
    if (RUN_ID_VARIABLE in (spec.env ?? {})) throw new InvalidEnvError(`${RUN_ID_VARIABLE} is reserved`, { name: RUN_ID_VARIABLE });
    env.push([RUN_ID_VARIABLE, spec.runId]);
  }
  if (env.length > 0) {
    words.push('env');
    for (const [name, value] of env) {
      if (!ENV_NAME.test(name))
        throw new InvalidEnvError(`environment variable name ${JSON.stringify(name.slice(0, 64))} is not [A-Za-z_][A-Za-z0-9_]*`, { name: name.slice(0, 64) });
      if (typeof value !== 'string' || value.includes('\0'))
        throw new InvalidEnvError(`environment variable ${name} must be a string without NUL bytes`, { name });
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
