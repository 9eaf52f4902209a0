import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Span } from '@opentelemetry/api';
import { PatchbayError, ValidationError } from '@patchbay/contracts';
import { sshMetrics, withSpan, SpanKind } from '@patchbay/telemetry';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import {
  AuthFailedError,
  BootIdUnreadableError,
  CancelledError,
  ConnectionLostError,
  HostKeyRejectedError,
  HostUnreachableError,
  RebootTimeoutError,
  RemoteError,
  RemoteTimeoutError,
  SecretUnavailableError,
} from './errors.js';
import { describeHostKey, sshCryptoBackend } from './host-key.js';
import { combinedDigest, OutputTail } from './output-tail.js';
import type { CommandResult, HostKeyVerifier, PresentedHostKey, RemoteExecutor, RemoteTarget, RunOptions, WaitForBootOptions } from './port.js';
import { buildRemoteCommand, buildStopCommand } from './remote-command.js';
import { BuiltinSecretResolver, type SecretResolver } from './secret-resolver.js';

/** Structured log callback; fields never carry key material. Fits pino as `(l, m, f) => logger[l](f, m)`. */
export type RemoteLog = (level: 'debug' | 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;

/** Options of {@link Ssh2RemoteExecutor}. */
export interface Ssh2RemoteExecutorOptions {
  /** Asked about every host key before anything is sent to the host. Required: there is no "accept all". */
  hostKeyVerifier: HostKeyVerifier;
  /** Resolves `keyRef`s; default {@link BuiltinSecretResolver} (`file:`, `env:`). */
  secretResolver?: SecretResolver;
  /** Used for targets without a `keyRef`. */
  defaultKeyRef?: string;
  /** TCP connect + SSH handshake + authentication (ms). Default 10,000. */
  connectTimeoutMs?: number;
  /** SSH keepalive interval (ms); 3 missed answers end the connection. Default 5,000. */
  keepaliveIntervalMs?: number;
  /** Channels open at once per connection (OpenSSH's MaxSessions defaults to 10). Default 8, at most 10. */
  maxChannelsPerConnection?: number;
  /** Timeout of a command without `timeoutMs` (ms). Default 600,000. */
  defaultTimeoutMs?: number;
  /** After SIGTERM, how long a stopped command may take to exit before SIGKILL and closing the channel (ms). Default 2,000. */
  stopGraceMs?: number;
  /**
   * Make sure a stopped command dies on the host (see README): each command runs as
   * `exec [sudo -n --] timeout -k <grace> <deadline> env PATCHBAY_RUN_ID=<id> …`, and stopping it
   * sends TERM (then KILL) both as an SSH signal and through a second channel to every process
   * carrying the run id. Default true. Endpoints without GNU `timeout`, or the simulated fleet
   * (whose shell does not interpret `exec`), set false: then stopping only closes the channel.
   */
  remoteProcessControl?: boolean;
  /** Tail bytes kept per stream when `outputCapBytes` is not given. Default 65,536. */
  outputCapBytes?: number;
  /** Tail lines returned per stream when `tailLines` is not given. Default 50. */
  tailLines?: number;
  log?: RemoteLog;
}

const TRACER = '@patchbay/remote';
const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One SSH connection to one endpoint, shared by that endpoint's commands. */
interface Connection {
  readonly identity: string;
  readonly client: Client;
  ready: Promise<void>;
  closed: boolean;
  /** `close()` was called; a handshake still waiting for its key gives up. */
  closing: boolean;
  closeReason: string;
  active: number;
  readonly waiters: Array<() => void>;
  /** Ends the commands running on this connection when it drops. */
  readonly onDrop: Set<(reason: string) => void>;
  readonly closedPromise: Promise<void>;
}

/**
 * The ssh2 adapter of {@link RemoteExecutor}: one persistent connection per endpoint (reconnected
 * on the next use after a drop), up to `maxChannelsPerConnection` commands at once on it, host keys
 * checked by the injected verifier, private keys from `keyRef`s, output held in bounded memory.
 */
export class Ssh2RemoteExecutor implements RemoteExecutor {
  private readonly connections = new Map<string, Connection>();
  private readonly opts: Required<Omit<Ssh2RemoteExecutorOptions, 'defaultKeyRef' | 'log'>> & Pick<Ssh2RemoteExecutorOptions, 'defaultKeyRef' | 'log'>;
  /** Which crypto ssh2 uses in this process; logged once at construction. */
  readonly cryptoBackend: 'native' | 'javascript';

  constructor(options: Ssh2RemoteExecutorOptions) {
    if (typeof options?.hostKeyVerifier !== 'function') throw new TypeError('Ssh2RemoteExecutor needs a hostKeyVerifier');
    this.opts = {
      secretResolver: new BuiltinSecretResolver(),
      connectTimeoutMs: 10_000,
      keepaliveIntervalMs: 5_000,
      maxChannelsPerConnection: 8,
      defaultTimeoutMs: 600_000,
      stopGraceMs: 2_000,
      remoteProcessControl: true,
      outputCapBytes: 65_536,
      tailLines: 50,
      ...options,
    };
    if (!Number.isInteger(this.opts.maxChannelsPerConnection) || this.opts.maxChannelsPerConnection < 1 || this.opts.maxChannelsPerConnection > 10) {
      throw new RangeError('maxChannelsPerConnection must be an integer from 1 to 10');
    }
    this.cryptoBackend = sshCryptoBackend();
    this.opts.log?.(this.cryptoBackend === 'native' ? 'info' : 'warn', 'ssh2 crypto backend', { backend: this.cryptoBackend });
  }

  /** {@inheritDoc RemoteExecutor.run} */
  async run(target: RemoteTarget, argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const command = this.commandLine(argv, options, target);
    const argv0 = argv[0]!;
    const timeoutMs = options.timeoutMs ?? this.opts.defaultTimeoutMs;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new ValidationError(`timeoutMs must be a positive number, got ${timeoutMs}`, { timeoutMs });
    throwIfAborted(options.signal, target.endpointId, argv0);
    return withSpan(
      'ssh.exec',
      async (span) => {
        // randomUUID draws on a cached entropy pool (randomBytes(16) was a synchronous fill per command).
        const runId = randomUUID().replaceAll('-', '');
        const stopVia = this.opts.remoteProcessControl ? { runId, sudo: command.sudo } : undefined;
        const result = await this.runOnce(target, command.build(timeoutMs, runId), stopVia, argv0, timeoutMs, options);
        span.setAttributes({
          'process.exit.code': result.exitCode ?? -1,
          'patchbay.remote.stdout_bytes': result.stdoutBytes,
          'patchbay.remote.stderr_bytes': result.stderrBytes,
          ...(result.signal ? { 'patchbay.remote.signal': result.signal } : {}),
        });
        return result;
      },
      {
        kind: SpanKind.CLIENT,
        tracer: TRACER,
        attributes: {
          'patchbay.endpoint.id': target.endpointId,
          // argv[0] only: the program is what a trace reader needs; arguments stay out of attributes.
          'process.executable.name': argv0.slice(0, 64),
          'patchbay.remote.sudo': options.sudo ?? target.sudo ?? false,
        },
      },
    );
  }

  /** {@inheritDoc RemoteExecutor.readBootId} */
  async readBootId(target: RemoteTarget, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string> {
    const r = await this.run(target, ['cat', '/proc/sys/kernel/random/boot_id'], {
      timeoutMs: options.timeoutMs ?? 10_000,
      ...(options.signal ? { signal: options.signal } : {}),
      sudo: false,
      captureStdout: 128,
    });
    const id = (r.stdout ?? '').trim();
    if (r.exitCode !== 0 || !BOOT_ID.test(id)) {
      throw new BootIdUnreadableError(target.endpointId, `exit ${r.exitCode ?? r.signal}: ${(r.stderrTail || r.stdoutTail).trim().slice(0, 200)}`);
    }
    return id;
  }

  /** {@inheritDoc RemoteExecutor.waitForNewBootId} */
  async waitForNewBootId(target: RemoteTarget, previousBootId: string, options: WaitForBootOptions): Promise<string> {
    const pollIntervalMs = options.pollIntervalMs ?? 150;
    const deadline = Date.now() + options.timeoutMs;
    let lastCode: string | undefined;
    return withSpan(
      'ssh.wait_for_boot',
      async (span: Span) => {
        let attempts = 0;
        let cutByDeadline = false;
        for (;;) {
          throwIfAborted(options.signal, target.endpointId, undefined);
          const remaining = deadline - Date.now();
          if (remaining <= 0) throw new RebootTimeoutError(target.endpointId, previousBootId, options.timeoutMs, lastCode);
          attempts++;
          try {
            // Short per-attempt limits: a host that is going down must not hold the poll for long.
            const attemptMs = Math.max(1, Math.min(remaining, 3_000));
            // A last attempt the overall deadline cut short says nothing about the host.
            cutByDeadline = remaining < 3_000;
            const id = await this.readBootIdWithin(target, attemptMs, options.signal);
            if (id !== previousBootId) {
              span.setAttribute('patchbay.remote.attempts', attempts);
              return id;
            }
            lastCode = 'SAME_BOOT_ID';
          } catch (e) {
            if (!(e instanceof RemoteError)) throw e;
            // A host back with another key, or a key we cannot load, will not fix itself by waiting.
            if (e.code === 'HOST_KEY_REJECTED' || e.code === 'SECRET_UNAVAILABLE' || e.code === 'CANCELLED') throw e;
            if (e.code === 'REMOTE_TIMEOUT') await this.close(target.endpointId);
            if (!(e.code === 'REMOTE_TIMEOUT' && cutByDeadline && lastCode !== undefined)) lastCode = e.code;
          }
          const pause = Math.min(pollIntervalMs, deadline - Date.now());
          if (pause > 0) {
            try {
              await sleep(pause, undefined, options.signal ? { signal: options.signal } : {});
            } catch {
              throw new CancelledError(target.endpointId, undefined, 'while waiting for a new boot id');
            }
          }
        }
      },
      { tracer: TRACER, attributes: { 'patchbay.endpoint.id': target.endpointId } },
    );
  }

  /** {@inheritDoc RemoteExecutor.close} */
  async close(endpointId?: string): Promise<void> {
    const ids = endpointId === undefined ? [...this.connections.keys()] : [endpointId];
    await Promise.all(
      ids.map(async (id) => {
        const conn = this.connections.get(id);
        if (!conn) return;
        this.connections.delete(id);
        conn.closeReason = 'closed by the controller';
        conn.closing = true;
        conn.client.end();
        const t = setTimeout(() => conn.client.destroy(), 1_000);
        // A connection still resolving its key has no socket yet; the handshake sees `closing`.
        await Promise.race([conn.closedPromise, sleep(1_500)]);
        clearTimeout(t);
      }),
    );
  }

  // ---- internals ---------------------------------------------------------------------------

  private async readBootIdWithin(target: RemoteTarget, ms: number, signal: AbortSignal | undefined): Promise<string> {
    await this.connection(target, signal, ms);
    return this.readBootId(target, { timeoutMs: ms, ...(signal ? { signal } : {}) });
  }

  /** Validates argv, env and sudo once and returns how to build the command line for a given timeout. */
  private commandLine(
    argv: readonly string[],
    options: RunOptions,
    target: RemoteTarget,
  ): { sudo: boolean; build: (timeoutMs: number, runId: string) => string } {
    const sudo = options.sudo ?? target.sudo ?? false;
    const spec = { sudo, ...(options.env ? { env: options.env } : {}) };
    // Validate now, before any span or connection: the run id only needs to have the right shape.
    buildRemoteCommand(argv, this.opts.remoteProcessControl ? { ...spec, runId: '0'.repeat(32) } : spec);
    return {
      sudo,
      // The remote deadline is a backstop one second after the controller's own timer, which
      // stops the command first and reports REMOTE_TIMEOUT.
      build: (timeoutMs, runId) =>
        buildRemoteCommand(
          argv,
          this.opts.remoteProcessControl ? { ...spec, runId, deadline: { deadlineMs: timeoutMs + 1_000, killAfterMs: this.opts.stopGraceMs } } : spec,
        ),
    };
  }

  private async runOnce(
    target: RemoteTarget,
    command: string,
    stopVia: StopVia | undefined,
    argv0: string,
    timeoutMs: number,
    options: RunOptions,
  ): Promise<CommandResult> {
    // A connection found dead before anything was sent is replaced once; after the exec request
    // went out, a drop is CONNECTION_LOST and never retried (the command may have run).
    let conn = await this.connection(target, options.signal);
    await this.acquireChannel(conn, target, argv0, options.signal);
    if (conn.closed) {
      this.releaseChannel(conn);
      conn = await this.connection(target, options.signal);
      await this.acquireChannel(conn, target, argv0, options.signal);
    }
    // Timed from the exec request to the exit: connecting and waiting for a channel are not the
    // command's time (the connect has its own histogram).
    const started = performance.now();
    try {
      const result = await this.exec(conn, target, command, stopVia, argv0, timeoutMs, options);
      sshMetrics().command(performance.now() - started);
      return result;
    } catch (e) {
      sshMetrics().command(performance.now() - started, errorCode(e));
      throw e;
    } finally {
      this.releaseChannel(conn);
    }
  }

  private exec(
    conn: Connection,
    target: RemoteTarget,
    command: string,
    stopVia: StopVia | undefined,
    argv0: string,
    timeoutMs: number,
    options: RunOptions,
  ): Promise<CommandResult> {
    const endpointId = target.endpointId;
    const stdout = new OutputTail(options.outputCapBytes ?? this.opts.outputCapBytes, options.captureStdout ?? 0);
    const stderr = new OutputTail(options.outputCapBytes ?? this.opts.outputCapBytes, 0);
    const tailLines = options.tailLines ?? this.opts.tailLines;
    const startedMs = Date.now();
    const startedAt = new Date(startedMs).toISOString();

    return new Promise<CommandResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let exit: { code: number | null; signal?: string } | undefined;
      let settled = false;
      let stopping: 'timeout' | 'cancel' | undefined;
      let killTimer: NodeJS.Timeout | undefined;

      const cleanup = (): void => {
        settled = true;
        clearTimeout(timer);
        clearTimeout(killTimer);
        options.signal?.removeEventListener('abort', onAbort);
        conn.onDrop.delete(onDrop);
      };
      const fail = (e: Error): void => {
        if (settled) return;
        cleanup();
        reject(e);
      };
      const finish = (): void => {
        if (settled) return;
        if (stopping === 'timeout') return fail(new RemoteTimeoutError(endpointId, argv0, timeoutMs));
        if (stopping === 'cancel') return fail(new CancelledError(endpointId, argv0, abortReason(options.signal)));
        if (!exit) return fail(new ConnectionLostError(endpointId, argv0, conn.closed ? conn.closeReason : 'channel closed without an exit status'));
        cleanup();
        const out = stdout.tail(tailLines);
        const err = stderr.tail(tailLines);
        const captured = options.captureStdout !== undefined ? stdout.capture() : undefined;
        resolve({
          exitCode: exit.code,
          ...(exit.signal ? { signal: exit.signal } : {}),
          durationMs: Date.now() - startedMs,
          startedAt,
          stdoutTail: out.text,
          stderrTail: err.text,
          stdoutBytes: stdout.bytes,
          stderrBytes: stderr.bytes,
          truncated: !out.complete || !err.complete || (captured !== undefined && !captured.complete),
          digest: combinedDigest(stdout, stderr),
          ...(captured ? { stdout: captured.text } : {}),
        });
      };
      // TERM first so the program (and, through `timeout`, its process group) can exit; KILL and
      // a closed channel if it has not after the grace period. The SSH signal does not reach root
      // sessions (OpenSSH delivers it only from a privilege-separated child), hence the second
      // channel that signals by run id.
      const beginStop = (ch: ClientChannel): void => {
        sendSignal(conn.client, ch, 'TERM');
        if (stopVia) signalRun(conn.client, stopVia, 'TERM');
        killTimer = setTimeout(() => {
          sendSignal(conn.client, ch, 'KILL');
          if (stopVia) signalRun(conn.client, stopVia, 'KILL');
          ch.close();
          // A server that never confirms the close must not hold the caller.
          killTimer = setTimeout(finish, 1_000);
        }, this.opts.stopGraceMs);
      };
      const stop = (why: 'timeout' | 'cancel'): void => {
        if (settled || stopping) return;
        stopping = why;
        // Before the channel is open the exec callback starts the stop (the command may be running).
        if (channel) beginStop(channel);
      };
      const onAbort = (): void => stop('cancel');
      const onDrop = (reason: string): void => {
        // Exit status already in: the command finished; the drop only cut the channel's close.
        if (exit && !stopping) return finish();
        fail(
          stopping === 'timeout'
            ? new RemoteTimeoutError(endpointId, argv0, timeoutMs)
            : stopping === 'cancel'
              ? new CancelledError(endpointId, argv0)
              : new ConnectionLostError(endpointId, argv0, reason),
        );
      };
      const timer = setTimeout(() => stop('timeout'), timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      conn.onDrop.add(onDrop);

      try {
        conn.client.exec(command, (err, ch) => {
          if (err) return fail(new ConnectionLostError(endpointId, argv0, conn.closed ? conn.closeReason : `exec refused: ${err.message}`));
          channel = ch;
          if (settled) {
            ch.close();
            return;
          }
          ch.on('data', (d: Buffer) => stdout.push(d));
          ch.stderr.on('data', (d: Buffer) => stderr.push(d));
          ch.on('exit', (code: number | null, signalName?: string) => {
            exit = typeof code === 'number' ? { code } : { code: null, ...(signalName ? { signal: signalName.replace(/^SIG/, '') } : {}) };
          });
          ch.on('error', () => undefined);
          ch.on('close', () => {
            // The connection's close is emitted before its channels', so a drop is known here.
            if (conn.closed && !exit && !stopping) return onDrop(conn.closeReason);
            finish();
          });
          quietDestroy(ch);
          if (options.stdin !== undefined) ch.end(typeof options.stdin === 'string' ? options.stdin : Buffer.from(options.stdin));
          else ch.end();
          if (stopping) beginStop(ch);
        });
      } catch (e) {
        fail(new ConnectionLostError(endpointId, argv0, (e as Error).message));
      }
    });
  }

  /** The live connection to an endpoint, opening one if there is none (or the target changed). */
  private async connection(target: RemoteTarget, signal: AbortSignal | undefined, connectTimeoutMs = this.opts.connectTimeoutMs): Promise<Connection> {
    const identity = `${target.user}@${target.host}:${target.port} ${target.keyRef ?? this.opts.defaultKeyRef ?? ''}`;
    let conn = this.connections.get(target.endpointId);
    if (conn && (conn.closed || conn.identity !== identity)) {
      if (!conn.closed) void this.close(target.endpointId);
      this.connections.delete(target.endpointId);
      conn = undefined;
    }
    if (!conn) {
      conn = this.open(target, identity, connectTimeoutMs);
      this.connections.set(target.endpointId, conn);
      const created = conn;
      created.ready.catch(() => {
        if (this.connections.get(target.endpointId) === created) this.connections.delete(target.endpointId);
      });
    }
    await raceAbort(conn.ready, signal, target.endpointId);
    return conn;
  }

  private open(target: RemoteTarget, identity: string, connectTimeoutMs: number): Connection {
    const client = new Client();
    let resolveClosed!: () => void;
    const conn: Connection = {
      identity,
      client,
      ready: Promise.resolve(),
      closed: false,
      closing: false,
      closeReason: 'connection closed',
      active: 0,
      waiters: [],
      onDrop: new Set(),
      closedPromise: new Promise<void>((r) => (resolveClosed = r)),
    };
    conn.ready = withSpan('ssh.connect', async () => {
      const started = performance.now();
      try {
        await this.handshake(target, conn, resolveClosed, connectTimeoutMs);
        sshMetrics().connected(performance.now() - started);
      } catch (e) {
        sshMetrics().connected(performance.now() - started, errorCode(e));
        throw e;
      }
    }, {
      kind: SpanKind.CLIENT,
      tracer: TRACER,
      attributes: { 'patchbay.endpoint.id': target.endpointId, 'server.address': target.host, 'server.port': target.port, 'user.name': target.user },
    });
    return conn;
  }

  private async handshake(target: RemoteTarget, conn: Connection, resolveClosed: () => void, connectTimeoutMs: number): Promise<void> {
    const keyRef = target.keyRef ?? this.opts.defaultKeyRef;
    if (keyRef === undefined) {
      conn.closed = true;
      resolveClosed();
      throw new SecretUnavailableError(undefined, `endpoint ${target.endpointId} has no keyRef and no default is configured`);
    }
    let privateKey: string | Buffer;
    try {
      privateKey = await this.opts.secretResolver.resolve(keyRef);
    } catch (e) {
      conn.closed = true;
      resolveClosed();
      // A resolver's own message could quote what it read; only ours are known to be clean.
      throw e instanceof SecretUnavailableError ? e : new SecretUnavailableError(keyRef, 'the secret resolver failed');
    }
    const client = conn.client;
    const address = `${target.host}:${target.port}`;
    if (conn.closing) {
      conn.closed = true;
      resolveClosed();
      throw new HostUnreachableError(target.endpointId, address, conn.closeReason);
    }
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      let rejectedKey: PresentedHostKey | undefined;
      let firstError: (Error & { level?: string; code?: string }) | undefined;
      client.on('error', (e: Error & { level?: string }) => {
        firstError ??= e;
        if (ready) conn.closeReason = e.message;
      });
      client.once('ready', () => {
        ready = true;
        resolve();
      });
      client.on('close', () => {
        conn.closed = true;
        if (this.connections.get(target.endpointId) === conn) this.connections.delete(target.endpointId);
        resolveClosed();
        for (const w of conn.waiters.splice(0)) w();
        for (const drop of [...conn.onDrop]) drop(conn.closeReason);
        if (ready) return;
        if (rejectedKey) return reject(new HostKeyRejectedError(target.endpointId, rejectedKey.algorithm, rejectedKey.sha256Fingerprint));
        if (firstError?.level === 'client-authentication') return reject(new AuthFailedError(target.endpointId, target.user));
        reject(new HostUnreachableError(target.endpointId, address, firstError ? connectErrorReason(firstError) : 'closed before the handshake finished'));
      });
      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey,
        readyTimeout: connectTimeoutMs,
        keepaliveInterval: this.opts.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        // Two parameters: ssh2 waits for `verify`, so the verifier may be asynchronous.
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          const presented = describeHostKey(key);
          this.opts.hostKeyVerifier(target.endpointId, presented).then(
            (decision) => {
              if (decision !== 'accept') rejectedKey = presented;
              verify(decision === 'accept');
            },
            () => {
              rejectedKey = presented;
              verify(false);
            },
          );
        },
      };
      try {
        client.connect(config);
        // Each command is a few small request/answer packets; Nagle plus delayed ACKs would add
        // about 40 ms to every one of them.
        client.setNoDelay(true);
      } catch {
        // ssh2 throws synchronously for an unparsable key; its message is not passed on.
        conn.closed = true;
        resolveClosed();
        reject(new SecretUnavailableError(keyRef, 'not a usable private key (OpenSSH or PEM, unencrypted)'));
      }
    });
  }

  private async acquireChannel(conn: Connection, target: RemoteTarget, argv0: string, signal: AbortSignal | undefined): Promise<void> {
    while (conn.active >= this.opts.maxChannelsPerConnection && !conn.closed) {
      let wake!: () => void;
      const waiting = new Promise<void>((r) => (wake = r));
      conn.waiters.push(wake);
      try {
        await raceAbort(waiting, signal, target.endpointId, argv0);
      } catch (e) {
        const i = conn.waiters.indexOf(wake);
        if (i >= 0) conn.waiters.splice(i, 1);
        throw e;
      }
    }
    conn.active++;
  }

  private releaseChannel(conn: Connection): void {
    conn.active--;
    conn.waiters.shift()?.();
  }
}

