import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { PatchbayError } from '@patchbay/contracts';

/** One process of the stack: how to start it and where its logs go. */
export interface StackProcessSpec {
  name: string;
  /** Entry script run with this Node (absolute path). */
  entry: string;
  args?: string[];
  /** Options for Node itself (before the entry script), e.g. V8 heap sizes. */
  execArgv?: string[];
  env: NodeJS.ProcessEnv;
}

/** A stack process exited on its own and used up its restarts. */
export class StackProcessFailedError extends PatchbayError {
  constructor(name: string, code: number | null, signal: string | null) {
    super('STACK_PROCESS_FAILED', `${name} exited (code ${code}, signal ${signal}) and could not be restarted`, { name, code, signal });
  }
}

interface Running {
  spec: StackProcessSpec;
  child: ChildProcess;
  restarts: number;
  log: WriteStream;
}

/**
 * Supervises the stack's processes: starts them, restarts one that dies (a few times, with a
 * pause), and stops them all on request — SIGTERM first, SIGKILL after a grace period. Only the
 * processes it started are ever signalled, by pid.
 */
export class StackSupervisor {
  private readonly running = new Map<string, Running>();
  private stopping = false;
  private failure: ((err: Error) => void) | undefined;
  /** Rejects when a process cannot be kept running. */
  readonly failed: Promise<never>;

  constructor(
    private readonly logDir: string,
    private readonly maxRestarts = 3,
  ) {
    mkdirSync(logDir, { recursive: true });
    this.failed = new Promise<never>((_, reject) => (this.failure = reject));
    this.failed.catch(() => undefined);
  }

  /** Pids of the processes currently running, by name. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.running].map(([name, r]) => [name, r.child.pid]));
  }

  start(spec: StackProcessSpec): void {
    const log = this.running.get(spec.name)?.log ?? createWriteStream(join(this.logDir, `${spec.name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [...(spec.execArgv ?? []), spec.entry, ...(spec.args ?? [])], { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const entry: Running = { spec, child, restarts: this.running.get(spec.name)?.restarts ?? 0, log };
    this.running.set(spec.name, entry);
    child.once('exit', (code, signal) => {
      if (this.stopping || this.running.get(spec.name)?.child !== child) return;
      if (entry.restarts >= this.maxRestarts) {
        this.failure?.(new StackProcessFailedError(spec.name, code, signal));
        return;
      }
      entry.restarts++;
      log.write(`\n[patchbay up] ${spec.name} exited (code ${code}, signal ${signal}); restart ${entry.restarts}/${this.maxRestarts}\n`);
      setTimeout(() => !this.stopping && this.start(spec), 500 * entry.restarts);
    });
  }

  /** Stops every process: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.running.values()].map(async ({ child, log }) => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        await new Promise<void>((r) => log.end(() => r()));
      }),
    );
    this.running.clear();
  }
}
