import {
  CreditAccount,
  DepositCredited,
  GrantCredit,
  OpenAccount,
  RequestCompleted,
  SetModelPrice,
  SetTaoPrice,
  TransferObserved,
  UsageCharged,
  streamIdOf,
} from '@tessera/contracts';
import { eventually, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { type DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountStreamId } from './accounts/account.service.js';
import {
  billingSchemaDataSource,
  startBillingProcess,
  startTsProcess,
  waitForCheckpoints,
  type BillingProcess,
  type ChildHandle,
} from './__tests__/billing-process.fixture.js';
import {
  assertReconciled,
  blockHash,
  outside,
  publish,
  readModelRows,
  readModelsBuiltAlone,
  type Outside,
} from './__tests__/billing-app.fixture.js';

const ACCOUNTS = ['r0', 'r1', 'r2', 'r3'];
const REQUESTS = 1_200;
const DEPOSITS = 40;
/** 1,000 prompt tokens at $0.001/M + 1,000 completion tokens at $0.003/M. */
const PER_REQUEST = 4_000n;

describe('two billing processes under charging load; kill -9 of the active one', () => {
  let env: TestEnvironment;
  let ext: Outside;
  let dataSource: DataSource;
  const processes: (BillingProcess | ChildHandle)[] = [];

  beforeAll(async () => {
    env = await useTestEnvironment();
    ext = await outside(env);
    dataSource = await billingSchemaDataSource(env);
  });

  afterAll(async () => {
    await Promise.all(processes.map((child) => child.kill('SIGKILL')));
    await dataSource?.destroy();
    await ext?.close();
    await env?.cleanup();
  });

  it('loses nothing and doubles nothing: every read model equals what one process alone builds from the streams', async () => {
    // The first process takes every consumer's lease; the second stands by.
    const active = await startBillingProcess(env);
    processes.push(active);
    await active.waitUntilReady();
    const standby = await startBillingProcess(env);
    processes.push(standby);
    await standby.waitUntilReady();

    await ext.rpc.call(SetModelPrice, {
      model: 'm',
      inputNanoUsdPerMillion: '1000000',
      outputNanoUsdPerMillion: '3000000',
    });
    await ext.rpc.call(SetTaoPrice, { nanoUsdPerTao: '200000000000' });
    const addresses: string[] = [];
    const grants: string[] = [];
    for (const accountId of ACCOUNTS) {
      addresses.push((await ext.rpc.call(OpenAccount, { accountId, name: accountId })).depositAddress);
      await ext.rpc.call(CreditAccount, { accountId, idempotencyKey: 'seed', amount: '1000000000000' });
      const grant = await ext.rpc.call(GrantCredit, {
        accountId,
        holder: 'proxy-1',
        requested: '500000000000',
        idempotencyKey: 'g',
      });
      grants.push(grant.grantId);
    }

    // Load from three sides: completed requests (request-charging reactor), deposits (deposit
    // reactor), and grant/settle calls that both processes answer (a holder process).
    const holder = startTsProcess(new URL('./__tests__/bank-holder.child.ts', import.meta.url), [
      env.natsUrl,
      env.namespace,
      'proxy-9',
      'r0',
      '1000',
      '300',
      '4',
    ]);
    processes.push(holder);
    const published = Promise.all([
      ...Array.from({ length: REQUESTS }, (_, i) =>
        publish(
          ext.store,
          streamIdOf('inference', 'request', `q-${i}`),
          RequestCompleted.create({
            requestId: `q-${i}`,
            accountId: ACCOUNTS[i % ACCOUNTS.length] ?? 'r0',
            keyId: 'abcdefghij012345',
            model: 'm',
            promptTokens: 1_000,
            completionTokens: 1_000,
            streamed: i % 2 === 0,
            grantId: grants[i % ACCOUNTS.length] ?? null,
            minerHotkey: null,
            instanceId: null,
            latency: { firstTokenMs: null, totalMs: 10 },
            status: 'succeeded',
          }),
        ),
      ),
      ...Array.from({ length: DEPOSITS }, (_, i) =>
        publish(
          ext.store,
          streamIdOf('chain', 'transfer', `d-${i}`),
          TransferObserved.create({
            from: addresses[0] ?? '',
            to: addresses[i % addresses.length] ?? '',
            amount: '100000000',
            blockNumber: 1_000 + i,
            blockHash: blockHash(1_000 + i),
            extrinsicIndex: 0,
            eventIndex: 1,
          }),
        ),
      ),
    ]);

    // Kill the active process while charges are being written.
    const charged = async (): Promise<number> =>
      (
        await Promise.all(ACCOUNTS.map((accountId) => ext.store.currentPosition(accountStreamId(accountId))))
      ).reduce((sum, position) => sum + position.version, 0);
    // Read often: the kill must land while charges are still being written.
    await eventually(async () => (await charged()) > 300, 'charges under way', { intervalMs: 10 });
    await active.kill('SIGKILL');
    // It died with work left: the standby has charges of its own to make.
    expect(await charged()).toBeLessThan(REQUESTS);
    await published;
    expect((await holder.exited).code, holder.output()).toBe(0);

    // The standby takes over every consumer and catches up.
    await waitForCheckpoints(dataSource, ext.store);
    let usage = 0;
    let deposits = 0;
    const requestIds = new Set<string>();
    for (const accountId of ACCOUNTS) {
      for (const event of (await ext.store.readStream(accountStreamId(accountId))).events) {
        if (UsageCharged.is(event) && event.data.requestId.startsWith('q-')) {
          usage += 1;
          requestIds.add(event.data.requestId);
        }
        if (DepositCredited.is(event)) deposits += 1;
      }
    }
    expect({ usage, distinct: requestIds.size, deposits }).toEqual({
      usage: REQUESTS,
      distinct: REQUESTS,
      deposits: DEPOSITS,
    });

    const rows = await readModelRows(dataSource);
    expect(rows).toEqual(await readModelsBuiltAlone(env, ext.nc));
    const revenue = (rows['balances'] as { ledger_account: string; balance: string }[]).find(
      (row) => row.ledger_account === 'platform:revenue:inference',
    );
    const settledByHolder =
      BigInt(JSON.parse(holder.output().trim().split('\n').at(-1) ?? '{}').accepted as number) * 1_000n;
    expect(revenue?.balance).toBe((BigInt(REQUESTS) * PER_REQUEST + settledByHolder).toString());
    const parked = (await dataSource.query('SELECT count(*)::int AS n FROM projection_dead_letters')) as {
      n: number;
    }[];
    expect(parked[0]?.n).toBe(0);
    await assertReconciled(ext.rpc);
  });
});