/** What stopping a run needs: its marker and whether it runs under sudo. */
interface StopVia {
  readonly runId: string;
  readonly sudo: boolean;
}

/**
 * Signals every process of a run over a channel of its own. This channel is outside the
 * per-connection bound (8 of OpenSSH's default 10 sessions), so a full connection can still stop
 * its commands. Fire and forget: the caller's grace period and the remote deadline follow.
 */
function signalRun(client: Client, via: StopVia, signal: 'TERM' | 'KILL'): void {
  try {
    client.exec(buildStopCommand(via.runId, signal, via.sudo), (err, ch) => {
      if (err) return;
      ch.on('data', () => undefined);
      ch.stderr.on('data', () => undefined);
      ch.on('error', () => undefined);
      const t = setTimeout(() => ch.close(), 5_000);
      t.unref();
      ch.on('close', () => clearTimeout(t));
      ch.end();
    });
  } catch {
    // The connection is gone; the remote deadline ends the run.
  }
}

/**
 * ssh2's `Channel.destroy()` calls `end()` even when the writable side has finished (it always has
 * by then: stdin is closed right after the exec), and Node then builds an ERR_STREAM_ALREADY_FINISHED
 * error, stack trace and all, that nobody sees: 3 % of the executor's CPU, once per command. The
 * channel is closed the same way without it.
 */
