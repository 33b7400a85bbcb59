import { connect, type NatsConnection } from '@nats-io/transport-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { defineRpc, isTesseraError, TesseraError } from '@tessera/contracts';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../logging/logger.js';
import { startTelemetry, type TelemetryShutdown } from '../telemetry/telemetry.js';
import { RpcClient } from './rpc-client.js';
import { RpcServer } from './rpc-server.js';

const GetBalance = defineRpc({
  subject: 'rpc.billing.getBalance',
  request: z.object({ accountId: z.string().min(1) }),
  response: z.object({ accountId: z.string(), balance: z.string().regex(/^\d+$/) }),
  errors: ['NOT_FOUND'],
});
const SlowOperation = defineRpc({
  subject: 'rpc.billing.slowOperation',
  request: z.object({}),
  response: z.object({ done: z.boolean() }),
});
const Nobody = defineRpc({
  subject: 'rpc.billing.nobodyListens',
  request: z.object({}),
  response: z.object({}),
});
const Broken = defineRpc({
  subject: 'rpc.billing.broken',
  request: z.object({ mode: z.enum(['throw', 'badResponse']) }),
  response: z.object({ n: z.number() }),
});

async function thrown(promise: Promise<unknown>): Promise<TesseraError> {
  try {
    await promise;
  } catch (err) {
    if (isTesseraError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('typed request/reply over NATS', () => {
  let env: TestEnvironment;
  let serverConnection: NatsConnection;
  let clientConnection: NatsConnection;
  let server: RpcServer;
  let client: RpcClient;
  let stopTelemetry: TelemetryShutdown;
  const exporter = new InMemorySpanExporter();
  const handledAccounts: string[] = [];

  beforeAll(async () => {
    stopTelemetry = startTelemetry({
      serviceName: 'rpc-spec',
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      autoInstrument: false,
    });
    env = await useTestEnvironment();
    [serverConnection, clientConnection] = await Promise.all([
      connect({ servers: env.natsUrl }),
      connect({ servers: env.natsUrl }),
    ]);
    server = new RpcServer(serverConnection, {
      queueGroup: 'billing',
      subjectPrefix: env.namespace,
      logger: createLogger({ service: 'billing', level: 'silent' }),
    });
    server.handle(GetBalance, (request) => {
      handledAccounts.push(request.accountId);
      if (request.accountId === 'missing')
        throw new TesseraError('NOT_FOUND', `no account ${request.accountId}`);
      return { accountId: request.accountId, balance: '1500' };
    });
    server.handle(SlowOperation, async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { done: true };
    });
    server.handle(Broken, (request) => {
      if (request.mode === 'throw') throw new Error('database password is hunter2');
      return { n: 'not a number' } as unknown as { n: number };
    });
    server.start();
    await serverConnection.flush();
    client = new RpcClient(clientConnection, { subjectPrefix: env.namespace });
  });

  afterAll(async () => {
    await server.drain();
    await Promise.all([serverConnection.close(), clientConnection.close()]);
    await env.cleanup();
    await stopTelemetry();
  });

  beforeEach(() => {
    exporter.reset();
    handledAccounts.length = 0;
  });

  it('round-trips a typed request and response', async () => {
    const response = await client.call(GetBalance, { accountId: 'acc-1' });
    expect(response).toEqual({ accountId: 'acc-1', balance: '1500' });
  });

  it("delivers the handler's typed error with its code", async () => {
    const error = await thrown(client.call(GetBalance, { accountId: 'missing' }));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe('no account missing');
  });

  it('rejects an invalid request client side without sending it', async () => {
    const error = await thrown(client.call(GetBalance, { accountId: '' }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(handledAccounts).toEqual([]);
  });

  it('answers an invalid request with VALIDATION_FAILED and never calls the handler', async () => {
    // A raw request, as a client built against another version of the contract would send it.
    const reply = await clientConnection.request(
      `${env.namespace}.${GetBalance.subject}`,
      JSON.stringify({ accountId: 42 }),
      { timeout: 2_000 },
    );
    expect(reply.json()).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    expect(handledAccounts).toEqual([]);
  });

  it('reports TIMEOUT when the handler is too slow', async () => {
    const error = await thrown(client.call(SlowOperation, {}, { timeoutMs: 100 }));
    expect(error.code).toBe('TIMEOUT');
  });

  it('reports NO_RESPONDERS when nobody serves the subject', async () => {
    const error = await thrown(client.call(Nobody, {}));
    expect(error.code).toBe('NO_RESPONDERS');
  });

  it('turns unexpected failures and contract-breaking responses into INTERNAL without leaking details', async () => {
    const thrownError = await thrown(client.call(Broken, { mode: 'throw' }));
    expect(thrownError.code).toBe('INTERNAL');
    expect(thrownError.message).toBe('internal error');
    const badResponse = await thrown(client.call(Broken, { mode: 'badResponse' }));
    expect(badResponse.code).toBe('INTERNAL');
  });

  it('continues the caller’s trace in the handler', async () => {
    await client.call(GetBalance, { accountId: 'acc-2' });
    const spans = exporter.getFinishedSpans();
    const clientSpan = spans.find(
      (span) => span.kind === SpanKind.CLIENT && span.name === `send ${GetBalance.subject}`,
    );
    const serverSpan = spans.find(
      (span) => span.kind === SpanKind.SERVER && span.name === `process ${GetBalance.subject}`,
    );
    expect(clientSpan).toBeDefined();
    expect(serverSpan).toBeDefined();
    expect(serverSpan?.spanContext().traceId).toBe(clientSpan?.spanContext().traceId);
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId);
  });
});
