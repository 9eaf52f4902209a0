/**
 * The one port through which Patchbay runs anything on an endpoint. Pure types: services code
 * against `RemoteExecutor`; the ssh2 adapter (and any test double) implements it.
 *
 * Commands are argv arrays, never shell strings. The adapter turns argv into the single command
 * line an SSH exec request carries with {@link quoteArgv}, the one audited quoting function.
 */

/** Where and as whom to run a command. Mirrors `SshIdentity` from `@patchbay/contracts` plus the endpoint id. */
export interface RemoteTarget {
  /** Stable endpoint id; the adapter keeps one connection per id. */
  readonly endpointId: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Names the private key in the controller's secret store (`file:<path>`, `env:<VAR>`); never the key itself. */
  readonly keyRef?: string;
  /** Default for {@link RunOptions.sudo} on this endpoint (a non-root automation account). */
  readonly sudo?: boolean;
}

/** How to run one command. */
export interface RunOptions {
  /** Prefix argv with `sudo -n --` (never prompts: a missing sudo rule fails at once). Defaults to `target.sudo`. */
  readonly sudo?: boolean;
  /** Stop the command after this long (ms). Defaults to the adapter's default timeout. */
  readonly timeoutMs?: number;
  /** Aborting stops the command (or the wait for a connection/channel) and rejects with `CANCELLED`. */
  readonly signal?: AbortSignal;
  /**
   * Environment for the command, passed as `env NAME=value` arguments (sshd drops most `env`
   * requests). Names must match `[A-Za-z_][A-Za-z0-9_]*`; values must not contain NUL.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the command's standard input, which is then closed. Without it stdin is closed at once. */
  readonly stdin?: string | Uint8Array;
  /** Bytes of each stream's tail kept in memory (the rest is only counted and hashed). */
  readonly outputCapBytes?: number;
  /** Lines of each stream's tail returned in `stdoutTail`/`stderrTail`. */
  readonly tailLines?: number;
  /**
   * Also return stdout from its start, up to this many bytes, in `CommandResult.stdout` (for
   * parsers: `apt list --upgradable`, `df`, `/etc/os-release`).
   */
  readonly captureStdout?: number;
}

/**
 * What a finished command left behind. A non-zero exit is a result, not an error: the caller
 * decides what a failure means for its step.
 */
export interface CommandResult {
  /** Exit status, or null when the command died from a signal (see `signal`). */
  readonly exitCode: number | null;
  /** Signal name without `SIG` (`TERM`, `KILL`) when the command died from one. */
  readonly signal?: string;
  readonly durationMs: number;
  /** ISO-8601 time the exec request was sent. */
  readonly startedAt: string;
  /** Last lines of stdout (at most `tailLines` lines and `outputCapBytes` bytes). */
  readonly stdoutTail: string;
  readonly stderrTail: string;
  /** Total bytes each stream produced. */
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  /** True when a tail or the captured stdout is not the whole stream. */
  readonly truncated: boolean;
  /**
   * Hex SHA-256 over both full streams: `sha256(sha256(stdout) ‖ sha256(stderr))` with the inner
   * digests raw (32 bytes each). Computed while streaming, so it is exact whatever was kept.
   */
  readonly digest: string;
  /** Stdout from its start, up to `captureStdout` bytes; present only when asked for. */
  readonly stdout?: string;
}

/** A host key as presented during the handshake, before anything else is sent. */
export interface PresentedHostKey {
  /** Key type from the blob: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  readonly algorithm: string;
  /** OpenSSH style: `SHA256:` + unpadded base64 of the blob's SHA-256 (as `ssh-keygen -lf` prints). */
  readonly sha256Fingerprint: string;
  /** The wire-format public key blob, base64 (the second field of a known_hosts line). */
  readonly publicKeyBase64: string;
}

/**
 * Decides whether to talk to a host presenting this key. The inventory service implements pinning
 * (accept the pinned key, reject any other; trust on first use only as an explicit, recorded
 * decision); the adapter only asks and refuses on `'reject'` or on a thrown error.
 */
export type HostKeyVerifier = (endpointId: string, presented: PresentedHostKey) => Promise<'accept' | 'reject'>;

/** Options of {@link RemoteExecutor.waitForNewBootId}. */
export interface WaitForBootOptions {
  /** Give up with `REBOOT_TIMEOUT` after this long (ms). */
  readonly timeoutMs: number;
  /** Pause between attempts while the host is down or still on the old boot (ms). Default 150. */
  readonly pollIntervalMs?: number;
  readonly signal?: AbortSignal;
}

/** Runs argv on endpoints. Errors are `RemoteError`s with the codes in `REMOTE_ERROR_CODES`. */
export interface RemoteExecutor {
  /**
   * Runs one command and resolves with its result once it has exited.
   * @throws INVALID_ARGV, INVALID_ENV, SECRET_UNAVAILABLE, HOST_UNREACHABLE, AUTH_FAILED,
   *   HOST_KEY_REJECTED, CONNECTION_LOST, REMOTE_TIMEOUT, CANCELLED
   */
  run(target: RemoteTarget, argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * The endpoint's current boot id (`/proc/sys/kernel/random/boot_id`).
   * @throws BOOT_ID_UNREADABLE, and the connection errors of `run`
   */
  readBootId(target: RemoteTarget, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<string>;
  /**
   * Waits until the endpoint answers with a boot id other than `previousBootId`, reconnecting
   * every `pollIntervalMs` while it is down. Resolves with the new boot id.
   * @throws REBOOT_TIMEOUT, HOST_KEY_REJECTED (a host back with another key is refused, not waited for), CANCELLED
   */
  waitForNewBootId(target: RemoteTarget, previousBootId: string, options: WaitForBootOptions): Promise<string>;
  /** Closes the connection to one endpoint, or all of them. Running commands end with `CONNECTION_LOST`. */
  close(endpointId?: string): Promise<void>;
}
