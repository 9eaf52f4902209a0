import { PatchbayError } from '@patchbay/contracts';

/**
 * Stable codes of every error the remote port raises. Callers branch on these (the executor treats
 * `CONNECTION_LOST` during a reboot step as the expected drop), never on messages.
 */
export const REMOTE_ERROR_CODES = [
  'HOST_UNREACHABLE',
  'AUTH_FAILED',
  'HOST_KEY_REJECTED',
  'CONNECTION_LOST',
  'REMOTE_TIMEOUT',
  'CANCELLED',
  'INVALID_ARGV',
  'INVALID_ENV',
  'SECRET_UNAVAILABLE',
  'REBOOT_TIMEOUT',
  'BOOT_ID_UNREADABLE',
] as const;
export type RemoteErrorCode = (typeof REMOTE_ERROR_CODES)[number];

/** Base of every error of this package; `code` is one of {@link REMOTE_ERROR_CODES}. */
export abstract class RemoteError extends PatchbayError {
  declare readonly code: RemoteErrorCode;
  constructor(code: RemoteErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}

/** The endpoint could not be reached: connection refused, reset before the handshake, DNS, or connect timeout. */
export class HostUnreachableError extends RemoteError {
  constructor(endpointId: string, address: string, reason: string) {
    super('HOST_UNREACHABLE', `cannot reach ${endpointId} at ${address}: ${reason}`, { endpointId, address, reason });
  }
}

/** The endpoint refused every authentication method offered (wrong key, unknown user). */
export class AuthFailedError extends RemoteError {
  constructor(endpointId: string, user: string) {
    super('AUTH_FAILED', `authentication as ${user} on ${endpointId} failed`, { endpointId, user });
  }
}

/** The host key verifier refused the key the endpoint presented; nothing was sent to the host. */
export class HostKeyRejectedError extends RemoteError {
  constructor(endpointId: string, algorithm: string, sha256Fingerprint: string) {
    super('HOST_KEY_REJECTED', `host key ${algorithm} ${sha256Fingerprint} of ${endpointId} was rejected; refusing to connect`, {
      endpointId,
      algorithm,
      sha256Fingerprint,
    });
  }
}

/** The connection dropped while a command was running (a reboot, a crashed sshd, a cut link). */
export class ConnectionLostError extends RemoteError {
  constructor(endpointId: string, argv0: string, reason: string) {
    super('CONNECTION_LOST', `connection to ${endpointId} was lost while running ${argv0}: ${reason}`, { endpointId, argv0, reason });
  }
}

/** The command ran past its timeout and was stopped. */
export class RemoteTimeoutError extends RemoteError {
  constructor(endpointId: string, argv0: string, timeoutMs: number) {
    super('REMOTE_TIMEOUT', `${argv0} on ${endpointId} ran longer than ${timeoutMs} ms and was stopped`, { endpointId, argv0, timeoutMs });
  }
}

/** The caller's AbortSignal fired; a running command was stopped. */
export class CancelledError extends RemoteError {
  constructor(endpointId: string, argv0: string | undefined, reason?: string) {
    super('CANCELLED', `${argv0 ?? 'operation'} on ${endpointId} was cancelled${reason ? `: ${reason}` : ''}`, { endpointId, ...(argv0 ? { argv0 } : {}) });
  }
}

/** An argv cannot be passed to a remote command: empty, not strings, NUL bytes, unpaired surrogates. */
export class InvalidArgvError extends RemoteError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_ARGV', message, details);
  }
}

/** An environment variable name or value cannot be passed (names must be `[A-Za-z_][A-Za-z0-9_]*`). */
export class InvalidEnvError extends RemoteError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_ENV', message, details);
  }
}

/**
 * A `keyRef` could not be turned into a usable private key. The message names the reference and
 * the reason, never the material.
 */
export class SecretUnavailableError extends RemoteError {
  constructor(keyRef: string | undefined, reason: string) {
    super('SECRET_UNAVAILABLE', `private key ${keyRef === undefined ? '(no keyRef)' : describeKeyRef(keyRef)} is unavailable: ${reason}`, {
      ...(keyRef === undefined ? {} : { keyRef: describeKeyRef(keyRef) }),
      reason,
    });
  }
}

/** The endpoint did not come back with a new boot id in time. */
export class RebootTimeoutError extends RemoteError {
  constructor(endpointId: string, previousBootId: string, timeoutMs: number, lastErrorCode?: string) {
    super('REBOOT_TIMEOUT', `${endpointId} did not come back with a new boot id within ${timeoutMs} ms${lastErrorCode ? ` (last: ${lastErrorCode})` : ''}`, {
      endpointId,
      previousBootId,
      timeoutMs,
      ...(lastErrorCode ? { lastErrorCode } : {}),
    });
  }
}

/** `/proc/sys/kernel/random/boot_id` could not be read or is not a boot id (not a Linux host?). */
export class BootIdUnreadableError extends RemoteError {
  constructor(endpointId: string, reason: string) {
    super('BOOT_ID_UNREADABLE', `cannot read the boot id of ${endpointId}: ${reason}`, { endpointId, reason });
  }
}

/** A key reference as safe to show: the scheme and its locator, capped; never resolved content. */
function describeKeyRef(keyRef: string): string {
  return keyRef.length > 200 ? `${keyRef.slice(0, 200)}…` : keyRef;
}
