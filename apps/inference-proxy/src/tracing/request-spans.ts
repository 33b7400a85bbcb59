import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Context,
} from '@opentelemetry/api';
import { type FastifyInstance, type FastifyRequest } from 'fastify';

const tracer = trace.getTracer('@tessera/inference-proxy');

/** The context a request's handler runs in: its server span, under the caller's trace. */
const contexts = new WeakMap<FastifyRequest, Context>();

/**
 * One server span per HTTP request, made here instead of by the http auto-instrumentation
 * (`instrumentIncomingHttp: false` in main.ts). That instrumentation rebinds every listener of
 * every request and response to the trace context and collects a dozen attributes: on this hot
 * path that was about a sixth of the proxy's CPU per request. The span continues the caller's
 * `traceparent`, is active while the route handler runs (so RPC calls made from it carry the
 * trace on), and ends when the response closes, with its status code. Health probes get none.
 */
export function traceRequests(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.url.startsWith('/health/')) return done();
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url ?? 'unknown route';
    const span = tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        // The path without its query: a query string may carry what should not be in a trace.
        attributes: {
          'http.request.method': request.method,
          'http.route': route,
          'url.path': request.url.split('?', 1)[0] ?? request.url,
        },
      },
      parent,
    );
    contexts.set(request, trace.setSpan(parent, span));
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      // A client that left before the answer was written: say so rather than a status never sent.
      if (!reply.raw.writableFinished) span.setAttribute('http.response.aborted', true);
      span.end();
    });
    done();
  });
  // After the body is read (its stream events run outside any context), so the handler runs inside.
  fastify.addHook('preHandler', (request, _reply, done) => {
    const active = contexts.get(request);
    if (active === undefined) return done();
    context.with(active, done);
  });
}
