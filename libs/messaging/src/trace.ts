import { context, propagation, trace, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from 'nats';

/** Tracer of this package; the SDK (libs/telemetry) decides where spans go. */
export const tracer = trace.getTracer('@patchbay/messaging');

const setter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys(carrier) {
    return carrier ? carrier.keys() : [];
  },
  get(carrier, key) {
    if (!carrier) return undefined;
    const v = carrier.get(key);
    return v === '' ? undefined : v;
  },
};

/** Writes the context's trace (W3C `traceparent`/`tracestate` with the default propagator) into NATS headers. */
export function injectTrace(hdrs: MsgHdrs, ctx: Context = context.active()): MsgHdrs {
  propagation.inject(ctx, hdrs, setter);
  return hdrs;
}

/** Reads the trace context a sender put into NATS headers; the active context when there is none. */
export function extractTrace(hdrs: MsgHdrs | undefined, base: Context = context.active()): Context {
  return propagation.extract(base, hdrs, getter);
}

/** Builds a carrier holding just a stored `traceparent`/`tracestate`, to continue an event's trace. */
export function contextFromTraceparent(traceparent: string | undefined, tracestate: string | undefined): Context {
  if (!traceparent) return context.active();
  const h = natsHeaders();
  h.set('traceparent', traceparent);
  if (tracestate) h.set('tracestate', tracestate);
  return extractTrace(h);
}
