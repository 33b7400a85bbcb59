import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { startTelemetry, type TelemetryShutdown } from '@tessera/platform/telemetry';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { traceRequests } from './request-spans.js';

const memory = new InMemorySpanExporter();
let stopTelemetry: TelemetryShutdown;
let app: FastifyInstance;
let base: string;

/** What a handler saw as its active span, after an await (the context must survive it). */
const activeSpanAfterAwait = async () => {
  await sleep(1);
  const span = trace.getActiveSpan()?.spanContext();
  return { traceId: span?.traceId ?? null, spanId: span?.spanId ?? null };
};

beforeAll(async () => {
  // As main.ts runs the proxy: the http instrumentation makes no server span of its own.
  stopTelemetry = startTelemetry({
    serviceName: 'proxy-spans-test',
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
    instrumentIncomingHttp: false,
  });
  app = Fastify();
  traceRequests(app);
  app.get('/v1/models', activeSpanAfterAwait);
  app.post('/v1/chat/completions', async (request) => ({
    ...(await activeSpanAfterAwait()),
    echoed: request.body,
  }));
  app.get('/v1/broken', async () => {
    throw new Error('boom');
  });
  app.get('/health/ready', async () => ({ ok: true }));
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app.close();
  await stopTelemetry();
});

beforeEach(() => memory.reset());

/** The server spans finished so far (ended on the response's close, which may trail the answer). */
async function serverSpans(count: number) {
  for (let i = 0; i < 100; i++) {
    const spans = memory.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
    if (spans.length >= count) return spans;
    await sleep(10);
  }
  return memory.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
}

describe('traceRequests', () => {
  it("makes one server span per request under the caller's traceparent, active in the handler after the body is read", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentSpanId = '00f067aa0ba902b7';
    const answer = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parentSpanId}-01` },
      body: JSON.stringify({ model: 'm' }),
    });
    const seen = (await answer.json()) as { traceId: string; spanId: string; echoed: unknown };
    expect(seen.echoed).toEqual({ model: 'm' });

    const spans = await serverSpans(1);
    expect(spans).toHaveLength(1);
    const [span] = spans;
    expect(span?.name).toBe('POST /v1/chat/completions');
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.parentSpanContext?.spanId).toBe(parentSpanId);
    expect(span?.attributes['http.response.status_code']).toBe(200);
    expect(span?.attributes['http.route']).toBe('/v1/chat/completions');
    expect(seen).toMatchObject({ traceId, spanId: span?.spanContext().spanId });
  });

  it('starts a new trace without a traceparent, and marks a failed request as an error', async () => {
    await fetch(`${base}/v1/models?secret=s3cret`);
    await fetch(`${base}/v1/broken`);
    const spans = await serverSpans(2);
    const models = spans.find((span) => span.name === 'GET /v1/models');
    expect(models?.attributes['url.path']).toBe('/v1/models');
    const broken = spans.find((span) => span.name === 'GET /v1/broken');
    expect(models?.parentSpanContext).toBeUndefined();
    expect(models?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(broken?.attributes['http.response.status_code']).toBe(500);
    expect(broken?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('leaves health probes untraced', async () => {
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    await fetch(`${base}/v1/models`);
    const spans = await serverSpans(1);
    expect(spans.map((span) => span.name)).toEqual(['GET /v1/models']);
  });
});
