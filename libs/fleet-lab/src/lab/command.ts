import { spawn } from 'node:child_process';
import { LabCommandFailedError } from './errors.js';

/** Output of a finished command. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs a program with an argv array (never a shell string built from input) and resolves with its
 * output; rejects with {@link LabCommandFailedError} on a non-zero exit unless `allowFailure`.
 */
export function runCommand(
  argv: string[],
  opts: { input?: string; cwd?: string; allowFailure?: boolean; env?: NodeJS.ProcessEnv; maxBuffer?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? { ...process.env, LC_ALL: 'C' },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new LabCommandFailedError(argv, null, e.message)));
    child.on('close', (code) => {
      const result = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code };
      if (code !== 0 && !opts.allowFailure) reject(new LabCommandFailedError(argv, code, result.stderr || result.stdout));
      else resolve(result);
    });
    if (child.stdin) {
      // A program that exits without reading its input must not crash the lab with EPIPE.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** True when `name` resolves to an executable on PATH (or the sbin directories root uses). */
export async function hasProgram(name: string): Promise<boolean> {
  const { access, constants } = await import('node:fs/promises');
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      await access(`${dir}/${name}`, constants.X_OK);
      return true;
    } catch {
      /* try the next directory */
    }
  }
  return false;
}
