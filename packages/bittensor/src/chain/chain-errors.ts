import { ErrorCode, TesseraError, isTesseraError } from '@tessera/contracts';

/**
 * Why a chain read or write failed. Stable codes (they reach dead letters and
 * `chain.WeightsSubmissionFailed` reasons); test them with the predicates, never the text.
 */
export const ChainErrorCode = {
  /** The runtime refused the extrinsic while executing it; `details.section`/`details.name` say how. */
  DispatchFailed: 'bittensor.DISPATCH_FAILED',
  /** The node's pool refused the extrinsic before execution (RPC 1010/1011/1012/1014); `details.rpcCode`. */
  ExtrinsicRejected: 'bittensor.EXTRINSIC_REJECTED',
  /** The pool accepted the extrinsic, then dropped it (`Dropped`, `Usurped`, `Invalid`). */
  ExtrinsicDropped: 'bittensor.EXTRINSIC_DROPPED',
  /** The connected runtime lacks a storage item, call or runtime API this code needs. */
  RuntimeItemMissing: 'bittensor.RUNTIME_ITEM_MISSING',
  /** A chain value did not have the shape this code expects (another runtime version?). */
  UnexpectedValue: 'bittensor.UNEXPECTED_CHAIN_VALUE',
} as const;

/** The runtime's own refusal of an extrinsic, decoded from its metadata (`subtensorModule.SettingWeightsTooFast`). */
export class DispatchError extends TesseraError<typeof ChainErrorCode.DispatchFailed> {
  override readonly name = 'DispatchError';

  constructor(
    /** Pallet (`subtensorModule`) or `system` for a non-module error. */
    readonly section: string,
    /** Error variant (`SettingWeightsTooFast`, `BadOrigin`, …). */
    readonly errorName: string,
    docs = '',
  ) {
    super(ChainErrorCode.DispatchFailed, `${section}.${errorName}${docs ? `: ${docs}` : ''}`, {
      details: { section, name: errorName },
    });
  }
}

/** The node's transaction pool refused the extrinsic (a JSON-RPC error with its numeric code). */
export class ExtrinsicRejectedError extends TesseraError<typeof ChainErrorCode.ExtrinsicRejected> {
  override readonly name = 'ExtrinsicRejectedError';

  /** The validity error's variant (`stale`, `future`, `payment`, `badProof`, `custom`…), or `unknown`. */
  readonly kind: string;

  constructor(
    readonly rpcCode: number,
    /** What the pool said, e.g. `{"invalid":{"stale":null}}` (chopsticks) or `Transaction is outdated` (a node). */
    readonly reason: string,
    cause?: unknown,
  ) {
    const kind = validityKind(reason);
    super(
      ChainErrorCode.ExtrinsicRejected,
      `transaction pool refused the extrinsic (${rpcCode} ${kind}): ${reason}`,
      {
        details: { rpcCode, kind, reason },
        cause,
      },
    );
    this.kind = kind;
  }
}

// A substrate node words `TransactionValidityError` variants as these texts (sp-runtime's Display);
// chopsticks sends the variant as JSON. One table turns both into the variant's name.
const VALIDITY_TEXTS: readonly [string, string][] = [
  ['Transaction is outdated', 'stale'],
  ['Transaction will be valid in the future', 'future'],
  ['Transaction would exhaust the block limits', 'exhaustsResources'],
  ['Transaction has an ancient birth block', 'ancientBirthBlock'],
  ['Inability to pay some fees', 'payment'],
  ['Transaction has a bad signature', 'badProof'],
  ['Transaction call is not expected', 'call'],
  ['Custom error', 'custom'],
];

function validityKind(reason: string): string {
  try {
    const parsed: unknown = JSON.parse(reason);
    if (typeof parsed === 'object' && parsed !== null) {
      const outer = Object.values(parsed)[0];
      if (typeof outer === 'object' && outer !== null) return Object.keys(outer)[0] ?? 'unknown';
      if (typeof outer === 'string') return outer;
    }
  } catch {
    // not JSON: a node's text
  }
  return VALIDITY_TEXTS.find(([text]) => reason.includes(text))?.[1] ?? 'unknown';
}

