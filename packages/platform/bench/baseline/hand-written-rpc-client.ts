/**
 * The benchmark's baseline: the hand-written RPC client the platform had before RPC moved onto
 * @nestjs/microservices (packages/platform/src/rpc/rpc-client.ts at commit dff3135), kept here
 * unchanged but for its imports and name, so bench:rpc compares both in the same run. Not used
 * anywhere else.
 */
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import {
  headers as createHeaders,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/transport-node';
import {
  ErrorCode,
  TesseraError,
  ValidationError,
  toValidationIssues,
  type RpcContract,
  type RpcRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { injectTraceContext, messagingTracer } from '@tessera/eventstore';
import { currentCorrelationId, newCorrelationId } from '@tessera/platform';
import {
  RPC_CORRELATION_HEADER,
  decodeJson,
  encodeJson,
  prefixedSubject,
  rpcReplySchema,
} from '@tessera/platform/messaging';

/** Options for one {@link HandWrittenRpcClient.call}. */
export interface RpcCallOptions {
  /** How long to wait for the reply; {@link RpcClientOptions.defaultTimeoutMs} when omitted. */
  timeoutMs?: number;
}

/** Options for {@link HandWrittenRpcClient}. */
export interface RpcClientOptions {
  /** `NATS_SUBJECT_PREFIX`: must match the server's. */
  subjectPrefix?: string;
  /** 5 s when omitted. */
  defaultTimeoutMs?: number;
}

/**
 * Typed request/reply over core NATS. A call returns the parsed response or throws a
 * {@link TesseraError} whose `code` is the handler's error code, `TIMEOUT`, `NO_RESPONDERS`,
 * `VALIDATION_FAILED` (an invalid request, caught here or by the server), `UNAVAILABLE`
 * (connection trouble) or `INTERNAL`.
 */
export class HandWrittenRpcClient {
  private readonly subjectPrefix: string;
  private readonly defaultTimeoutMs: number;

  constructor(
    private readonly connection: NatsConnection,
    options: RpcClientOptions = {},
  ) {
    this.subjectPrefix = options.subjectPrefix ?? '';
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 5_000;
  }

  /** Sends `request` to the contract's subject and waits for the typed reply. */
  async call<C extends RpcContract>(
    contract: C,
    request: RpcRequestOf<C>,
    options: RpcCallOptions = {},
  ): Promise<RpcResponseOf<C>> {
    // Checked here so a caller's bug fails fast with the same error the server would send.
    const checked = contract.request.safeParse(request);
    if (!checked.success) {
      throw new ValidationError(
        `request to ${contract.subject}`,
        toValidationIssues(checked.error),
        checked.error,
      );
    }
    const subject = prefixedSubject(this.subjectPrefix, contract.subject);
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;

    return messagingTracer.startActiveSpan(
      `send ${contract.subject}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'send',
          'messaging.destination.name': subject,
          'rpc.system': 'tessera',
          'rpc.method': contract.subject,
        },
      },
      async (span) => {
        try {
          const headers = createHeaders();
          headers.set(RPC_CORRELATION_HEADER, currentCorrelationId() ?? newCorrelationId());
          injectTraceContext(headers, trace.setSpan(context.active(), span));
          // The request goes as the caller wrote it (the schema's input shape); the server parses it.
          const reply = await this.send(subject, encodeJson(request), headers, timeoutMs);
          const result = readReply(contract, reply);
          span.setStatus({ code: SpanStatusCode.OK });
          return result;
        } catch (err) {
          recordFailure(span, err);
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  private async send(
    subject: string,
    payload: Uint8Array,
    headers: MsgHdrs,
    timeoutMs: number,
  ): Promise<Uint8Array> {
    try {
      const message = await this.connection.request(subject, payload, { timeout: timeoutMs, headers });
      return message.data;
    } catch (err) {
      throw toTransportError(err, subject, timeoutMs);
    }
  }
}

function readReply<C extends RpcContract>(contract: C, data: Uint8Array): RpcResponseOf<C> {
  let body: unknown;
  try {
    body = decodeJson(data);
  } catch (err) {
    throw new TesseraError(ErrorCode.Internal, `malformed reply from ${contract.subject}: not JSON`, {
      cause: err,
    });
  }
  const reply = rpcReplySchema.safeParse(body);
  if (!reply.success) {
    throw new TesseraError(ErrorCode.Internal, `malformed reply from ${contract.subject}`, {
      details: { issues: toValidationIssues(reply.error) },
    });
  }
  if (!reply.data.ok) throw TesseraError.fromWire(reply.data.error);
  const response = contract.response.safeParse(reply.data.result);
  if (!response.success) {
    // Client and server disagree on the contract (a deploy in progress, or a server bug).
    throw new TesseraError(ErrorCode.Internal, `reply from ${contract.subject} does not match its contract`, {
      details: { issues: toValidationIssues(response.error) },
    });
  }
  return response.data as RpcResponseOf<C>;
}

function toTransportError(err: unknown, subject: string, timeoutMs: number): TesseraError {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  if (err instanceof TimeoutError || cause instanceof TimeoutError) {
    return new TesseraError(ErrorCode.Timeout, `no reply from ${subject} within ${timeoutMs} ms`, {
      cause: err,
    });
  }
  if (
    err instanceof NoRespondersError ||
    cause instanceof NoRespondersError ||
    (err instanceof RequestError && err.isNoResponders())
  ) {
    return new TesseraError(ErrorCode.NoResponders, `no service answers ${subject}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TesseraError(ErrorCode.Unavailable, `request to ${subject} failed: ${message}`, { cause: err });
}

function recordFailure(span: Span, err: unknown): void {
  const code = err instanceof TesseraError ? err.code : ErrorCode.Internal;
  span.setAttribute('rpc.error_code', code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}
