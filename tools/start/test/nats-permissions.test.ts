// NATS is the trust boundary. The billing app runs as a real process with its own nkey against
// a nats-server enforcing the generated permissions table; the inference proxy's credentials
// then try to mint money (operator-only RPCs, a forged chain deposit) and are refused by the
// server, and nothing changes: not the balance, not the BILLING stream.
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  connect,
  nkeyAuthenticator,
  PermissionViolationError,
  type NatsConnection,
} from '@nats-io/transport-node';
import {
  CreditAccount,
  ErrorCode,
  eventContracts,
  EventRegistry,
  GetAccount,
  inboxPrefix,
  isTesseraError,
  ListLedgerEntries,
  OpenAccount,
  SetTaoPrice,
  streamIdOf,
  TransferObserved,
  type NatsIdentity,
} from '@tessera/contracts';
import { findFreePort } from '@tessera/devservers';
import { EventStore } from '@tessera/eventstore';
import { RpcClient } from '@tessera/platform/messaging';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppProcess, type AppProcess } from './app-process.js';

const USD = 1_000_000_000n;
const BLOCK_HASH = `0x${'ab'.repeat(32)}`;
const SENDER = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';

/**
 * The subject the server refused to let this client publish to: a refused request rejects with a
 * request error caused by the server's permission error. Undefined when nothing was refused.
 */
function refusedSubject(err: unknown): string | undefined {
  for (let cause = err; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof PermissionViolationError && cause.operation === 'publish') return cause.subject;
  }
  return undefined;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a refusal, but the call succeeded'),
    (err: unknown) => err,
  );
}

describe('NATS permissions with the billing app as a process', () => {
  let env: TestEnvironment;
  let billing: AppProcess;
  const connections: NatsConnection[] = [];
  let harness: NatsConnection;
  let operator: RpcClient;

  const connectAs = async (identity: NatsIdentity): Promise<NatsConnection> => {
    const seed = env.natsKeys?.[identity].seed ?? '';
    const nc = await connect({
      servers: env.natsUrl,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
      inboxPrefix: inboxPrefix(identity),
      name: identity,
    });
    connections.push(nc);
    return nc;
  };
  const rpcAs = async (identity: NatsIdentity) =>
    new RpcClient(await connectAs(identity), { subjectPrefix: env.namespace, defaultTimeoutMs: 15_000 });
  const storedMessages = async (stream: string): Promise<number> => {
    const info = await (await jetstreamManager(harness)).streams.info(`${env.namespace}_${stream}`);
    return info.state.messages;
  };
  const ledgerOf = async (accountId: string) =>
    (await operator.call(ListLedgerEntries, { accountId })).entries.map((entry) => entry.change);

  beforeAll(async () => {
    env = await useTestEnvironment({ natsAuthorization: true, dedicatedPostgres: true });
    const port = await findFreePort();
    billing = startAppProcess('billing', {
      // Production: the app must refuse to start without its NATS credentials, and has them.
      NODE_ENV: 'production',
      SERVICE_NAME: 'billing',
      NATS_URL: env.natsUrl,
      NATS_NKEY_SEED: env.natsKeys?.billing.seed ?? '',
      NATS_SUBJECT_PREFIX: env.namespace,
      DATABASE_URL: env.databaseUrl,
      DATABASE_SCHEMA: env.schema,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
      DEPOSIT_SEED: `0x${randomBytes(32).toString('hex')}`,
      API_KEY_PEPPER: randomBytes(32).toString('hex'),
    });
    await billing.waitUntilReady(port, 60_000);
    harness = await connect(env.natsConnectionOptions);
    connections.push(harness);
    // Every stream, as the other services would have made them (billing makes only its own).
    await new EventStore({
      connection: harness,
      registry: new EventRegistry(eventContracts),
      namespace: env.namespace,
    }).ensureStreams();
    operator = await rpcAs('operator');
  }, 120_000);

  afterAll(async () => {
    await billing?.stop();
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await env?.cleanup();
  });

  it('serves the operator: an account credited through billing’s own projections', async () => {
    await operator.call(OpenAccount, { accountId: 'acme', name: 'Acme' });
    const credited = await operator.call(CreditAccount, {
      accountId: 'acme',
      idempotencyKey: 'welcome',
      amount: String(5n * USD),
    });
    expect(credited.balance).toBe(String(5n * USD));
    await expect.poll(() => ledgerOf('acme'), { timeout: 20_000 }).toEqual([String(5n * USD)]);
  });

  it('refuses the inference proxy’s credit, price change and forged deposit; nothing changes', async () => {
    const { depositAddress } = await operator.call(GetAccount, { accountId: 'acme' });
    const billingBefore = await storedMessages('BILLING');
    const chainBefore = await storedMessages('CHAIN');

    const proxy = await rpcAs('inference-proxy');
    const credit = await rejection(
      proxy.call(CreditAccount, {
        accountId: 'acme',
        idempotencyKey: 'free-money',
        amount: String(1_000n * USD),
      }),
    );
    expect(refusedSubject(credit), String(credit)).toBe(`${env.namespace}.rpc.billing.creditAccount`);
    // A refusal is final, not a transient UNAVAILABLE a caller would retry.
    expect(isTesseraError(credit, ErrorCode.Forbidden), String(credit)).toBe(true);
    const price = await rejection(proxy.call(SetTaoPrice, { nanoUsdPerTao: '1' }));
    expect(refusedSubject(price), String(price)).toBe(`${env.namespace}.rpc.billing.setTaoPrice`);

    // A forged deposit: the proxy appends chain.TransferObserved to the customer's address.
    const forger = new EventStore({
      connection: await connectAs('inference-proxy'),
      registry: new EventRegistry(eventContracts),
      namespace: env.namespace,
    });
    const forged = await rejection(
      forger.append(
        streamIdOf('chain', 'transfer', 'forged-1'),
        [
          TransferObserved.create({
            from: SENDER,
            to: depositAddress,
            amount: '1000000000000',
            blockNumber: 1,
            blockHash: BLOCK_HASH,
            extrinsicIndex: 1,
            eventIndex: 1,
          }),
          // Appending after "nothing there yet" skips the position lookup (a read the proxy may not
          // make either), so what the server refuses here is the publish itself.
        ],
        { expected: { sequence: 0, version: 0 } },
      ),
    );
    expect(refusedSubject(forged), String(forged)).toBe(`${env.namespace}.chain.transfer.forged-1`);

    // The proxy may still read the account (it calls getAccount for customers): same balance.
    expect((await proxy.call(GetAccount, { accountId: 'acme' })).balance).toBe(String(5n * USD));

    // A marker credit by the operator goes through the same path after the refusals; once the
    // ledger shows it, anything the refused calls had set off would have shown too.
    await operator.call(CreditAccount, { accountId: 'acme', idempotencyKey: 'marker', amount: '1' });
    await expect.poll(() => ledgerOf('acme'), { timeout: 20_000 }).toEqual([String(5n * USD), '1']);
    expect((await operator.call(GetAccount, { accountId: 'acme' })).balance).toBe(String(5n * USD + 1n));
    expect(await storedMessages('CHAIN')).toBe(chainBefore);
    expect(await storedMessages('BILLING')).toBe(billingBefore + 1);
    // Billing kept running through it all.
    expect(billing.child.exitCode).toBeNull();
  }, 60_000);
});
