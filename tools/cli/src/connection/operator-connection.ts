// Loaded only when a command calls a service: the NATS client and the platform's RPC layer take
// a second to load, which `tessera --help` and a refused command line need not wait for.
import {
  AuthorizationError,
  connect,
  PermissionViolationError,
  type NatsConnection,
} from '@nats-io/transport-node';
import { ErrorCode, OPERATOR_IDENTITY, TesseraError } from '@tessera/contracts';
import { natsServerList } from '@tessera/platform/config';
import { natsConnectionOptions, RpcClient } from '@tessera/platform/messaging';
import { NATS_KEYS_FOLDER, type OperatorConnectionSettings } from './connection-settings.js';

/** An open connection as the operator, and the typed RPC client on it. */
export interface OperatorRpc {
  readonly rpc: RpcClient;
  close(): Promise<void>;
}

/**
 * Connects as the `operator` identity: its seed, its own inbox prefix (the only one the server
 * lets it subscribe under), one attempt with no reconnects — a CLI reports a down NATS instead
 * of waiting for it. Failures are `TesseraError`s: `UNAVAILABLE` (not reachable), `UNAUTHORIZED`
 * (credentials refused).
 */
export async function connectAsOperator(
  settings: OperatorConnectionSettings,
  timeoutMs: number,
): Promise<OperatorRpc> {
  const connection = await openConnection(settings);
  return {
    rpc: new RpcClient(connection, { subjectPrefix: settings.subjectPrefix, defaultTimeoutMs: timeoutMs }),
    close: () => connection.close(),
  };
}

async function openConnection(settings: OperatorConnectionSettings): Promise<NatsConnection> {
  const options = natsConnectionOptions({
    NATS_URL: settings.natsUrl,
    SERVICE_NAME: OPERATOR_IDENTITY,
    NODE_ENV: settings.nodeEnv,
    NATS_NKEY_SEED: settings.seed,
  });
  // Hosts only: a URL may carry a user and password.
  const hosts = natsServerList(settings.natsUrl).map((url) => URL.parse(url)?.host ?? 'an unreadable URL');
  const where = `${hosts.join(', ')} (from ${settings.natsUrlSource})`;
  try {
    return await connect({ ...options, maxReconnectAttempts: 0, timeout: 5_000 });
  } catch (err) {
    if (causes(err).some((cause) => cause instanceof AuthorizationError)) {
      throw new TesseraError(
        ErrorCode.Unauthorized,
        settings.seed === undefined
          ? `NATS at ${where} wants credentials: pass the operator's nkey seed with --seed-file or NATS_NKEY_SEED (npm start keeps it in .data/${NATS_KEYS_FOLDER}/${OPERATOR_IDENTITY}.nk)`
          : `NATS at ${where} refused the seed from ${settings.seedSource}: it is not a key this server knows`,
        { cause: err },
      );
    }
    throw new TesseraError(
      ErrorCode.Unavailable,
      `cannot reach NATS at ${where}: ${err instanceof Error ? err.message : String(err)}. Is npm start (or the deployment's NATS) running? Otherwise set --nats-url or NATS_URL.`,
      { cause: err },
    );
  }
}

/**
 * A call NATS refused to this identity, as a `FORBIDDEN` error naming the subject; undefined for
 * any other failure. The server refuses operator-only subjects (credit, prices, account status,
 * dead letters) to every identity but `operator`.
 */
export function permissionRefusal(
  err: unknown,
  settings: OperatorConnectionSettings,
): TesseraError | undefined {
  const violation = causes(err).find((cause) => cause instanceof PermissionViolationError);
  if (!violation) return undefined;
  const what =
    violation.operation === 'publish'
      ? `to publish to ${violation.subject}`
      : `a subscription to ${violation.subject}`;
  return new TesseraError(
    ErrorCode.Forbidden,
    `NATS refused this identity ${what}: operator commands need the ${OPERATOR_IDENTITY} identity's seed (this one came from ${settings.seedSource ?? 'nowhere: no seed was given'})`,
    { cause: err },
  );
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let cause = err; cause !== undefined && !chain.includes(cause);) {
    chain.push(cause);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return chain;
}
