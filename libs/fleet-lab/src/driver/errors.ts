import { PatchbayError } from '@patchbay/contracts';

/** An argv element cannot be passed to a remote command (NUL byte, unpaired surrogate, empty argv). */
export class InvalidArgvError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_ARGV', message, details);
  }
}

/** A remote command exited non-zero (or was cut off) during a workflow step. */
export class RemoteCommandError extends PatchbayError {
  constructor(step: string, command: string, exitCode: number | null, stderr: string) {
    super('REMOTE_COMMAND_FAILED', `${step}: \`${command}\` exited ${exitCode ?? 'without status'}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`, {
      step,
      command,
      exitCode,
      stderr: stderr.slice(-2000),
    });
  }
}

/** The host presented a host key other than the pinned one; the driver refuses to talk to it. */
export class HostKeyChangedError extends PatchbayError {
  constructor(host: string, port: number, expected: string, actual: string) {
    super('HOST_KEY_CHANGED', `host key of ${host}:${port} changed: expected ${expected}, got ${actual}; refusing to connect`, {
      host,
      port,
      expected,
      actual,
    });
  }
}

/** The host did not come back with a new boot id within the reboot timeout. */
export class RebootTimeoutError extends PatchbayError {
  constructor(host: string, port: number, timeoutMs: number, lastError: string | undefined) {
    super('REBOOT_TIMEOUT', `${host}:${port} did not come back with a new boot id within ${timeoutMs} ms (last error: ${lastError ?? 'none'})`, {
      host,
      port,
      timeoutMs,
      lastError,
    });
  }
}

/** Connecting or authenticating failed outside of a reboot. */
export class SshConnectError extends PatchbayError {
  constructor(host: string, port: number, cause: string) {
    super('SSH_CONNECT_FAILED', `cannot connect to ${host}:${port}: ${cause}`, { host, port, cause });
  }
}

/** A pre-check found the host unfit to patch (e.g. too little free disk). */
export class PrecheckFailedError extends PatchbayError {
  constructor(step: string, message: string, details: Record<string, unknown> = {}) {
    super('PRECHECK_FAILED', `${step}: ${message}`, { step, ...details });
  }
}

/** Post-patch validation failed (application not active, port not listening). */
export class ValidationFailedError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('VALIDATION_FAILED', message, details);
  }
}

/** Command-line arguments of the driver are unusable. */
export class DriverUsageError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DRIVER_USAGE', message, details);
  }
}
