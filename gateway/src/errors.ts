import { createGraphQLError } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import { PatchbayError } from '@patchbay/contracts';

/** No token, or a token that is unknown, malformed or revoked. */
export class UnauthenticatedError extends PatchbayError {
  constructor(message = 'a valid API token is required (Authorization: Bearer <token>)') {
    super('UNAUTHENTICATED', message);
  }
}

/** The caller's roles do not allow the operation. */
export class ForbiddenError extends PatchbayError {
  constructor(operation: string, allowed: readonly string[]) {
    super('FORBIDDEN', `${operation} needs one of the roles ${allowed.join(', ')}`, { operation, allowed });
  }
}

/** Too many requests for one token or address in the current minute. */
export class RateLimitedError extends PatchbayError {
  constructor(readonly retryAfterSeconds: number) {
    super('RATE_LIMITED', `rate limit exceeded; retry after ${retryAfterSeconds} s`, { retryAfterSeconds });
  }
}

/** A named thing (cycle, token, webhook subscription) does not exist. */
export class NotFoundError extends PatchbayError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${id} not found`, { what, id });
  }
}

/** Codes whose details are safe to show; everything else that is not a `PatchbayError` becomes `INTERNAL`. */
const INTERNAL = 'INTERNAL';

/**
 * The one mapping from errors to GraphQL errors: a `PatchbayError` (thrown here or carried back
 * from a service over NATS) keeps its `code` and details in `extensions`; a GraphQL error that
 * already has a code (limits, validation) is kept; anything else is masked as `INTERNAL` — never
 * a message or stack of an unexpected failure.
 */
export function toGraphQLError(error: unknown): GraphQLError {
  // graphql-js nests errors (a variable's coercion error wraps the scalar's, which wraps ours).
  let original: unknown = error;
  while (original instanceof GraphQLError && original.originalError && typeof original.extensions?.['code'] !== 'string') original = original.originalError;
  const path = error instanceof GraphQLError ? error.path : undefined;
  if (original instanceof PatchbayError) {
    const message = error instanceof GraphQLError && error.message.includes(original.message) ? error.message : original.message;
    return createGraphQLError(message, { path, extensions: { code: original.code, details: original.details } });
  }
  if (original instanceof GraphQLError && typeof original.extensions?.['code'] === 'string') {
    return createGraphQLError(original.message, { path: original.path ?? path, nodes: original.nodes, extensions: { code: original.extensions['code'], ...(original.extensions['details'] ? { details: original.extensions['details'] } : {}) } });
  }
  if (error instanceof GraphQLError && !error.originalError) {
    // Parse and validation errors of graphql-js itself: the message is about the query, not the server.
    return createGraphQLError(error.message, { nodes: error.nodes, extensions: { code: error.message.startsWith('Syntax Error') ? 'GRAPHQL_PARSE_FAILED' : 'GRAPHQL_VALIDATION_FAILED' } });
  }
  return createGraphQLError('Unexpected error.', { path, extensions: { code: INTERNAL } });
}

/** A GraphQL error with a stable code, for errors raised by the gateway's own rules. */
export function codedError(code: string, message: string, details?: Record<string, unknown>): GraphQLError {
  return createGraphQLError(message, { extensions: { code, ...(details ? { details } : {}) } });
}
