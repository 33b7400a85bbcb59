import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import {
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/transport-node';
import { ErrorCode, TesseraError } from '@tessera/contracts';
import { Observable } from 'rxjs';
import { prefixedSubject } from './rpc-wire.js';

/** One request as {@link RpcClientProxy} sends it: the encoded body, its headers and how long to wait. */
export interface RpcRequestRecord {
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs;
  readonly timeoutMs: number;
}

/**
 * A Nest `ClientProxy` for the RPC server's wire, on the service's shared NATS connection: `send`
 * makes one core NATS request to the pattern (a contract subject) under the subject prefix and
 * emits the raw reply. Transport failures arrive as `TesseraError`s (`TIMEOUT`, `NO_RESPONDERS`,
 * `UNAVAILABLE`). {@link RpcClient} puts the typed `call(contract, request)` on top.
 */
export class RpcClientProxy extends ClientProxy {
  constructor(
    private readonly connection: NatsConnection,
    private readonly subjectPrefix: string,
  ) {
    super();
  }

  /** Nothing to open: the connection is the service's, already connected. */
  connect(): Promise<NatsConnection> {
    return Promise.resolve(this.connection);
  }

  /**
   * Nest's `send`, less its per-call `connect()` step (a deferred promise and a `mergeMap` on every
   * request, measurable in bench:rpc): this proxy's connection is always open.
   */
  override send<TResult = Uint8Array, TInput = RpcRequestRecord>(
    pattern: unknown,
    data: TInput,
  ): Observable<TResult> {
    return new Observable<TResult>((observer) =>
      this.publish(this.createPacket(pattern, data as RpcRequestRecord), this.createObserver(observer)),
    );
  }

  /** Nothing to close: the NATS module (or whoever made the connection) owns it. */
  close(): void {}

  unwrap<T>(): T {
    return this.connection as T;
  }

  protected publish(
    packet: ReadPacket<RpcRequestRecord>,
    callback: (packet: WritePacket<Uint8Array>) => void,
  ): () => void {
    const subject = prefixedSubject(this.subjectPrefix, String(packet.pattern));
    const { payload, headers, timeoutMs } = packet.data;
    // The observable may be unsubscribed before the reply comes; the request cannot be withdrawn,
    // so its outcome is just not delivered.
    let wanted = true;
    this.connection.request(subject, payload, { timeout: timeoutMs, headers }).then(
      (reply) => {
        if (wanted) callback({ response: reply.data, isDisposed: true });
      },
      (err: unknown) => {
        if (wanted) callback({ err: toTransportError(err, subject, timeoutMs), isDisposed: true });
      },
    );
    return () => {
      wanted = false;
    };
  }

  /** Facts travel as events through the event store, never as RPC. */
  protected dispatchEvent(): Promise<never> {
    return Promise.reject(
      new Error('RpcClientProxy sends requests only; publish events through the event store'),
    );
  }
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
  // The server refused this identity the subject: asking again changes nothing (not UNAVAILABLE).
  if (err instanceof PermissionViolationError || cause instanceof PermissionViolationError) {
    return new TesseraError(ErrorCode.Forbidden, `this NATS identity may not call ${subject}`, {
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TesseraError(ErrorCode.Unavailable, `request to ${subject} failed: ${message}`, { cause: err });
}
