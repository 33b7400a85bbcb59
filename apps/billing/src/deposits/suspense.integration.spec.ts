import { type INestApplication } from '@nestjs/common';
import {
  CreditSuspendedDeposit,
  DepositCredited,
  DepositSuspended,
  GetAccount,
  ListSuspendedDeposits,
  OpenAccount,
  SetTaoPrice,
  TransferObserved,
  streamIdOf,
} from '@tessera/contracts';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accountStreamId } from '../accounts/account.service.js';
import {
  assertLedgerBalanced,
  assertReconciled,
  blockHash,
  dataSourceOf,
  ledgerBalances,
  outside,
  publish,
  startBilling,
  waitForIdle,
  type Outside,
} from '../__tests__/billing-app.fixture.js';
import { depositAddressStreamId } from './deposit-address.decider.js';
import { SuspenseService } from './suspense.service.js';

const SENDER = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
/** An address billing derived for nobody (Bob's, in the development keyring). */
const STRANGER = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty';

describe('TAO that cannot be credited yet is booked on suspense, and credited later', () => {
  let env: TestEnvironment;
  let app: INestApplication;
  let ext: Outside;

  const transfer = (to: string, amount: string, eventIndex: number) =>
    TransferObserved.create({
      from: SENDER,
      to,
      amount,
      blockNumber: 500,
      blockHash: blockHash(500),
      extrinsicIndex: 1,
      eventIndex,
    });
  const depositKey = (eventIndex: number) => `deposit:${blockHash(500)}:${eventIndex}`;

  beforeAll(async () => {
    env = await useTestEnvironment();
    // A long sweep interval: the tests drive the sweeper (and the price change kicks it).
    app = await startBilling(env, { extraEnv: { SUSPENSE_SWEEP_INTERVAL_MS: '600000' } });
    ext = await outside(env);
  });

  afterEach(async () => {
    await waitForIdle(app);
    await assertLedgerBalanced(dataSourceOf(app));
    await assertReconciled(ext.rpc);
  });

  afterAll(async () => {
    await ext?.close();
    await app?.close();
    await env?.cleanup();
  });

  it('books a deposit made before any TAO price in rao on suspense, and credits it once a price is set', async () => {
    const { depositAddress } = await ext.rpc.call(OpenAccount, { accountId: 'early', name: 'Early' });
    await publish(
      ext.store,
      streamIdOf('chain', 'transfer', 't1'),
      transfer(depositAddress, '2000000000', 1),
    );
    await waitForIdle(app);
    const { events } = await ext.store.readStream(accountStreamId('early'));
    expect(events.filter((event) => DepositSuspended.is(event))).toHaveLength(1);
    expect((await ext.rpc.call(GetAccount, { accountId: 'early' })).balance).toBe('0');
    expect((await ledgerBalances(dataSourceOf(app)))['tao:suspense']).toBe('2000000000');
    expect((await ext.rpc.call(ListSuspendedDeposits, {})).deposits).toMatchObject([
      {
        depositKey: depositKey(1),
        accountId: 'early',
        amountRao: '2000000000',
        reason: 'no-tao-price',
        status: 'open',
      },
    ]);
    // No price yet: the operator is told so, with a typed error.
    await expect(
      ext.rpc.call(CreditSuspendedDeposit, { depositKey: depositKey(1), accountId: 'early' }),
    ).rejects.toMatchObject({ code: 'billing.NO_TAO_PRICE' });

    await ext.rpc.call(SetTaoPrice, { nanoUsdPerTao: '300000000000' }); // $300
    await app.get(SuspenseService).sweepOnce();
    await waitForIdle(app);
    expect((await ext.rpc.call(GetAccount, { accountId: 'early' })).balance).toBe('600000000000');
    const balances = await ledgerBalances(dataSourceOf(app));
    expect(balances).toMatchObject({
      'tao:suspense': '0',
      'tao:converted': '2000000000',
      'tao:inflow': '-2000000000',
    });
    expect((await ext.rpc.call(ListSuspendedDeposits, { status: 'credited' })).deposits).toHaveLength(1);
    // Observed again (a replay of the block): nothing more.
    await publish(
      ext.store,
      streamIdOf('chain', 'transfer', 't1-again'),
      transfer(depositAddress, '2000000000', 1),
    );
    await waitForIdle(app);
    expect((await ext.rpc.call(GetAccount, { accountId: 'early' })).balance).toBe('600000000000');
  });

  it('books TAO sent to an address nobody claimed on that address, and credits it where the operator says, once', async () => {
    await ext.rpc.call(OpenAccount, { accountId: 'owner', name: 'Owner' });
    await publish(ext.store, streamIdOf('chain', 'transfer', 't2'), transfer(STRANGER, '1000000000', 2));
    await waitForIdle(app);
    const { events } = await ext.store.readStream(depositAddressStreamId(STRANGER));
    expect(events.filter((event) => DepositSuspended.is(event))).toHaveLength(1);
    await app.get(SuspenseService).sweepOnce(); // nobody claimed it: the sweeper leaves it to the operator
    expect((await ext.rpc.call(ListSuspendedDeposits, {})).deposits).toMatchObject([
      {
        depositKey: depositKey(2),
        address: STRANGER,
        accountId: null,
        reason: 'unclaimed-address',
        status: 'open',
      },
    ]);

    await expect(
      ext.rpc.call(CreditSuspendedDeposit, { depositKey: depositKey(2), address: STRANGER }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const request = { depositKey: depositKey(2), address: STRANGER, accountId: 'owner' };
    const credited = await ext.rpc.call(CreditSuspendedDeposit, request);
    expect(credited).toEqual({
      depositKey: depositKey(2),
      accountId: 'owner',
      credited: '300000000000',
      priceVersion: 1,
    });
    expect(await ext.rpc.call(CreditSuspendedDeposit, request)).toEqual(credited);
    await expect(
      ext.rpc.call(CreditSuspendedDeposit, { ...request, accountId: 'early' }),
    ).rejects.toMatchObject({ code: 'billing.SUSPENDED_DEPOSIT_NOT_FOUND' });
    await waitForIdle(app);
    const ownerEvents = (await ext.store.readStream(accountStreamId('owner'))).events;
    expect(ownerEvents.filter((event) => DepositCredited.is(event)).map((event) => event.data)).toMatchObject(
      [{ fromSuspense: true, credited: '300000000000' }],
    );
    expect((await ext.rpc.call(GetAccount, { accountId: 'owner' })).balance).toBe('300000000000');
    expect((await ledgerBalances(dataSourceOf(app)))['tao:suspense']).toBe('0');
  });
});