export const chainErrors = {
  dropped: (status: string) =>
    new TesseraError(ChainErrorCode.ExtrinsicDropped, `extrinsic ${status} by the pool before inclusion`, {
      details: { status },
    }),
  runtimeItemMissing: (kind: 'storage' | 'call' | 'runtime api', path: string) =>
    new TesseraError(ChainErrorCode.RuntimeItemMissing, `the connected runtime has no ${kind} ${path}`, {
      details: { kind, path },
    }),
  unexpectedValue: (path: string, expected: string, actual: unknown) =>
    new TesseraError(
      ChainErrorCode.UnexpectedValue,
      `${path}: expected ${expected}, got ${JSON.stringify(actual)}`,
      {
        details: { path, expected },
      },
    ),
  unavailable: (what: string, cause?: unknown) =>
    new TesseraError(ErrorCode.Unavailable, `chain not reachable: ${what}`, { cause }),
  inclusionTimeout: (timeoutMs: number) =>
    new TesseraError(ErrorCode.Timeout, `extrinsic not included within ${timeoutMs} ms`, {
      details: { timeoutMs },
    }),
};

/** True for a runtime refusal, optionally of the given error name (`isDispatchError(err, 'SettingWeightsTooFast')`). */
export function isDispatchError(err: unknown, errorName?: string): err is DispatchError {
  return err instanceof DispatchError && (errorName === undefined || err.errorName === errorName);
}

export function isExtrinsicRejected(err: unknown): err is ExtrinsicRejectedError {
  return err instanceof ExtrinsicRejectedError;
}

export function isExtrinsicDropped(err: unknown): err is TesseraError {
  return isTesseraError(err, ChainErrorCode.ExtrinsicDropped);
}

export function isRuntimeItemMissing(err: unknown): err is TesseraError {
  return isTesseraError(err, ChainErrorCode.RuntimeItemMissing);
}

/**
 * Dispatch errors that mean "not yet", not "never": a rate limit that lapses after some blocks.
 * Anything else the runtime refuses (bad origin, unknown uid, …) fails the same way again.
 */
const TRANSIENT_DISPATCH_ERRORS: ReadonlySet<string> = new Set([
  'SettingWeightsTooFast',
  'TxRateLimitExceeded',
  'ServingRateLimitExceeded',
  'CommittingWeightsTooFast',
]);

// Pool refusals worth another try with a fresh nonce: outdated (1010 stale: another transaction
// took the nonce), future nonce, a full block, an expired era; a busy pool (1014 priority, 1016
// immediately dropped) or a temporary ban (1012). Payment, bad proof or a custom validity error is final.
const TRANSIENT_VALIDITY_KINDS: ReadonlySet<string> = new Set([
  'stale',
  'future',
  'exhaustsResources',
  'ancientBirthBlock',
]);

/**
 * Whether retrying the same submission later may succeed: the chain connection dropped or timed
 * out, the pool refused for a passing reason, or the runtime hit a rate limit. Decided from typed
 * codes, never from message text.
 */
export function isTransientChainError(err: unknown): boolean {
  if (isTesseraError(err, ErrorCode.Unavailable) || isTesseraError(err, ErrorCode.Timeout)) return true;
  if (isExtrinsicDropped(err)) return true;
  if (err instanceof DispatchError) return TRANSIENT_DISPATCH_ERRORS.has(err.errorName);
  if (err instanceof ExtrinsicRejectedError) {
    if (err.rpcCode === 1012 || err.rpcCode === 1014 || err.rpcCode === 1016) return true;
    return err.rpcCode === 1010 && TRANSIENT_VALIDITY_KINDS.has(err.kind);
  }
  return false;
}
