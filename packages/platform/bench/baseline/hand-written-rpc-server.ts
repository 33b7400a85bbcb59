/**
 * The benchmark's baseline: the hand-written RPC server the platform had before RPC moved onto
 * @nestjs/microservices (packages/platform/src/rpc/rpc-server.ts at commit dff3135), kept here
 * unchanged but for its imports and name, so bench:rpc compares both in the same run. Not used
 * anywhere else.
 */
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
  type RpcParsedRequestOf,
  type RpcResponseOf,
  type WireError,
} from '@tessera/contracts';
import { extractTraceContext, injectTraceContext, messagingTracer } from '@tessera/eventstore';
import {
  newCorrelationId,
  runWithCorrelationId,
  sanitizeCorrelationId,
  type PlatformLogger,
} from '@tessera/platform';
import {
  RPC_CORRELATION_HEADER,
  decodeJson,
  encodeJson,
  prefixedSubject,
  type RpcReply,
} from '@tessera/platform/messaging';

/** What a handler knows about the call besides the request. */
export interface RpcCallContext {
  /** The contract's subject (without prefix). */
  readonly subject: string;
  readonly correlationId: string;
}

/** Serves one contract: gets the parsed request, returns the response or throws a {@link TesseraError}. */
export type RpcHandlerFn<C extends RpcContract> = (
  request: RpcParsedRequestOf<C>,
  call: RpcCallContext,
) => Promise<RpcResponseOf<C>> | RpcResponseOf<C>;

/** Options for {@link HandWrittenRpcServer}. */
export interface RpcServerOptions {
  /** The queue group, normally the service name: replicas share requests instead of all answering. */
  queueGroup: string;
  /** `NATS_SUBJECT_PREFIX`. */
  subjectPrefix?: string;
  logger: PlatformLogger;
}

const GENERIC_INTERNAL_MESSAGE = 'internal error';

interface Registration {
  readonly contract: RpcContract;
  readonly handler: RpcHandlerFn<RpcContract>;
  subscription?: Subscription;
}

/**
 * Answers typed requests on core NATS. Each request is validated before the handler sees it,
 * runs in a span continued from the caller's trace and under the caller's correlation id, and is
 * answered with `{ ok: true, result }` or `{ ok: false, error }` — never a stack trace.
 */
export class HandWrittenRpcServer {
  private readonly registrations = new Map<string, Registration>();
  private readonly inFlight = new Set<Promise<void>>();
  private started = false;
  private draining = false;
  private readonly subjectPrefix: string;

  constructor(
    private readonly connection: NatsConnection,
    private readonly options: RpcServerOptions,
  ) {
    this.subjectPrefix = options.subjectPrefix ?? '';
  }

  /** Serves `contract` with `handler`; subscribes now if the server already started. One handler per subject. */
  handle<C extends RpcContract>(contract: C, handler: RpcHandlerFn<C>): void {
    if (this.draining) throw new Error(`cannot serve ${contract.subject}: the RPC server is draining`);
    if (this.registrations.has(contract.subject)) {
      throw new Error(`${contract.subject} already has a handler`);
    }
    const registration: Registration = { contract, handler: handler as RpcHandlerFn<RpcContract> };
    this.registrations.set(contract.subject, registration);
    if (this.started) this.subscribe(registration);
  }

  /** Subscribes every registered handler. Separate from `handle` so no request arrives before the app finished starting. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const registration of this.registrations.values()) this.subscribe(registration);
  }

  /** Subjects served, prefixed as on the wire. */
  subjects(): string[] {
    return [...this.registrations.keys()].map((subject) => prefixedSubject(this.subjectPrefix, subject));
  }

  /** Requests being handled right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Stops taking requests (unsubscribes, letting NATS route new ones to other replicas) and waits
   * until every request already received has been answered.
   */
  async drain(): Promise<void> {
    this.draining = true;
    const subscriptions = [...this.registrations.values()].flatMap((r) =>
      r.subscription ? [r.subscription] : [],
    );
    await Promise.allSettled(subscriptions.map((subscription) => subscription.drain()));
    // Subscription.drain does not wait for async callbacks; our own bookkeeping does.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private subscribe(registration: Registration): void {
    const subject = prefixedSubject(this.subjectPrefix, registration.contract.subject);
    registration.subscription = this.connection.subscribe(subject, {
      queue: this.options.queueGroup,
      callback: (err, msg) => {
        if (err) {
          this.options.logger.error({ err, subject }, 'rpc subscription failed');
          return;
        }
        const work = this.serve(registration, msg);
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      },
    });
    this.options.logger.debug({ subject, queue: this.options.queueGroup }, 'rpc handler subscribed');
  }

  private serve(registration: Registration, msg: Msg): Promise<void> {
    const { contract } = registration;
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
              const reply = await this.answer(registration, msg.data, correlationId);
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
    registration: Registration,
    data: Uint8Array,
    correlationId: string,
  ): Promise<RpcReply> {
    const { contract, handler } = registration;
    const logger = this.options.logger;
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
      result = await handler(request.data, { subject: contract.subject, correlationId });
    } catch (err) {
      if (isTesseraError(err)) {
        if (!contract.errors.includes(err.code) && !isGenericCode(err.code)) {
          logger.warn(
            { subject: contract.subject, code: err.code },
            'rpc handler raised an error code its contract does not declare',
          );
        }
        return failure(err);
      }
      // The caller learns only that something broke; the details stay in our logs.
      logger.error({ err, subject: contract.subject }, 'rpc handler failed');
      return failure(new TesseraError(ErrorCode.Internal, GENERIC_INTERNAL_MESSAGE));
    }

    const response = contract.response.safeParse(result);
    if (!response.success) {
      logger.error(
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
      this.options.logger.warn({ subject: msg.subject }, 'rpc request without a reply subject; dropped');
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
      this.options.logger.error({ err, subject: msg.subject }, 'rpc reply is not serialisable');
      payload = encodeJson(failure(new TesseraError(ErrorCode.Internal, GENERIC_INTERNAL_MESSAGE)));
    }
    try {
      msg.respond(payload, { headers });
    } catch (err) {
      // The connection closed under us (a forced shutdown); the caller will see a timeout.
      this.options.logger.warn({ err, subject: msg.subject }, 'rpc reply could not be sent');
    }
  }
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
