import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumerRunner } from '../consumers/consumer-runner.js';
import {
  CounterIncremented,
  counterStreamId,
  counterTotalsProjection,
} from '../__tests__/counter.fixture.js';
import { openHarness, type Harness } from '../__tests__/harness.fixture.js';

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();
let h: Harness;

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }),
  );
  h = await openHarness();
});
afterAll(async () => {
  await h.close();
  trace.disable();
  propagation.disable();
  context.disable();
});

describe('trace context across the event log', () => {
  it('continues one trace from the request through the publish into the projection consumer', async () => {
    const runner = new ConsumerRunner({
      store: h.store,
      dataSource: h.dataSource,
      role: { kind: 'projection', projection: counterTotalsProjection() },
    });
    await runner.start();
    const tracer = trace.getTracer('test');
    const appended = await tracer.startActiveSpan(
      'POST /v1/things',
      { kind: SpanKind.SERVER },
      async (span) => {
        try {
          return await h.store.append(counterStreamId('traced'), [
            CounterIncremented.create({ counterId: 'traced', by: 1, note: '' }),
          ]);
        } finally {
          span.end();
        }
      },
    );
    await runner.waitForSequence(appended.position.sequence);
    await runner.stop();

    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.name === 'POST /v1/things');
    const publish = spans.find((span) => span.name.startsWith('publish billing.counter'));
    const consume = spans.find((span) => span.name === 'process counter-totals');
    expect(request && publish && consume).toBeTruthy();
    const traceId = request?.spanContext().traceId;
    expect(publish?.spanContext().traceId).toBe(traceId);
    expect(consume?.spanContext().traceId).toBe(traceId);
    expect(publish?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(consume?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    expect(consume?.kind).toBe(SpanKind.CONSUMER);
    // The envelope records the publish span, so a reader of the log can find the trace too.
    expect(appended.events[0]?.traceparent).toBe(`00-${traceId}-${publish?.spanContext().spanId}-01`);
  });
});
