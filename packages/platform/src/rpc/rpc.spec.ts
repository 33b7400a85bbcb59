import { Writable } from 'node:stream';
import {
  Controller,
  Injectable,
  Module,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
} from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { SpanKind } from '@opentelemetry/api';
import {
  EventRegistry,
  defineRpc,
  isTesseraError,
  TesseraError,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { map, type Observable } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MessagingConfig } from '../config/define-config.js';
import { createApp } from '../lifecycle/create-app.js';
import { currentCorrelationId, runWithCorrelationId } from '../logging/correlation.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { PlatformModule } from '../platform.module.js';
import { startTelemetry, type TelemetryShutdown } from '../telemetry/telemetry.js';
import { RpcCallContext } from './rpc-call-context.js';
import { RpcClient } from './rpc-client.js';
import { RpcHandler } from './rpc-handler.decorator.js';
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
  request: z.object({ mode: z.enum(['throw', 'badResponse', 'extraField']) }),
  response: z.object({ n: z.number() }),
});
const WhoAmI = defineRpc({
  subject: 'rpc.billing.whoAmI',
  request: z.object({}),
  response: z.object({ subject: z.string(), correlationId: z.string(), inScope: z.string().optional() }),
});
const Guarded = defineRpc({
  subject: 'rpc.billing.guarded',
  request: z.object({ allowed: z.boolean() }),
  response: z.object({ intercepted: z.boolean() }),
  errors: ['FORBIDDEN'],
});

/** What the handlers saw, in the order they saw it. */
const handled: { subject: string; controller: object }[] = [];

/** A guard as an app would write one; it refuses with a typed error the caller receives. */
@Injectable()
class AllowedGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToRpc().getData<{ allowed: boolean }>();
    if (!request.allowed) throw new TesseraError('FORBIDDEN', 'not allowed');
    return true;
  }
}

/** Marks the response, to show Nest's interceptors run around @RpcHandler methods. */
@Injectable()
class MarkInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((value: object) => ({ ...value, intercepted: true })));
  }
}

@Controller()
class BillingRpc {
  @RpcHandler(GetBalance)
  getBalance(request: RpcParsedRequestOf<typeof GetBalance>): RpcResponseOf<typeof GetBalance> {
    handled.push({ subject: GetBalance.subject, controller: this });
    if (request.accountId === 'missing')
      throw new TesseraError('NOT_FOUND', `no account ${request.accountId}`);
    return { accountId: request.accountId, balance: '1500' };
  }

  @RpcHandler(SlowOperation)
  async slowOperation(): Promise<RpcResponseOf<typeof SlowOperation>> {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { done: true };
  }

  @RpcHandler(Broken)
  broken(request: RpcParsedRequestOf<typeof Broken>): RpcResponseOf<typeof Broken> {
    if (request.mode === 'throw') throw new Error('database password is hunter2');
    if (request.mode === 'extraField') return { n: 1, internalNote: 'stays here' } as { n: number };
    return { n: 'not a number' } as unknown as { n: number };
  }

  @RpcHandler(WhoAmI)
  whoAmI(_request: RpcParsedRequestOf<typeof WhoAmI>, call: RpcCallContext): RpcResponseOf<typeof WhoAmI> {
    return {
      subject: call.subject,
      correlationId: call.correlationId,
      ...(currentCorrelationId() === undefined ? {} : { inScope: currentCorrelationId() }),
    };
  }

  @RpcHandler(Guarded)
  @UseGuards(AllowedGuard)
  @UseInterceptors(MarkInterceptor)
  guarded(): RpcResponseOf<typeof Guarded> {
    return { intercepted: false };
  }
}

/** A handler wired the wrong way: on a provider, where Nest never serves message handlers. */
@Injectable()
class MisplacedRpc {
  @RpcHandler(Nobody)
  nobody(): RpcResponseOf<typeof Nobody> {
    return {};
  }
}

