import { PatchbayError } from '@patchbay/contracts';

/** The read store cannot be reached or cannot take the operation right now (network, closed store, disk). */
export class ReadStoreUnavailableError extends PatchbayError {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super('READ_STORE_UNAVAILABLE', message);
  }
}

/** A write would give two documents the same key of a unique index (MongoDB's E11000). */
export class DuplicateKeyError extends PatchbayError {
  constructor(
    readonly collection: string,
    readonly index: string,
    message = `duplicate key in ${collection} (index ${index})`,
  ) {
    super('DUPLICATE_KEY', message, { collection, index });
  }
}

/**
 * A filter, update, sort, projection or pipeline uses something outside the supported dialect
 * (including every operator that would execute code: `$where`, `$function`, `$accumulator`), or is
 * malformed.
 */
export class InvalidQueryError extends PatchbayError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_QUERY', message, details);
  }
}
