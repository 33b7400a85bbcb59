import { TesseraError, isTesseraError } from '@tessera/contracts';

/** Codes of the failures the indexer raises on purpose; stable (logs, health, dead letters). */
export const IndexerErrorCode = {
  /** A served block's parent is not the block before it (a skipped block, or another chain). */
  ContinuityBroken: 'chain-indexer.CONTINUITY_BROKEN',
  /** A block's facts already in the event log differ from the ones derived again. */
  BlockFactsMismatch: 'chain-indexer.BLOCK_FACTS_MISMATCH',
  /** A runtime event lacks an argument (or has one of another form) that this runtime family gives it. */
  UnexpectedEventShape: 'chain-indexer.UNEXPECTED_EVENT_SHAPE',
} as const;

/** The chain of indexed blocks would break here: nothing is committed past `expected`. */
export class ContinuityError extends TesseraError<typeof IndexerErrorCode.ContinuityBroken> {
  override readonly name = 'ContinuityError';

  constructor(
    message: string,
    readonly height: number,
    details: Record<string, unknown> = {},
  ) {
    super(IndexerErrorCode.ContinuityBroken, message, { details: { height, ...details } });
  }
}

/** Raised when a block's stored facts differ from the ones derived again: never ignore it. */
export class BlockFactsMismatchError extends TesseraError<typeof IndexerErrorCode.BlockFactsMismatch> {
  override readonly name = 'BlockFactsMismatchError';

  constructor(streamId: string, position: number, storedId: string, derivedId: string | undefined) {
    super(
      IndexerErrorCode.BlockFactsMismatch,
      `${streamId} holds event ${storedId} at position ${position}, but the block derives ${derivedId ?? 'nothing'} there`,
      { details: { streamId, position, storedId, derivedId: derivedId ?? null } },
    );
  }
}

/** Raised when a runtime event does not have the shape this runtime family gives it. */
export class UnexpectedEventShapeError extends TesseraError<typeof IndexerErrorCode.UnexpectedEventShape> {
  override readonly name = 'UnexpectedEventShapeError';

  constructor(message: string, event: { section: string; method: string; index: number }) {
    super(IndexerErrorCode.UnexpectedEventShape, message, {
      details: { event: `${event.section}.${event.method}`, eventIndex: event.index },
    });
  }
}

export function isUnexpectedEventShape(err: unknown): err is UnexpectedEventShapeError {
  return isTesseraError(err, IndexerErrorCode.UnexpectedEventShape);
}

export function isContinuityError(err: unknown): err is ContinuityError {
  return isTesseraError(err, IndexerErrorCode.ContinuityBroken);
}

export function isBlockFactsMismatch(err: unknown): err is BlockFactsMismatchError {
  return isTesseraError(err, IndexerErrorCode.BlockFactsMismatch);
}
