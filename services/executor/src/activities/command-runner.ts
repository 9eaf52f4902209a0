import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PatchbayError, type CommandRecord } from '@patchbay/contracts';
import type { CommandResult, RemoteExecutor, RemoteTarget } from '@patchbay/remote';

/** Bytes of each stream's tail kept in an event; the digest still covers the whole output. */
export const EVENT_TAIL_BYTES = 4096;
/** Lines of each stream's tail kept in an event. */
export const EVENT_TAIL_LINES = 20;

/** A command's result in the shape a step reads: exit code, captured stdout, and the record for the event. */
export interface RanCommand {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  record: CommandRecord;
}

function tail(text: string, lines = EVENT_TAIL_LINES, bytes = EVENT_TAIL_BYTES): string {
  let t = text.split('\n').slice(-(lines + 1)).join('\n');
  if (Buffer.byteLength(t) > bytes) t = Buffer.from(t).subarray(-bytes).toString('utf8');
  return t;
}

/** Turns a remote result into the record an event stores (tails capped again to the event limit). */
export function recordOf(argv: readonly string[], r: CommandResult, on: 'endpoint' | 'controller' = 'endpoint'): CommandRecord {
  return {
    argv: argv.map((a) => a.slice(0, 8192)),
    on,
    exitCode: r.exitCode,
    ...(r.signal ? { signal: r.signal } : {}),
    durationMs: r.durationMs,
    digest: r.digest,
    stdoutTail: tail(r.stdoutTail),
    stderrTail: tail(r.stderrTail),
    stdoutBytes: r.stdoutBytes,
    stderrBytes: r.stderrBytes,
    truncated: r.truncated || r.stdoutTail.length > EVENT_TAIL_BYTES || r.stderrTail.length > EVENT_TAIL_BYTES,
  };
}

/** `sha256(sha256(stdout) ‖ sha256(stderr))`, the same digest the remote port computes. */
export function outputDigest(stdout: Buffer, stderr: Buffer): string {
  const a = createHash('sha256').update(stdout).digest();
  const b = createHash('sha256').update(stderr).digest();
  return createHash('sha256').update(Buffer.concat([a, b])).digest('hex');
}

/** Runs argv on the endpoint through the one remote port. */
export async function runOnEndpoint(
  remote: RemoteExecutor,
  target: RemoteTarget,
  argv: readonly string[],
  opts: { timeoutMs: number; signal: AbortSignal; env?: Record<string, string>; captureStdout?: number; sudo?: boolean },
): Promise<RanCommand> {
  const r = await remote.run(target, argv, {
    timeoutMs: Math.max(1, opts.timeoutMs),
    signal: opts.signal,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.sudo !== undefined ? { sudo: opts.sudo } : {}),
    captureStdout: opts.captureStdout ?? 65_536,
    outputCapBytes: 65_536,
    tailLines: 200,
  });
  return { exitCode: r.exitCode, stdout: r.stdout ?? r.stdoutTail, stderr: r.stderrTail, record: recordOf(argv, r) };
}

/**
 * Runs argv on the controller (a snapshot or drain hook next to Patchbay), without a shell. The
 * output kept in memory is bounded; the digest is computed over what was kept (at most 1 MiB).
 */
export function runOnController(argv: readonly string[], opts: { timeoutMs: number; signal: AbortSignal }): Promise<RanCommand> {
  const started = Date.now();
  if (opts.signal.aborted) return Promise.reject(new PatchbayError('CANCELLED', `${argv[0]} on the controller was cancelled`));
  return new Promise((resolve, reject) => {
    execFile(
      argv[0]!,
      argv.slice(1),
      { timeout: Math.max(1, opts.timeoutMs), signal: opts.signal, maxBuffer: 1024 * 1024, encoding: 'buffer', killSignal: 'SIGTERM' },
      (error, stdoutBuf, stderrBuf) => {
        const stdout = Buffer.from(stdoutBuf ?? []);
        const stderr = Buffer.from(stderrBuf ?? []);
        const e = error as (NodeJS.ErrnoException & { code?: unknown; signal?: string | null }) | null;
        // The step's or the run's signal stopped it: a cancellation (the runner tells a timeout apart), not a failed command.
        if (e && opts.signal.aborted) {
          reject(new PatchbayError('CANCELLED', `${argv[0]} on the controller was cancelled`));
          return;
        }
        const exitCode = e ? (typeof e.code === 'number' ? e.code : e.signal ? null : 127) : 0;
        const extra = e && typeof e.code === 'string' ? `\n${e.code}: ${e.message}` : '';
        const out = stdout.toString('utf8');
        const err = stderr.toString('utf8') + extra;
        resolve({
          exitCode,
          stdout: out,
          stderr: err,
          record: {
            argv: argv.map((a) => a.slice(0, 8192)),
            on: 'controller',
            exitCode,
            ...(e?.signal ? { signal: e.signal.replace(/^SIG/, '') } : {}),
            durationMs: Date.now() - started,
            digest: outputDigest(stdout, stderr),
            stdoutTail: tail(out),
            stderrTail: tail(err),
            stdoutBytes: stdout.length,
            stderrBytes: stderr.length,
            truncated: out.length > EVENT_TAIL_BYTES || err.length > EVENT_TAIL_BYTES,
          },
        });
      },
    );
  });
}

/** Makes an HTTP call (a load balancer's admin API, a health page) and records its status. */
export async function callHttp(
  req: { method: string; url: string; headers?: Record<string, string>; body?: string },
  opts: { timeoutMs: number; signal: AbortSignal },
): Promise<{ status: number | null; body: string; error?: string; record: CommandRecord }> {
  const started = Date.now();
  let status: number | null = null;
  let body = '';
  let error: string | undefined;
  try {
    const res = await fetch(req.url, {
      method: req.method,
      ...(req.headers ? { headers: req.headers } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal: AbortSignal.any([opts.signal, AbortSignal.timeout(Math.max(1, opts.timeoutMs))]),
      redirect: 'manual',
    });
    status = res.status;
    body = (await res.text()).slice(0, 1024 * 1024);
  } catch (e) {
    if (opts.signal.aborted) throw new PatchbayError('CANCELLED', `${req.method} ${req.url} was cancelled`);
    error = (e as Error).message;
  }
  const buf = Buffer.from(body);
  return {
    status,
    body,
    ...(error ? { error } : {}),
    record: {
      // Headers stay out of the record: they often carry credentials.
      argv: [req.method, req.url],
      on: 'http',
      exitCode: null,
      ...(status !== null ? { status } : {}),
      durationMs: Date.now() - started,
      digest: outputDigest(buf, Buffer.from(error ?? '')),
      stdoutTail: tail(body),
      stderrTail: error ?? '',
      stdoutBytes: buf.length,
      stderrBytes: error ? Buffer.byteLength(error) : 0,
      truncated: body.length > EVENT_TAIL_BYTES,
    },
  };
}
