import { ErrorCode, TesseraError, isTesseraError } from '@tessera/contracts';

/** The position an append expected; the stream had moved on. Reload, decide again, retry. */
export class ConcurrencyConflictError extends TesseraError<typeof ErrorCode.ConcurrencyConflict> {
  override readonly name = 'ConcurrencyConflictError';

  constructor(
    readonly streamId: string,
    readonly expectedSequence: number,
    cause?: unknown,
  ) {
    super(
      ErrorCode.ConcurrencyConflict,
      `stream ${streamId} moved past sequence ${expectedSequence} before this append`,
      { details: { streamId, expectedSequence }, cause },
    );
  }
}

/** A command handler kept losing races and gave up. */
export class ConcurrencyExhaustedError extends TesseraError<typeof ErrorCode.ConcurrencyExhausted> {
  override readonly name = 'ConcurrencyExhaustedError';

  constructor(
    readonly streamId: string,
    readonly attempts: number,
    cause?: unknown,
  ) {
    super(
      ErrorCode.ConcurrencyExhausted,
      `gave up on stream ${streamId} after ${attempts} conflicting attempts`,
      {
        details: { streamId, attempts },
        cause,
      },
    );
  }
}

/** True for an optimistic-concurrency conflict on append. */
export function isConcurrencyConflict(err: unknown): err is ConcurrencyConflictError {
  return isTesseraError(err, ErrorCode.ConcurrencyConflict);
}

/** True when a command handler exhausted its retries. */
export function isConcurrencyExhausted(err: unknown): err is ConcurrencyExhaustedError {
  return isTesseraError(err, ErrorCode.ConcurrencyExhausted);
}

/** True when a dependency (NATS, JetStream, Postgres, the chain) was not reachable; retrying later may help. */
export function isUnavailable(err: unknown): err is TesseraError<typeof ErrorCode.Unavailable> {
  return isTesseraError(err, ErrorCode.Unavailable);
}
