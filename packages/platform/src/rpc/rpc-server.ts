import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import {
  headers as createHeaders,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import {
  ErrorCode,
  TesseraError,
  ValidationError,
  isTesseraError,
  toValidationIssues,
  type RpcContract,
  type WireError,
} from '@tessera/contracts';
import { extractTraceContext, injectTraceContext, messagingTracer } from '@tessera/eventstore';
import { pino } from 'pino';
import { isObservable, lastValueFrom } from 'rxjs';
import { newCorrelationId, runWithCorrelationId, sanitizeCorrelationId } from '../logging/correlation.js';
import { type PlatformLogger } from '../logging/logger.js';
import { RpcCallContext } from './rpc-call-context.js';
import { RPC_TRANSPORT, type RpcHandlerExtras } from './rpc-handler.decorator.js';
import {
  RPC_CORRELATION_HEADER,
  decodeJson,
  encodeJson,
  prefixedSubject,
  type RpcReply,
} from './rpc-wire.js';

/** Options for {@link RpcServer}. */
export interface RpcServerOptions {
  /** The queue group, normally the service name: replicas share requests instead of all answering. */
  queueGroup: string;
  /** `NATS_SUBJECT_PREFIX`. */
  subjectPrefix?: string;
  /** Where handler failures and contract breaches are logged; silent when omitted. */
  logger?: PlatformLogger;
}

const GENERIC_INTERNAL_MESSAGE = 'internal error';

interface Route {
  readonly contract: RpcContract;
  readonly handler: MessageHandler;
}

/**
 * The Nest microservice transport that serves `@RpcHandler` methods over core NATS, on the
 * service's shared connection. Nest registers the handlers (`@MessagePattern` on controllers) and
 * runs each call through its pipeline (guards, interceptors, pipes); this class owns the wire:
 * every request is validated against its contract before the handler sees it, runs in a span
 * continued from the caller's trace and under the caller's correlation id, and is answered with
 * `{ ok: true, result }` (the response parsed by its contract) or `{ ok: false, error }` — never a
 * stack trace.
 */
export class RpcServer extends Server implements CustomTransportStrategy {
  override readonly transportId = RPC_TRANSPORT;
  private readonly subscriptions: Subscription[] = [];
  private readonly served: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly subjectPrefix: string;
  private readonly log: PlatformLogger;
  private stopped = false;

  constructor(
    private readonly connection: NatsConnection,
    private readonly options: RpcServerOptions,
  ) {
    super();
    this.subjectPrefix = options.subjectPrefix ?? '';
    this.log = options.logger ?? pino({ level: 'silent' });
  }

  /** Nest calls this from `startAllMicroservices`: subscribes one queue subscription per handler. */
  listen(callback: (error?: unknown) => void): void {
    try {
      const routes = [...this.getHandlers()].map(([pattern, handler]) => route(pattern, handler));
      for (const entry of routes) this.subscribe(entry);
    } catch (err) {
      callback(err);
      return;
    }
    // A flush round trip means the server has registered every subscription: once the app
    // reports started, a request sent to it (or to its queue group) can reach it.
    this.connection.flush().then(
      () => {
        this.log.info({ subjects: this.served, queue: this.options.queueGroup }, 'rpc server started');
        callback();
      },
      (err: unknown) => callback(err),
    );
  }

  /** Subjects served, prefixed as on the wire. */
  subjects(): string[] {
    return [...this.served];
  }

  /** Requests being handled right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Stops taking requests (unsubscribes, letting NATS route new ones to other replicas) and waits
   * until every request already received has been answered. The platform runs it in the `rpc`
   * shutdown phase.
   */
  async drain(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.subscriptions.map((subscription) => subscription.drain()));
    // Subscription.drain does not wait for async callbacks; our own bookkeeping does.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Nest calls this when the app closes, after the shutdown phases: by then `drain` has run and the
   * shared connection (which the NATS module owns) is closed, so there is nothing left but to make
   * sure no subscription outlives the app.
   */
  close(): void {
    this.stopped = true;
    if (this.connection.isClosed()) return;
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }

  /** The NATS connection the server answers on. */
  unwrap<T>(): T {
    return this.connection as T;
  }

  /** Connection status lives on the NATS connection (readiness watches it), not here. */
  on(): never {
    throw new Error('RpcServer emits no events; watch the NATS connection instead');
  }

  private subscribe({ contract, handler }: Route): void {
    if (this.stopped) throw new Error(`cannot serve ${contract.subject}: the RPC server stopped`);
    const subject = prefixedSubject(this.subjectPrefix, contract.subject);
    const subscription = this.connection.subscribe(subject, {
      queue: this.options.queueGroup,
      callback: (err, msg) => {
        if (err) {
          this.log.error({ err, subject }, 'rpc subscription failed');
          return;
        }
        const work = this.serve(contract, handler, msg);
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      },
    });
    this.subscriptions.push(subscription);
    this.served.push(subject);
  }

  private serve(contract: RpcContract, handler: MessageHandler, msg: Msg): Promise<void> {
    const correlationId =
      sanitizeCorrelationId(msg.headers?.get(RPC_CORRELATION_HEADER)) ?? newCorrelationId();
    const parent = extractTraceContext(msg.headers);
    return context.with(parent, () =>
      messagingTracer.startActiveSpan(
        `process ${contract.subject}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'messaging.system': 'nats',
            'messaging.operation.type': 'process',
            'messaging.destination.name': msg.subject,
            'rpc.system': 'tessera',
            'rpc.method': contract.subject,
          },
        },
        (span) =>
          runWithCorrelationId(correlationId, async () => {
            try {
              const reply = await this.answer(contract, handler, msg.data, correlationId);
              if (!reply.ok) {
                span.setAttribute('rpc.error_code', reply.error.code);
                span.setStatus({ code: SpanStatusCode.ERROR, message: reply.error.code });
              }
              this.respond(msg, reply, correlationId, span);
            } finally {
              span.end();
            }
          }),
      ),
    );
  }

  /** Everything between the raw request and the reply; never throws. */
  private async answer(
    contract: RpcContract,
    handler: MessageHandler,
    data: Uint8Array,
    correlationId: string,
  ): Promise<RpcReply> {
    let body: unknown;
    try {
      body = decodeJson(data);
    } catch {
      return failure(
        new TesseraError(
          ErrorCode.ValidationFailed,
          `invalid request to ${contract.subject}: body is not JSON`,
        ),
      );
    }
    const request = contract.request.safeParse(body);
    if (!request.success) {
      return failure(
        new ValidationError(`request to ${contract.subject}`, toValidationIssues(request.error)),
      );
    }

    let result: unknown;
    try {
      // Nest's pipeline for this method (guards, interceptors, pipes, the pass-through filter).
      // It resolves to the handler's value, or to an observable (an interceptor, a handler that
      // returns one) whose last value is the reply.
      const output: unknown = await handler(
        request.data,
        new RpcCallContext([contract.subject, correlationId]),
      );
      result = isObservable(output) ? await lastValueFrom(output, { defaultValue: undefined }) : output;
    } catch (err) {
      if (isTesseraError(err)) {
        if (!contract.errors.includes(err.code) && !isGenericCode(err.code)) {
          this.log.warn(
            { subject: contract.subject, code: err.code },
            'rpc handler raised an error code its contract does not declare',
          );
        }
        return failure(err);
      }
      // The caller learns only that something broke; the details stay in our logs.
      this.log.error({ err, subject: contract.subject }, 'rpc handler failed');
      return failure(new TesseraError(ErrorCode.Internal, GENERIC_INTERNAL_MESSAGE));
    }

    const response = contract.response.safeParse(result);
    if (!response.success) {
      this.log.error(
        { subject: contract.subject, issues: toValidationIssues(response.error) },
        'rpc handler returned a response that breaks its contract',
      );
      return failure(new TesseraError(ErrorCode.Internal, GENERIC_INTERNAL_MESSAGE));
    }
    // The parsed value, not the raw one: fields the schema does not declare never leave the service.
    return { ok: true, result: response.data };
  }

  private respond(msg: Msg, reply: RpcReply, correlationId: string, span: Span): void {
    if (!msg.reply) {
      this.log.warn({ subject: msg.subject }, 'rpc request without a reply subject; dropped');
      return;
    }
    const headers = createHeaders();
    headers.set(RPC_CORRELATION_HEADER, correlationId);
    injectTraceContext(headers, trace.setSpan(context.active(), span));
    let payload: Uint8Array;
    try {
      payload = encodeJson(reply);
    } catch (err) {
      // e.g. a bigint in a result: the contract should carry it as a decimal string.
      this.log.error({ err, subject: msg.subject }, 'rpc reply is not serialisable');
      payload = encodeJson(failure(new TesseraError(ErrorCode.Internal, GENERIC_INTERNAL_MESSAGE)));
    }
    try {
      msg.respond(payload, { headers });
    } catch (err) {
      // The connection closed under us (a forced shutdown); the caller will see a timeout.
      this.log.warn({ err, subject: msg.subject }, 'rpc reply could not be sent');
    }
  }
}

/** The contract of a handler registered by `@RpcHandler`; anything else is a wiring mistake. */
function route(pattern: string, handler: MessageHandler): Route {
  const extras = handler.extras as Partial<RpcHandlerExtras> | undefined;
  if (handler.isEventHandler || extras?.contract === undefined) {
    throw new Error(
      `${pattern}: the RPC server serves @RpcHandler(contract) methods only (no bare @MessagePattern or @EventPattern)`,
    );
  }
  return { contract: extras.contract, handler };
}

function failure(error: TesseraError): { ok: false; error: WireError } {
  return { ok: false, error: error.toWire() };
}

const GENERIC_CODES = new Set<string>([
  ErrorCode.ValidationFailed,
  ErrorCode.Internal,
  ErrorCode.Unavailable,
  ErrorCode.Timeout,
]);

function isGenericCode(code: string): boolean {
  return GENERIC_CODES.has(code);
}
