import { PatchbayError } from '@patchbay/contracts';

/** No reply came back within the caller's deadline; the command may or may not have run. */
export class CommandTimeoutError extends PatchbayError {
  constructor(readonly subject: string, readonly timeoutMs: number) {
    super('COMMAND_TIMEOUT', `no reply to ${subject} within ${timeoutMs} ms`, { subject, timeoutMs });
  }
}

/** Nobody listens on the subject (NATS "no responders"): the command certainly did not run. */
export class ServiceUnavailableError extends PatchbayError {
  constructor(readonly subject: string) {
    super('SERVICE_UNAVAILABLE', `no service answers ${subject}`, { subject });
  }
}

/** A reply arrived but is not a `{ ok, result | error }` document. */
export class InvalidReplyError extends PatchbayError {
  constructor(readonly subject: string, reason: string) {
    super('INVALID_REPLY', `invalid reply to ${subject}: ${reason}`, { subject, reason });
  }
}

/** The bus was closed (or never connected) when an operation needed it. */
export class BusClosedError extends PatchbayError {
  constructor(operation: string) {
    super('BUS_CLOSED', `the bus is closed (${operation})`, { operation });
  }
}

/** JetStream refused or failed to acknowledge a publish. */
export class PublishFailedError extends PatchbayError {
  constructor(readonly subject: string, readonly eventId: string, override readonly cause?: unknown) {
    super('PUBLISH_FAILED', `publishing ${eventId} to ${subject} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { subject, eventId });
  }
}

/** A handler failed with something that is not a `PatchbayError`; only its message crosses the wire. */
export class InternalError extends PatchbayError {
  constructor(message: string) {
    super('INTERNAL', message);
  }
}

/** Converts anything thrown by a handler into the product's error vocabulary. */
export function toPatchbayError(err: unknown): PatchbayError {
  if (err instanceof PatchbayError) return err;
  // Duck-typed so an error from another copy of the contracts package keeps its code; NATS client
  // errors also carry a `code` but it is the client's, not ours.
  if (err && typeof err === 'object' && (err as Error).name !== 'NatsError' && typeof (err as { code?: unknown }).code === 'string' && typeof (err as { message?: unknown }).message === 'string') {
    const e = err as { code: string; message: string; details?: unknown };
    const details = e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {};
    return new PatchbayError(e.code, e.message, details);
  }
  if (err instanceof Error) return new InternalError(err.message);
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') return new InternalError((err as { message: string }).message);
  return new InternalError(String(err));
}
