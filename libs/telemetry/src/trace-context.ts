import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';

/** A string map that W3C trace context is written to / read from (NATS headers, event metadata). */
export type TraceCarrier = Record<string, string | undefined>;

const setter = { set: (carrier: TraceCarrier, key: string, value: string) => void (carrier[key] = value) };
const getter = { keys: (carrier: TraceCarrier) => Object.keys(carrier), get: (carrier: TraceCarrier, key: string) => carrier[key] };

/** Writes the active (or given) context's `traceparent`/`tracestate` into the carrier. */
export function injectTraceContext(carrier: TraceCarrier = {}, ctx: Context = context.active()): TraceCarrier {
  propagation.inject(ctx, carrier, setter);
  return carrier;
}

/** Reads `traceparent`/`tracestate` from a carrier into a context (the root context when absent). */
export function extractTraceContext(carrier: TraceCarrier, base: Context = ROOT_CONTEXT): Context {
  return propagation.extract(base, carrier, getter);
}

/** The active span's `traceparent`, for event metadata; undefined outside a recording span. */
export function currentTraceparent(): { traceparent?: string; tracestate?: string } {
  const c = injectTraceContext({});
  return { ...(c['traceparent'] ? { traceparent: c['traceparent'] } : {}), ...(c['tracestate'] ? { tracestate: c['tracestate'] } : {}) };
}

/** The active trace id, or undefined. */
export function currentTraceId(): string | undefined {
  const sc = trace.getSpan(context.active())?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? sc.traceId : undefined;
}

/**
 * Runs `fn` inside a span named `name` (child of `parent` or of the active context), ending it
 * and recording failures. Spans go around commands, handlers, appends, steps and SSH calls.
 */
export async function withSpan<T>(
  name: string,
  fn: (span: Span) => Promise<T> | T,
  options: { attributes?: Attributes; kind?: SpanKind; parent?: Context; tracer?: string } = {},
): Promise<T> {
  const tracer = trace.getTracer(options.tracer ?? '@patchbay/telemetry');
  return tracer.startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} }, options.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };
