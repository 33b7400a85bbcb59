import { type INestApplication } from '@nestjs/common';
import {
  CreditAccount,
  DepositCredited,
  GrantCredit,
  OpenAccount,
  RequestCompleted,
  SetModelPrice,
  SetTaoPrice,
  Streams,
  TransferObserved,
  UsageCharged,
  streamIdOf,
} from '@tessera/contracts';
import { eventually, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountStreamId } from './accounts/account.service.js';
import {
  assertReconciled,
  blockHash,
  consumers,
  dataSourceOf,
  outside,
  publish,
  readModelRows,
  readModelsBuiltAlone,
  startBilling,
  waitForIdle,
  type Outside,
} from './__tests__/billing-app.fixture.js';

const ACCOUNTS = ['o0', 'o1', 'o2'];
const ROUNDS = 3;
const REQUESTS_PER_ROUND = 240;
const DEPOSITS_PER_ROUND = 24;
const OUTAGE_MS = 4_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('NATS and Postgres outages in the middle of deposits and charges', () => {
  let env: TestEnvironment;
  let app: INestApplication;
  let ext: Outside;
  const addresses: string[] = [];
  const grants: string[] = [];

  beforeAll(async () => {
    env = await useTestEnvironment({ dedicatedNats: true, dedicatedPostgres: true });
    // Small batches: a round is charged over several of them, so an outage can land in its middle.
    app = await startBilling(env, { extraEnv: { CONSUMER_BATCH_SIZE: '20' } });
    ext = await outside(env);
    await ext.rpc.call(SetModelPrice, {
      model: 'm',
      inputNanoUsdPerMillion: '1000000',
      outputNanoUsdPerMillion: '3000000',
    });
    await ext.rpc.call(SetTaoPrice, { nanoUsdPerTao: '200000000000' });
    for (const accountId of ACCOUNTS) {
      addresses.push((await ext.rpc.call(OpenAccount, { accountId, name: accountId })).depositAddress);
      await ext.rpc.call(CreditAccount, { accountId, idempotencyKey: 'seed', amount: '1000000000000' });
      grants.push(
        (
          await ext.rpc.call(GrantCredit, {
            accountId,
            holder: 'proxy-1',
            requested: '500000000000',
            idempotencyKey: 'g',
          })
        ).grantId,
      );
    }
  });

  afterAll(async () => {
    await ext?.close();
    await app?.close();
    await env?.cleanup();
  });

  /** One round of load: completed requests (amounts vary) and deposits. */
  async function publishRound(round: number): Promise<void> {
    await Promise.all([
      ...Array.from({ length: REQUESTS_PER_ROUND }, (_, i) => {
        const n = round * REQUESTS_PER_ROUND + i;
        return publish(
          ext.store,
          streamIdOf('inference', 'request', `o-${n}`),
          RequestCompleted.create({
            requestId: `o-${n}`,
            accountId: ACCOUNTS[n % ACCOUNTS.length] ?? 'o0',
            keyId: 'abcdefghij012345',
            model: 'm',
            promptTokens: 1_000 + (n % 7),
            completionTokens: 1_000,
            streamed: false,
            grantId: grants[n % ACCOUNTS.length] ?? null,
            minerHotkey: null,
            instanceId: null,
            latency: { firstTokenMs: null, totalMs: 10 },
            status: 'succeeded',
          }),
        );
      }),
      ...Array.from({ length: DEPOSITS_PER_ROUND }, (_, i) => {
        const n = round * DEPOSITS_PER_ROUND + i;
        return publish(
          ext.store,
          streamIdOf('chain', 'transfer', `o-${n}`),
          TransferObserved.create({
            from: addresses[0] ?? '',
            to: addresses[n % addresses.length] ?? '',
            amount: String(100_000_000 + n),
            blockNumber: 2_000 + n,
            blockHash: blockHash(2_000 + n),
            extrinsicIndex: 0,
            eventIndex: 3,
          }),
        );
      }),
    ]);
  }

  const charged = async (): Promise<number> =>
    (
      await Promise.all(ACCOUNTS.map((accountId) => ext.store.currentPosition(accountStreamId(accountId))))
    ).reduce((sum, position) => sum + position.version, 0);

  /**
   * Publishes a round while the reactors are held back, lets them go, and returns once charges
   * are being appended with the batch's checkpoint not yet written: the outage that follows lands
   * in the middle of the work.
   */
  async function roundUnderWay(round: number): Promise<void> {
    const reactors = ['billing-request-charging', 'billing-deposit-crediting'].map((name) =>
      consumers(app).runner(name),
    );
    await Promise.all(reactors.map((runner) => runner.stop()));
    await publishRound(round);
    const start = await charged();
    await Promise.all(reactors.map((runner) => runner.start()));
    // Read often: the outage must land while the round is still being charged.
    await eventually(async () => (await charged()) >= start + 10, 'charges under way', { intervalMs: 10 });
    const left =
      (await ext.store.lastSequence(Streams.INFERENCE)) - ((await reactors[0]?.storedCheckpoint()) ?? 0);
    console.log(`outage with ${left} completed requests not yet checkpointed`);
    expect(left).toBeGreaterThan(0);
  }

  it('applies every deposit and charge exactly once after each comes back, with no dead letter', async () => {
    await roundUnderWay(0);
    // NATS goes away (kill -9) in the middle of it, and comes back.
    await env.natsServer?.kill();
    await sleep(OUTAGE_MS);
    await env.natsServer?.restart();

    await eventually(
      async () =>
        ext.nc.flush().then(
          () => true,
          () => false,
        ),
      'test connection back',
    );
    await roundUnderWay(1);
    // Postgres goes away (kill -9) in the middle of it, and comes back.
    await env.postgres?.kill();
    await sleep(OUTAGE_MS);
    await env.postgres?.restart();

    await publishRound(2);
    await waitForIdle(app, 120_000);

    // Every request charged once, every deposit credited once.
    const usage: {
      requestId: string;
      accountId: string;
      day: string;
      amount: bigint;
      promptTokens: number;
    }[] = [];
    let deposits = 0;
    for (const accountId of ACCOUNTS) {
      for (const event of (await ext.store.readStream(accountStreamId(accountId))).events) {
        if (UsageCharged.is(event)) usage.push({ ...event.data, amount: BigInt(event.data.amount) });
        if (DepositCredited.is(event)) deposits += 1;
      }
    }
    const total = ROUNDS * REQUESTS_PER_ROUND;
    expect(new Set(usage.map((charge) => charge.requestId)).size).toBe(total);
    expect(usage).toHaveLength(total);
    expect(deposits).toBe(ROUNDS * DEPOSITS_PER_ROUND);

    // The folding projection is exact: its rows are the sums of the charges in the streams.
    const expected = new Map<string, { requests: number; prompt: bigint; amount: bigint }>();
    for (const charge of usage) {
      const key = `${charge.accountId}|${charge.day}`;
      const sum = expected.get(key) ?? { requests: 0, prompt: 0n, amount: 0n };
      expected.set(key, {
        requests: sum.requests + 1,
        prompt: sum.prompt + BigInt(charge.promptTokens),
        amount: sum.amount + charge.amount,
      });
    }
    const rows = (await dataSourceOf(app).query(
      `SELECT account_id, to_char(day, 'YYYY-MM-DD') AS day, requests, prompt_tokens::text AS prompt, amount::text AS amount
         FROM billing_usage_daily ORDER BY account_id, day`,
    )) as { account_id: string; day: string; requests: number; prompt: string; amount: string }[];
    expect(
      Object.fromEntries(
        rows.map((row) => [
          `${row.account_id}|${row.day}`,
          { requests: row.requests, prompt: BigInt(row.prompt), amount: BigInt(row.amount) },
        ]),
      ),
    ).toEqual(Object.fromEntries(expected));

    const parked = (await dataSourceOf(app).query(
      'SELECT count(*)::int AS n FROM projection_dead_letters',
    )) as { n: number }[];
    expect(parked[0]?.n).toBe(0);
    expect(await readModelRows(dataSourceOf(app))).toEqual(await readModelsBuiltAlone(env, ext.nc));
    await assertReconciled(ext.rpc);
  });
});
