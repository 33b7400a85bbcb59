import {
  PermissionViolationError,
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
// Not re-exported from the package root; raised when a publish finds no stream leader (503).
import { jserrors } from '@nats-io/jetstream/internal';
import { ErrorCode, TesseraError, isTesseraError } from '@tessera/contracts';

/**
 * What a failure says about retrying:
 * - `transient`: a dependency is down or busy, or a race was lost — the same work will succeed
 *   later. Retry with backoff; never move a checkpoint past it.
 * - `poison`: the input itself can never be processed (undecodable, refused by the domain,
 *   breaks a column's range). Park it and go on.
 * - `unknown`: anything else (most likely a bug). The consumer runner retries it while its
 *   dependencies are unhealthy and parks it only if it keeps failing while they are healthy.
 */
export type FailureKind = 'transient' | 'poison' | 'unknown';

const TRANSIENT_CODES = new Set<string>([
  ErrorCode.Unavailable,
  ErrorCode.Timeout,
  ErrorCode.NoResponders,
  ErrorCode.ConcurrencyConflict,
  ErrorCode.ConcurrencyExhausted,
]);

/**
 * JetStream API error codes that mean "no leader / not available right now" (nats-server's
 * errors.json): cluster not available, not leader, stream offline, peers unavailable.
 */
const TRANSIENT_JETSTREAM_API_CODES = new Set<number>([10008, 10009, 10118, 10005, 10074]);

/** Socket-level error codes Node reports when a server is down or the network dropped. */
const TRANSIENT_SOCKET_CODES = new Set<string>([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Classifies an error thrown while processing an event or serving a command. */
export function classifyFailure(err: unknown): FailureKind {
  if (isTesseraError(err)) return TRANSIENT_CODES.has(err.code) ? 'transient' : 'poison';
  // NATS refused the subject to this identity: retrying changes nothing until the operator does.
  if (isPermissionViolation(err)) return 'poison';
  if (isNatsOutage(err)) return 'transient';
  if (err instanceof SyntaxError) return 'poison';
  const sqlState = sqlStateOf(err);
  if (sqlState !== undefined) return classifySqlState(sqlState);
  const socketCode = (err as { code?: unknown } | null)?.code;
  if (typeof socketCode === 'string' && TRANSIENT_SOCKET_CODES.has(socketCode)) return 'transient';
  return 'unknown';
}

/** True when NATS refused a publish or subscribe to this connection's identity (directly or as the cause). */
export function isPermissionViolation(err: unknown): boolean {
  return (
    err instanceof PermissionViolationError ||
    (err instanceof Error && err.cause instanceof PermissionViolationError)
  );
}

/** True for errors that mean NATS or JetStream could not be reached or had no leader. */
export function isNatsOutage(err: unknown): boolean {
  if (
    err instanceof TimeoutError ||
    err instanceof NoRespondersError ||
    err instanceof ClosedConnectionError ||
    err instanceof DrainingConnectionError ||
    err instanceof ConnectionError ||
    err instanceof jserrors.JetStreamNotEnabled
  ) {
    return true;
  }
  if (err instanceof RequestError) return !isPermissionViolation(err);
  if (err instanceof JetStreamApiError) {
    return err.status === 503 || TRANSIENT_JETSTREAM_API_CODES.has(err.code);
  }
  // Status errors raised by consumers: heartbeats missed, leadership changes.
  if (err instanceof JetStreamError && !(err instanceof JetStreamApiError)) return true;
  return false;
}

/**
 * Wraps a NATS outage in a `TesseraError` `UNAVAILABLE` naming what failed, so callers (and RPC
 * replies) see a retryable, typed error instead of `INTERNAL`. Other errors pass through.
 */
export function asUnavailable(err: unknown, what: string): unknown {
  if (!isNatsOutage(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new TesseraError(ErrorCode.Unavailable, `${what}: JetStream is not available (${reason})`, {
    cause: err,
  });
}

function sqlStateOf(err: unknown): string | undefined {
  // TypeORM wraps the driver's error; pg puts the SQLSTATE in `code`.
  const candidate = (err as { driverError?: unknown } | null)?.driverError ?? err;
  const code = (candidate as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function classifySqlState(state: string): FailureKind {
  const cls = state.slice(0, 2);
  // 08 connection, 53 insufficient resources, 57 operator intervention (shutdown), 58 I/O.
  if (['08', '53', '57', '58'].includes(cls)) return 'transient';
  // Serialization failure, deadlock, lock not available.
  if (state === '40001' || state === '40P01' || state === '55P03') return 'transient';
  // 22 data exception (numeric out of range, bad text), 23 integrity constraint violation.
  if (cls === '22' || cls === '23') return 'poison';
  return 'unknown';
}