function quietDestroy(ch: ClientChannel): void {
  const destroy = ch.destroy.bind(ch);
  ch.destroy = (): ClientChannel => {
    if (!ch.writableEnded) return destroy();
    ch.close();
    return ch;
  };
}

/**
 * Sends an SSH "signal" channel request. ssh2's `ClientChannel.signal` does nothing once our side
 * has sent EOF (we close stdin right after the exec), but the request is valid on a channel that is
 * still open, so it goes straight to the protocol object. OpenSSH (≥ 7.9) delivers it with
 * `killpg` to the session's process group: the program `exec` put there, and sudo, which relays it.
 */
function sendSignal(client: Client, channel: ClientChannel, name: 'TERM' | 'KILL'): void {
  const ch = channel as unknown as { outgoing?: { id?: number; state?: string } };
  const protocol = (client as unknown as { _protocol?: { signal?: (id: number, name: string) => void } })._protocol;
  try {
    const state = ch.outgoing?.state;
    if (protocol?.signal && (state === 'open' || state === 'eof') && typeof ch.outgoing?.id === 'number') protocol.signal(ch.outgoing.id, name);
    else channel.signal(name);
  } catch {
    // The channel or connection is already gone; closing it follows.
  }
}

/** The stable code of an error for metrics; anything not ours is `INTERNAL`. */
function errorCode(e: unknown): string {
  return e instanceof PatchbayError ? e.code : 'INTERNAL';
}

function connectErrorReason(e: Error & { level?: string; code?: string }): string {
  if (e.level === 'client-timeout') return 'timed out';
  if (e.code) return e.code;
  return e.message.slice(0, 200);
}

function abortReason(signal: AbortSignal | undefined): string | undefined {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r.message : typeof r === 'string' ? r : undefined;
}

function throwIfAborted(signal: AbortSignal | undefined, endpointId: string, argv0: string | undefined): void {
  if (signal?.aborted) throw new CancelledError(endpointId, argv0, abortReason(signal));
}

/** Waits for `p` unless the signal fires first (`p` keeps running: a connection is shared). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, endpointId: string, argv0?: string): Promise<T> {
  if (!signal) return p;
  throwIfAborted(signal, endpointId, argv0);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new CancelledError(endpointId, argv0, abortReason(signal)));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
