import { PatchbayError } from '@patchbay/contracts';

/** A command line could not be split into words (unterminated quote, unsupported expansion). */
export class ShellSyntaxError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SHELL_SYNTAX', message, details);
  }
}

/**
 * The process may not open enough file descriptors for one listener per simulated endpoint plus
 * the connections a run needs. Raise it with `ulimit -n` (or LimitNOFILE) before starting.
 */
export class FdLimitTooLowError extends PatchbayError {
  constructor(required: number, limit: number) {
    super(
      'FD_LIMIT_TOO_LOW',
      `simulated fleet needs about ${required} open files but the limit (ulimit -n) is ${limit}; raise it, e.g. \`ulimit -n ${Math.max(required, 65536)}\``,
      { required, limit },
    );
  }
}

/** Options given to the simulated fleet are unusable (bad endpoint count, bad key...). */
export class SimulatedFleetConfigError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SIM_FLEET_CONFIG', message, details);
  }
}

/** Not enough free TCP ports in the configured range for one listener per endpoint. */
export class PortRangeExhaustedError extends PatchbayError {
  constructor(basePort: number, needed: number) {
    super('SIM_PORT_RANGE_EXHAUSTED', `no ${needed} free ports from ${basePort} below 65536`, { basePort, needed });
  }
}
