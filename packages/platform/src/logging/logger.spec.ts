import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { TesseraError } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { runWithCorrelationId } from './correlation.js';
import { createLogger } from './logger.js';
import { NestPinoLogger } from './nest-logger.js';

/** A destination that keeps every line, parsed. */
function captureLines(): { stream: Writable; lines: () => Record<string, unknown>[]; raw: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    stream,
    raw: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('logger', () => {
  it('never writes a secret, whatever the key looks like or how deep it sits', () => {
    const out = captureLines();
    const logger = createLogger({ service: 'billing', destination: out.stream });
    const secret = 'hunter2-super-secret-value';
    logger.info(
      {
        password: secret,
        config: { NATS_SEED: secret, apiKey: secret, nested: [{ Authorization: `Bearer ${secret}` }] },
        mnemonic: secret,
        clientSecret: secret,
        accessToken: secret,
        harmless: 'visible',
      },
      'starting',
    );
    logger.child({ token: secret }).warn('child bindings too');
    logger.error(
      { err: new TesseraError('UNAUTHORIZED', 'bad key', { details: { api_key: secret } }) },
      'rejected',
    );

    expect(out.raw()).not.toContain(secret);
    const [first] = out.lines();
    expect(first).toMatchObject({
      service: 'billing',
      level: 'info',
      msg: 'starting',
      harmless: 'visible',
      password: '[Redacted]',
    });
    expect(out.lines()).toHaveLength(3);
  });

  it('stamps the correlation id and the active span on every line', () => {
    const out = captureLines();
    const logger = createLogger({ service: 'scorer', destination: out.stream });
    const tracer = new TracerProvider().getTracer('test');
    const span = tracer.startSpan('work');
    // No context manager is registered here, so set the span explicitly through the API.
    const spanContext = span.spanContext();
    const originalGetActiveSpan = trace.getActiveSpan;
    trace.getActiveSpan = () => span;
    try {
      runWithCorrelationId('corr-123', () => logger.info('hello'));
    } finally {
      trace.getActiveSpan = originalGetActiveSpan;
      span.end();
    }
    expect(out.lines()[0]).toMatchObject({
      service: 'scorer',
      correlationId: 'corr-123',
      traceId: spanContext.traceId,
      spanId: spanContext.spanId,
    });
  });

  it('adapts Nest logging with its context', () => {
    const out = captureLines();
    const nest = new NestPinoLogger(createLogger({ service: 'billing', destination: out.stream }));
    nest.log('Mapped {/health/live, GET} route', 'RouterExplorer');
    nest.error('boom', 'Error: boom\n    at x', 'ExceptionsHandler');
    expect(out.lines()).toEqual([
      expect.objectContaining({
        level: 'info',
        context: 'RouterExplorer',
        msg: 'Mapped {/health/live, GET} route',
      }),
      expect.objectContaining({
        level: 'error',
        context: 'ExceptionsHandler',
        msg: 'boom',
        stack: 'Error: boom\n    at x',
      }),
    ]);
  });
});