const logLines: string[] = [];
const capture = new Writable({
  write: (chunk: Buffer, _encoding, done) => {
    logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

function startRpcApp(
  env: TestEnvironment,
  wiring: { namespace?: string; providers?: unknown[] } = {},
): Promise<INestApplication> {
  @Module({
    imports: [
      PlatformModule.forRoot({
        config: MessagingConfig,
        env: {
          SERVICE_NAME: 'billing',
          NATS_URL: env.natsUrl,
          NATS_SUBJECT_PREFIX: wiring.namespace ?? env.namespace,
          HTTP_PORT: '0',
          SHUTDOWN_GRACE_MS: '5000',
        },
        logging: { destination: capture },
      }),
      MessagingModule.forRoot({ registry: new EventRegistry(), ensureStreams: false }),
    ],
    controllers: [BillingRpc],
    providers: (wiring.providers ?? []) as [],
  })
  class RpcAppModule {}
  return createApp(RpcAppModule, { logger: false });
}

async function thrown(promise: Promise<unknown>): Promise<TesseraError> {
  try {
    await promise;
  } catch (err) {
    if (isTesseraError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('typed request/reply through Nest microservices over NATS', () => {
  let env: TestEnvironment;
  let app: INestApplication;
  let clientConnection: NatsConnection;
  let client: RpcClient;
  let stopTelemetry: TelemetryShutdown;
  const exporter = new InMemorySpanExporter();

  beforeAll(async () => {
    stopTelemetry = startTelemetry({
      serviceName: 'rpc-spec',
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
      autoInstrument: false,
    });
    env = await useTestEnvironment();
    app = await startRpcApp(env);
    clientConnection = await connect({ servers: env.natsUrl });
    client = new RpcClient(clientConnection, { subjectPrefix: env.namespace });
  });

  afterAll(async () => {
    await app.close();
    await clientConnection.close();
    await env.cleanup();
    await stopTelemetry();
  });

  beforeEach(() => {
    exporter.reset();
    handled.length = 0;
    logLines.length = 0;
  });

  it('serves every @RpcHandler method, on prefixed subjects', () => {
    const subjects = app.get(RpcServer).subjects().sort();
    expect(subjects).toEqual(
      [GetBalance, SlowOperation, Broken, WhoAmI, Guarded].map((c) => `${env.namespace}.${c.subject}`).sort(),
    );
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
    expect(handled).toEqual([]);
  });

  it('answers an invalid or non-JSON request with VALIDATION_FAILED and never calls the handler', async () => {
    // Raw requests, as a client built against another version of the contract would send them.
    const subject = `${env.namespace}.${GetBalance.subject}`;
    const wrongType = await clientConnection.request(subject, JSON.stringify({ accountId: 42 }), {
      timeout: 2_000,
    });
    expect(wrongType.json()).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED', details: { issues: [{ path: 'accountId' }] } },
    });
    const notJson = await clientConnection.request(subject, 'not json', { timeout: 2_000 });
    expect(notJson.json()).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    expect(handled).toEqual([]);
  });

  it('reports TIMEOUT when the handler is too slow', async () => {
    const error = await thrown(client.call(SlowOperation, {}, { timeoutMs: 100 }));
    expect(error.code).toBe('TIMEOUT');
  });

  it('reports NO_RESPONDERS when nobody serves the subject', async () => {
    const error = await thrown(client.call(Nobody, {}));
    expect(error.code).toBe('NO_RESPONDERS');
  });

  it('turns unexpected failures and contract-breaking responses into INTERNAL, keeping details in the logs', async () => {
    const thrownError = await thrown(client.call(Broken, { mode: 'throw' }));
    expect(thrownError.code).toBe('INTERNAL');
    expect(thrownError.message).toBe('internal error');
    expect(JSON.stringify(thrownError.toWire())).not.toContain('hunter2');
    expect(
      logLines.some((line) => line.includes('rpc handler failed') && line.includes(Broken.subject)),
    ).toBe(true);

    const badResponse = await thrown(client.call(Broken, { mode: 'badResponse' }));
    expect(badResponse.code).toBe('INTERNAL');
  });

  it('sends only the fields the response contract declares', async () => {
    const raw = await clientConnection.request(
      `${env.namespace}.${Broken.subject}`,
      JSON.stringify({ mode: 'extraField' }),
      { timeout: 2_000 },
    );
    expect(raw.json()).toEqual({ ok: true, result: { n: 1 } });
  });

  it("runs the handler under the caller's correlation id and returns it in the reply header", async () => {
    const response = await runWithCorrelationId('corr-rpc-1', () => client.call(WhoAmI, {}));
    expect(response).toEqual({ subject: WhoAmI.subject, correlationId: 'corr-rpc-1', inScope: 'corr-rpc-1' });

    const raw = await clientConnection.request(`${env.namespace}.${WhoAmI.subject}`, '{}', {
      timeout: 2_000,
    });
    const replyId = raw.headers?.get('x-correlation-id');
    // A caller that sent none gets a fresh id, used by the handler and echoed back.
    expect(replyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(raw.json()).toMatchObject({ ok: true, result: { correlationId: replyId } });
  });

  it("continues the caller's trace in the handler", async () => {
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

  it("runs Nest's guards and interceptors around handlers; a guard's typed refusal reaches the caller", async () => {
    await expect(client.call(Guarded, { allowed: true })).resolves.toEqual({ intercepted: true });
    const refused = await thrown(client.call(Guarded, { allowed: false }));
    expect(refused.code).toBe('FORBIDDEN');
  });

  it('shares requests between replicas of a service (one queue group): each is answered once', async () => {
    const replica = await startRpcApp(env);
    try {
      const calls = 40;
      await Promise.all(
        Array.from({ length: calls }, (_, index) => client.call(GetBalance, { accountId: `acc-${index}` })),
      );
      expect(handled).toHaveLength(calls);
      const byReplica = new Set(handled.map((entry) => entry.controller));
      expect(byReplica.size).toBe(2);
    } finally {
      await replica.close();
    }
  });

  it('loses no request while a replica drains: it answers what it received, the other takes the rest', async () => {
    const replica = await startRpcApp(env);
    const replicaController = replica.get(BillingRpc);
    const calls = Array.from({ length: 60 }, async (_, index) => {
      // Spread over the drain: some land before the replica unsubscribes, some after.
      await new Promise((resolve) => setTimeout(resolve, index * 2));
      return client.call(GetBalance, { accountId: `acc-drain-${index}` }, { timeoutMs: 5_000 });
    });
    await new Promise((resolve) => setTimeout(resolve, 40));
    const closed = replica.close();
    const outcomes = await Promise.allSettled(calls);
    await closed;
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    expect(handled).toHaveLength(60);
    expect(handled.some((entry) => entry.controller === replicaController)).toBe(true);
    // The drained replica is gone: everything after it lands on the one still serving.
    handled.length = 0;
    await client.call(GetBalance, { accountId: 'acc-after' });
    expect(handled[0]?.controller).toBe(app.get(BillingRpc));
  });

  it('does not answer requests of another subject prefix', async () => {
    const other = await startRpcApp(env, { namespace: `${env.namespace}other` });
    try {
      await client.call(GetBalance, { accountId: 'acc-3' });
      // Only the app in our namespace answered; the other one serves `<ns>other.rpc…`.
      expect(handled).toHaveLength(1);
      const otherClient = new RpcClient(clientConnection, { subjectPrefix: `${env.namespace}other` });
      await otherClient.call(GetBalance, { accountId: 'acc-4' });
      expect(handled.map((entry) => entry.controller)).toHaveLength(2);
      expect(handled[0]?.controller).not.toBe(handled[1]?.controller);
    } finally {
      await other.close();
    }
  });

  it('refuses to start when an @RpcHandler method sits on a provider instead of a controller', async () => {
    await expect(startRpcApp(env, { providers: [MisplacedRpc] })).rejects.toThrow(
      /MisplacedRpc\.nobody is an @RpcHandler on a provider/,
    );
  });
});
