import {
  context,
  propagation,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { headers as createHeaders, type MsgHdrs } from '@nats-io/transport-node';

/**
 * W3C trace context in NATS headers. Every publish, request and reply goes through
 * {@link injectTraceContext}; every consumer and responder continues the trace with
 * {@link extractTraceContext}, so one trace spans services.
 */
const setter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => (carrier ? carrier.keys() : []),
  get: (carrier, key) => {
    if (!carrier || !carrier.has(key)) return undefined;
    return carrier.get(key);
  },
};

/** Writes the active (or given) trace context into NATS headers, creating them when absent. */
export function injectTraceContext(
  headers: MsgHdrs = createHeaders(),
  from: Context = context.active(),
): MsgHdrs {
  propagation.inject(from, headers, setter);
  return headers;
}

/** The trace context carried by a message's headers, on top of the current context. */
export function extractTraceContext(headers: MsgHdrs | undefined): Context {
  return propagation.extract(context.active(), headers, getter);
}

/** The `traceparent` of the active span, for the event envelope; null when nothing is traced. */
export function currentTraceparent(from: Context = context.active()): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  return carrier.traceparent ?? (spanTraceparent(from) || null);
}

/**
 * Falls back to formatting the active span when no propagator is registered (e.g. a process
 * without the SDK); the envelope still records where the event came from.
 */
function spanTraceparent(from: Context): string | undefined {
  const spanContext = trace.getSpanContext(from);
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return undefined;
  const flags = spanContext.traceFlags.toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** The tracer every Tessera messaging span uses. */
export const messagingTracer = trace.getTracer('@tessera/messaging');
