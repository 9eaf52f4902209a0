import { PatchbayError } from '@patchbay/contracts';

/** A program the lab needs is not installed on the controller. */
export class LabPrerequisiteMissingError extends PatchbayError {
  constructor(missing: string[], installCommand: string) {
    super('LAB_PREREQUISITE_MISSING', `the lab needs ${missing.join(', ')}; install with: ${installCommand}`, { missing, installCommand });
  }
}

/** No Debian mirror could be read from the system's apt sources. */
export class LabMirrorNotFoundError extends PatchbayError {
  constructor(checked: string[]) {
    super('LAB_MIRROR_NOT_FOUND', `no Debian mirror URI found in ${checked.join(' or ')}`, { checked });
  }
}

/** Lab options or a scenario file are invalid. */
export class LabConfigInvalidError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('LAB_CONFIG_INVALID', message, details);
  }
}

/** A system command run by the lab failed. */
export class LabCommandFailedError extends PatchbayError {
  constructor(command: string[], exitCode: number | null, stderr: string) {
    super('LAB_COMMAND_FAILED', `${command.join(' ')} failed (exit ${exitCode}): ${stderr.trim().slice(-2000)}`, {
      command,
      exitCode,
      stderr: stderr.slice(-2000),
    });
  }
}

/** Building the cached Debian base failed. */
export class LabBaseBuildError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('LAB_BASE_BUILD_FAILED', message, details);
  }
}

/** A lab is already running from this state directory. */
export class LabAlreadyRunningError extends PatchbayError {
  constructor(stateDir: string, pid: number) {
    super('LAB_ALREADY_RUNNING', `a lab is already running from ${stateDir} (supervisor pid ${pid})`, { stateDir, pid });
  }
}

/** No lab state was found where one was expected. */
export class LabNotFoundError extends PatchbayError {
  constructor(stateDir: string) {
    super('LAB_NOT_FOUND', `no lab state in ${stateDir}`, { stateDir });
  }
}

/** A host did not accept SSH connections in time. */
export class LabHostUnreachableError extends PatchbayError {
  constructor(host: string, timeoutMs: number) {
    super('LAB_HOST_UNREACHABLE', `host ${host} did not answer SSH within ${timeoutMs} ms`, { host, timeoutMs });
  }
}

/** The requested host index or name does not exist in this lab. */
export class LabHostNotFoundError extends PatchbayError {
  constructor(host: string | number) {
    super('LAB_HOST_NOT_FOUND', `no lab host ${host}`, { host });
  }
}

/** A fault cannot be injected on this machine (e.g. the kernel lacks tc netem). */
export class LabFaultUnsupportedError extends PatchbayError {
  constructor(fault: string, reason: string) {
    super('LAB_FAULT_UNSUPPORTED', `${fault} is not supported here: ${reason}`, { fault, reason });
  }
}

/** The lab mounts file systems and creates namespaces, which needs root. */
export class LabNeedsRootError extends PatchbayError {
  constructor(uid: number) {
    super('LAB_NEEDS_ROOT', `the lab needs root (mounts, namespaces, network links); running as uid ${uid}`, { uid });
  }
}
