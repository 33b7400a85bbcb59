/**
 * One credit holder of the bank test, as its own process: like an inference proxy replica, it
 * asks billing for a grant of `amount`, and settles exactly that much usage against it, for each
 * of its `count` charges, `lanes` at a time. A refusal for lack of funds is an expected answer;
 * a transient error is retried with the same idempotency key (that is what the key is for).
 * Prints one JSON line: how many charges it got through and how many were refused.
 *
 * argv: <NATS_URL> <subject prefix> <holder> <account> <amount nano-USD> <count> <lanes>
 */
import { connect } from '@nats-io/transport-node';
import { ErrorCode, GrantCredit, SettleGrant, isTesseraError } from '@tessera/contracts';
import { RpcClient } from '@tessera/platform/messaging';

const [natsUrl = '', prefix = '', holder = '', accountId = '', amount = '', count = '0', lanes = '1'] =
  process.argv.slice(2);
const TRANSIENT = new Set<string>([
  ErrorCode.Unavailable,
  ErrorCode.Timeout,
  ErrorCode.NoResponders,
  ErrorCode.ConcurrencyExhausted,
]);

const connection = await connect({ servers: natsUrl.split(','), noAsyncTraces: true });
const rpc = new RpcClient(connection, { subjectPrefix: prefix, defaultTimeoutMs: 20_000 });
let retries = 0;

/** Calls until the answer is not transient (same request, so the same idempotency key). */
async function persist<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (err) {
      if (!isTesseraError(err) || !TRANSIENT.has(err.code) || attempt >= 20) throw err;
      retries += 1;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

let accepted = 0;
let refused = 0;
const total = Number(count);
await Promise.all(
  Array.from({ length: Number(lanes) }, async (_, lane) => {
    for (let i = lane; i < total; i += Number(lanes)) {
      let grantId: string;
      try {
        const grant = await persist(() =>
          rpc.call(GrantCredit, { accountId, holder, requested: amount, idempotencyKey: `${holder}-g${i}` }),
        );
        if (grant.granted !== amount) throw new Error(`granted ${grant.granted}, asked ${amount}`);
        grantId = grant.grantId;
      } catch (err) {
        if (isTesseraError(err, ErrorCode.InsufficientFunds)) {
          refused += 1;
          continue;
        }
        throw err;
      }
      await persist(() =>
        rpc.call(SettleGrant, { grantId, holder, usage: [{ requestId: `${holder}-r${i}`, amount }] }),
      );
      accepted += 1;
    }
  }),
);
process.stdout.write(`${JSON.stringify({ holder, accepted, refused, retries })}\n`);
await connection.close();
