import { z } from 'zod';

/**
 * Stable error codes shared by every service. They travel in RPC error replies and in
 * dead-letter records, so they are a public contract: add codes, never rename or reuse one.
 */
export const ErrorCode = {
  /** Input failed its schema (request body, event data, environment). */
  ValidationFailed: 'VALIDATION_FAILED',
  /** An optimistic-concurrency check failed: the stream moved since it was read. */
  ConcurrencyConflict: 'CONCURRENCY_CONFLICT',
  /** A command handler gave up after retrying conflicts. */
  ConcurrencyExhausted: 'CONCURRENCY_EXHAUSTED',
  /** The same idempotency key was used with different content. */
  IdempotencyMismatch: 'IDEMPOTENCY_MISMATCH',
  /** An event type or version that no contract declares. */
  UnknownEventType: 'UNKNOWN_EVENT_TYPE',
  NotFound: 'NOT_FOUND',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  InsufficientFunds: 'INSUFFICIENT_FUNDS',
  RateLimited: 'RATE_LIMITED',
  /** A request/reply call got no answer in time. */
  Timeout: 'TIMEOUT',
  /** Nobody listens on the request subject. */
  NoResponders: 'NO_RESPONDERS',
  /** A dependency (NATS, Postgres, the chain) is not reachable right now; retrying may help. */
  Unavailable: 'UNAVAILABLE',
  /** A bug or an unexpected failure; the message never carries a stack trace. */
  Internal: 'INTERNAL',
} as const;

/** One of the stable error codes in {@link ErrorCode}, or a context-specific code such as `billing.GRANT_EXPIRED`. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The error as it travels on the wire: no stack, no cause chain. */
export const wireErrorSchema = z.object({
  code: z.string().min(1),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type WireError = z.infer<typeof wireErrorSchema>;

/**
 * Base class of every error Tessera raises on purpose. Callers test the `code`
 * (or use {@link isTesseraError}), never the message.
 */
export class TesseraError<Code extends string = string> extends Error {
  override readonly name: string = 'TesseraError';
  readonly code: Code;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: Code, message: string, options?: { details?: Record<string, unknown>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  /** The shape sent over the wire; stacks and causes stay in the process that raised it. */
  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  /** Rebuilds an error received over the wire. */
  static fromWire(wire: WireError): TesseraError {
    return new TesseraError(wire.code, wire.message, wire.details ? { details: wire.details } : undefined);
  }
}

/** Input failed its schema; `issues` lists each problem with its path. */
export class ValidationError extends TesseraError<typeof ErrorCode.ValidationFailed> {
  override readonly name = 'ValidationError';
  readonly issues: readonly ValidationIssue[];

  constructor(what: string, issues: readonly ValidationIssue[], cause?: unknown) {
    const summary = issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ');
    super(ErrorCode.ValidationFailed, `invalid ${what}: ${summary}`, { details: { issues }, cause });
    this.issues = issues;
  }
}

/** One schema problem, with a dotted path into the value. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** True when `err` is a {@link TesseraError}, optionally with the given code. */
export function isTesseraError(err: unknown, code?: string): err is TesseraError {
  return err instanceof TesseraError && (code === undefined || err.code === code);
}

/** True when `err` is a schema failure. */
export function isValidationError(err: unknown): err is ValidationError {
  return isTesseraError(err, ErrorCode.ValidationFailed);
}
