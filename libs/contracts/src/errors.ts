/**
 * One error vocabulary for the whole product. Every error that crosses an edge (GraphQL, CLI,
 * NATS) is a `PatchbayError` with a stable `code`; edges map codes, never messages.
 */
export class PatchbayError extends Error {
  constructor(
    /** Stable, machine-readable code such as `WRONG_EXPECTED_VERSION`. */
    readonly code: string,
    message: string,
    /** Extra structured detail safe to show to a caller (never secrets). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** Plain form for transport (NATS replies, GraphQL extensions, CLI JSON output). */
  toJSON(): { code: string; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Input failed validation at a boundary (file, API argument, message, config). */
export class ValidationError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('VALIDATION_FAILED', message, details);
  }
}

/** Rebuilds a `PatchbayError` from its transported form. */
export function errorFromJSON(value: { code?: unknown; message?: unknown; details?: unknown }): PatchbayError {
  const code = typeof value.code === 'string' ? value.code : 'INTERNAL';
  const message = typeof value.message === 'string' ? value.message : 'unknown error';
  const details = value.details && typeof value.details === 'object' ? (value.details as Record<string, unknown>) : {};
  return new PatchbayError(code, message, details);
}
