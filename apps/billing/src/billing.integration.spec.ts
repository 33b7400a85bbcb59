import { type INestApplication } from '@nestjs/common';
import {
  AccountOpened,
  ApiKeyIssued,
  ChangeAccountStatus,
  ChargeGpuUsage,
  CreditAccount,
  DepositAddressAssigned,
  DepositCredited,
  DepositIgnored,
  ExportStatement,
  GetAccount,
  GetUsage,
  GrantCredit,
  IssueApiKey,
  ListApiKeys,
  ListLedgerEntries,
  OpenAccount,
  RequestCompleted,
  RevokeApiKey,
  SetGpuPrice,
  SetModelPrice,
  SetTaoPrice,
  SettleGrant,
  TransferObserved,
  UsageCharged,
  VerifyApiKey,
  isTesseraError,
  streamIdOf,
} from '@tessera/contracts';
import { FakeClock, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accountStreamId } from './accounts/account.service.js';
import { depositJunction } from './accounts/deposit-address.js';
import { billingProjections } from './app.module.js';
import { GrantSweeper } from './grants/grant-sweeper.js';
import {
  assertLedgerBalanced,
  assertReconciled,
  blockHash,
  consumers,
  dataSourceOf,
  ledgerBalances,
  outside,
  publish,
  readModelRows,
  startBilling,
  waitForIdle,
  type Outside,
} from './__tests__/billing-app.fixture.js';

const USD = 1_000_000_000n;

const usd = (dollars: number): string => ((BigInt(Math.round(dollars * 100)) * USD) / 100n).toString();
const SENDER = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';

describe('billing service (real NATS and Postgres)', () => {
  let env: TestEnvironment;
  let app: INestApplication;
  let ext: Outside;
  const clock = new FakeClock(Date.now());

  beforeAll(async () => {
    env = await useTestEnvironment();
    app = await startBilling(env, {
      clock,
      extraEnv: { FREE_DAILY_ALLOWANCE_NANO_USD: usd(0.05), GRANT_TTL_MS: '30000' },
    });
    ext = await outside(env);
    await ext.rpc.call(SetTaoPrice, { nanoUsdPerTao: usd(400) });
    await ext.rpc.call(SetModelPrice, {
      model: 'llama-3-8b',
      inputNanoUsdPerMillion: usd(0.2),
      outputNanoUsdPerMillion: usd(0.6),
    });
    await ext.rpc.call(SetGpuPrice, {
      gpuType: 'h100',
      trainingNanoUsdPerHour: usd(2.5),
      deploymentNanoUsdPerHour: usd(3),
    });
  });

  afterEach(async () => {
    await waitForIdle(app);
    await assertLedgerBalanced(dataSourceOf(app));
    await assertReconciled(ext.rpc);
  });

  let grantKeys = 0;
  /** A grant request as a proxy sends it: a fresh idempotency key per intended grant. */
  const grantRequest = (accountId: string, holder: string, requested: string) => ({
    accountId,
    holder,
    requested,
    idempotencyKey: `k-${(grantKeys += 1)}`,
  });

  afterAll(async () => {
    await ext?.close();
    await app?.close();
    await env?.cleanup();
  });

  it('opens an account with a deterministic sr25519 deposit address on the hard path of its id hash', async () => {
    const opened = await ext.rpc.call(OpenAccount, { accountId: 'acme', name: 'Acme' });
    await cryptoWaitReady();
    const expected = new Keyring({ type: 'sr25519', ss58Format: 42 }).createFromUri(
      `//TesseraTestSeed//tessera//deposit//${depositJunction('acme')}`,
    ).address;
    expect(opened).toEqual({ accountId: 'acme', depositAddress: expected });
    const { events } = await ext.store.readStream(accountStreamId('acme'));
    expect(events).toHaveLength(2);
    expect(AccountOpened.is(events[0] as never)).toBe(true);
    expect(DepositAddressAssigned.is(events[1] as never)).toBe(true);
    await expect(ext.rpc.call(OpenAccount, { accountId: 'acme', name: 'again' })).rejects.toMatchObject({
      code: 'billing.ACCOUNT_EXISTS',
    });
  });

  it('issues keys whose events carry hash, scopes and limits but never the secret; verifies, lists, revokes, expires', async () => {
    const issued = await ext.rpc.call(IssueApiKey, {
      accountId: 'acme',
      name: 'ci',
      scopes: ['inference', 'account:read'],
      limits: { requestsPerMinute: 60, tokensPerMinute: 100_000 },
    });
    expect(issued.key).toMatch(new RegExp(`^tsk_${issued.keyId}_`));
    const secret = issued.key.split('_').slice(2).join('_');
    const { events } = await ext.store.readStream(accountStreamId('acme'));
    const keyEvent = events.find((event) => ApiKeyIssued.is(event));
    expect(keyEvent?.data).toMatchObject({ keyId: issued.keyId, scopes: ['inference', 'account:read'] });
    expect(JSON.stringify(keyEvent)).not.toContain(secret);

    await waitForIdle(app);
    expect(await ext.rpc.call(VerifyApiKey, { key: issued.key })).toEqual({
      keyId: issued.keyId,
      accountId: 'acme',
      scopes: ['inference', 'account:read'],
      limits: { requestsPerMinute: 60, tokensPerMinute: 100_000 },
    });
    const forged = `${issued.key.slice(0, -1)}${issued.key.endsWith('A') ? 'B' : 'A'}`;
    await expect(ext.rpc.call(VerifyApiKey, { key: forged })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });

    const shortLived = await ext.rpc.call(IssueApiKey, {
      accountId: 'acme',
      scopes: ['inference'],
      expiresAt: new Date(clock.now().getTime() + 60_000).toISOString(),
    });
    await ext.rpc.call(RevokeApiKey, { accountId: 'acme', keyId: issued.keyId });
    clock.advance(61_000);
    await waitForIdle(app);
    await expect(ext.rpc.call(VerifyApiKey, { key: issued.key })).rejects.toMatchObject({
      code: 'billing.KEY_REVOKED',
    });
    await expect(ext.rpc.call(VerifyApiKey, { key: shortLived.key })).rejects.toMatchObject({
      code: 'billing.KEY_EXPIRED',
    });
    const listed = await ext.rpc.call(ListApiKeys, { accountId: 'acme' });
    expect(listed.keys.map((key) => key.status).sort()).toEqual(['expired', 'revoked']);
    expect(JSON.stringify(listed)).not.toMatch(/secretHash|tsk_/);
  });

  it('credits a deposit delivered three times exactly once, at the TAO price in force, and records dust', async () => {
    const { depositAddress } = await ext.rpc.call(GetAccount, { accountId: 'acme' });
    const transfer = {
      from: SENDER,
      to: depositAddress,
      amount: '2500000000', // 2.5 TAO
      blockNumber: 100,
      blockHash: blockHash(100),
      extrinsicIndex: 2,
      eventIndex: 7,
    };
    for (let delivery = 0; delivery < 3; delivery += 1) {
      await publish(
        ext.store,
        streamIdOf('chain', 'transfer', `b100-${delivery}`),
        TransferObserved.create(transfer),
      );
    }
    await publish(
      ext.store,
      streamIdOf('chain', 'transfer', 'dust'),
      TransferObserved.create({ ...transfer, amount: '999', eventIndex: 8 }),
    );
    await waitForIdle(app);
    const { events } = await ext.store.readStream(accountStreamId('acme'));
    const credited = events.filter((event) => DepositCredited.is(event));
    expect(credited).toHaveLength(1);
    expect(credited[0]?.data).toMatchObject({
      credited: usd(1000),
      nanoUsdPerTao: usd(400),
      priceVersion: 3,
      fromSuspense: false,
    });
    expect(events.filter((event) => DepositIgnored.is(event)).map((e) => e.data)).toMatchObject([
      { amountRao: '999', reason: 'below-minimum' },
    ]);
    // Every rao is on the books: converted to credit, or kept as dust.
    const balances = await ledgerBalances(dataSourceOf(app));
    expect(balances).toMatchObject({
      'tao:inflow': '-2500000999',
      'tao:converted': '2500000000',
      'tao:dust': '999',
    });
    expect((await ext.rpc.call(GetAccount, { accountId: 'acme' })).balance).toBe(usd(1000));
  });

  it('refuses bad amounts, unknown accounts and mismatched idempotency keys with typed errors, posting nothing', async () => {
    const before = (await ext.store.currentPosition(accountStreamId('acme'))).version;
    const huge = `1${'0'.repeat(45)}`;
    for (const amount of ['0', '-5', '1.5', 'ten', '1e3', ' 7', huge, '9'.repeat(900_000)]) {
      // Raw requests: the service itself refuses them (the client would refuse them first).
      await expect(
        ext.raw(CreditAccount, { accountId: 'acme', idempotencyKey: `bad-${amount.length}`, amount }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(ext.raw(GrantCredit, grantRequest('acme', 'proxy-1', amount))).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    }
    // Without an idempotency key a retried grant would hold twice: the key is required.
    await expect(
      ext.raw(GrantCredit, { accountId: 'acme', holder: 'proxy-1', requested: '5' }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(ext.rpc.call(GrantCredit, grantRequest('nobody', 'proxy-1', '5'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // Strings are bounded too: a 900,000-digit cursor is refused by its contract, not by Postgres.
    await expect(
      ext.raw(ListLedgerEntries, { accountId: 'acme', after: '9'.repeat(900_000) }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(ext.raw(ListLedgerEntries, { accountId: 'acme', after: 'x' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await ext.rpc.call(CreditAccount, { accountId: 'acme', idempotencyKey: 'promo-1', amount: usd(1) });
    const again = await ext.rpc.call(CreditAccount, {
      accountId: 'acme',
      idempotencyKey: 'promo-1',
      amount: usd(1),
    });
    expect(again.balance).toBe(usd(1001));
    await expect(
      ext.rpc.call(CreditAccount, { accountId: 'acme', idempotencyKey: 'promo-1', amount: usd(2) }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_MISMATCH' });
    expect((await ext.store.currentPosition(accountStreamId('acme'))).version).toBe(before + 1);
  });

  it('grants up to the balance, settles usage (allowance first) and returns the rest; refuses oversized and late settles', async () => {
    await ext.rpc.call(OpenAccount, { accountId: 'small', name: 'Small' });
    await ext.rpc.call(CreditAccount, { accountId: 'small', idempotencyKey: 'seed', amount: usd(1) });
    const request = grantRequest('small', 'proxy-1', usd(5));
    const grant = await ext.rpc.call(GrantCredit, request);
    expect(grant.granted).toBe(usd(1));
    // A retried grantCredit (same key) answers with the same grant and holds nothing more.
    expect(await ext.rpc.call(GrantCredit, request)).toEqual(grant);
    await expect(ext.rpc.call(GrantCredit, { ...request, requested: usd(4) })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_MISMATCH',
    });
    await expect(ext.rpc.call(GrantCredit, grantRequest('small', 'proxy-2', '1'))).rejects.toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    });
    const usage = [
      { requestId: 'r-1', amount: usd(0.1) },
      { requestId: 'r-2', amount: usd(0.2) },
    ];
    await expect(
      ext.rpc.call(SettleGrant, {
        grantId: grant.grantId,
        holder: 'proxy-1',
        usage: [{ requestId: 'r-big', amount: usd(1.01) }],
      }),
    ).rejects.toMatchObject({ code: 'billing.SETTLE_EXCEEDS_GRANT' });
    // Only the holder settles its grant; one request id twice in a settle is a malformed request.
    await expect(
      ext.rpc.call(SettleGrant, { grantId: grant.grantId, holder: 'proxy-2', usage }),
    ).rejects.toMatchObject({
      code: 'billing.NOT_GRANT_HOLDER',
    });
    await expect(
      ext.rpc.call(SettleGrant, {
        grantId: grant.grantId,
        holder: 'proxy-1',
        usage: [usage[0], usage[0]] as never,
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const settled = await ext.rpc.call(SettleGrant, { grantId: grant.grantId, holder: 'proxy-1', usage });
    // $0.05 of the $0.30 came from the free allowance, so $0.75 of the grant returns.
    expect(settled).toEqual({ grantId: grant.grantId, charged: usd(0.3), returned: usd(0.75) });
    // A retried settle answers with the original result; new usage on a settled grant is refused.
    expect(await ext.rpc.call(SettleGrant, { grantId: grant.grantId, holder: 'proxy-1', usage })).toEqual(
      settled,
    );
    await expect(
      ext.rpc.call(SettleGrant, {
        grantId: grant.grantId,
        holder: 'proxy-1',
        usage: [{ requestId: 'r-3', amount: usd(0.1) }],
      }),
    ).rejects.toMatchObject({ code: 'billing.GRANT_CLOSED' });
    expect((await ext.rpc.call(GetAccount, { accountId: 'small' })).balance).toBe(usd(0.75));
  });

  it('returns an unsettled grant after its TTL on its own, and refuses to settle it afterwards', async () => {
    const grant = await ext.rpc.call(GrantCredit, grantRequest('small', 'proxy-9', usd(0.5)));
    await waitForIdle(app);
    const sweeper = app.get(GrantSweeper);
    expect(await sweeper.sweepOnce()).toBe(0);
    clock.advance(30_001);
    await expect(
      ext.rpc.call(SettleGrant, {
        grantId: grant.grantId,
        holder: 'proxy-9',
        usage: [{ requestId: 'late', amount: '1' }],
      }),
    ).rejects.toMatchObject({ code: 'billing.GRANT_EXPIRED' });
    expect(await sweeper.sweepOnce()).toBe(1);
    const account = await ext.rpc.call(GetAccount, { accountId: 'small' });
    expect(account).toMatchObject({ balance: usd(0.75), held: '0' });
  });

  it('charges inference.RequestCompleted once per request id through its grant, streamed ones included', async () => {
    const grant = await ext.rpc.call(GrantCredit, grantRequest('acme', 'proxy-1', usd(10)));
    const completed = (requestId: string, streamed: boolean) =>
      RequestCompleted.create({
        requestId,
        accountId: 'acme',
        keyId: 'abcdefghij012345',
        model: 'llama-3-8b',
        promptTokens: 1_000_000,
        completionTokens: 500_000,
        streamed,
        grantId: grant.grantId,
        minerHotkey: SENDER,
        instanceId: 'inst-1',
        latency: { firstTokenMs: 80, totalMs: 900 },
        status: streamed ? 'cancelled' : 'succeeded',
      });
    for (const [requestId, streamed] of [
      ['req-a', false],
      ['req-b', true],
      ['req-a', false],
    ] as const) {
      await publish(ext.store, streamIdOf('inference', 'request', requestId), completed(requestId, streamed));
    }
    await waitForIdle(app);
    const { events } = await ext.store.readStream(accountStreamId('acme'));
    const charges = events.filter((event) => UsageCharged.is(event)).map((event) => event.data);
    // $0.20 input + $0.30 output = $0.50 each; the day's $0.05 allowance covers part of the first.
    expect(charges).toMatchObject([
      {
        requestId: 'req-a',
        amount: usd(0.5),
        fromAllowance: usd(0.05),
        fromGrant: usd(0.45),
        priceVersion: 3,
      },
      { requestId: 'req-b', amount: usd(0.5), fromAllowance: '0', fromGrant: usd(0.5) },
    ]);
    // The first report of a request id wins: settling req-a again charges nothing more.
    const settled = await ext.rpc.call(SettleGrant, {
      grantId: grant.grantId,
      holder: 'proxy-1',
      usage: [{ requestId: 'req-a', amount: usd(0.5) }],
    });
    expect(settled).toMatchObject({ charged: '0', returned: usd(9.05) });
  });

  it('charges GPU time without a grant only up to the balance', async () => {
    const charged = await ext.rpc.call(ChargeGpuUsage, {
      accountId: 'small',
      chargeId: 'train-1',
      product: 'training',
      gpuSeconds: 360,
      gpuType: 'h100',
    });
    expect(charged.amount).toBe(usd(0.25));
    await expect(
      ext.rpc.call(ChargeGpuUsage, {
        accountId: 'small',
        chargeId: 'train-1',
        product: 'training',
        gpuSeconds: 720,
        gpuType: 'h100',
      }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_MISMATCH' });
    await expect(
      ext.rpc.call(ChargeGpuUsage, {
        accountId: 'small',
        chargeId: 'train-2',
        product: 'deployment',
        gpuSeconds: 3600,
        gpuType: 'h100',
      }),
    ).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    await expect(
      ext.rpc.call(ChargeGpuUsage, {
        accountId: 'small',
        chargeId: 'train-3',
        product: 'training',
        gpuSeconds: 1,
        gpuType: 'b200',
      }),
    ).rejects.toMatchObject({ code: 'billing.UNKNOWN_PRICE' });
    expect((await ext.rpc.call(GetAccount, { accountId: 'small' })).balance).toBe(usd(0.5));
  });

  it('credits a deposit made the moment the account opens, once, while the directory read model is held back', async () => {
    const directory = consumers(app).runner('billing-directory');
    await directory.stop();
    try {
      const opened = await ext.rpc.call(OpenAccount, { accountId: 'swift', name: 'Swift' });
      const transfer = TransferObserved.create({
        from: SENDER,
        to: opened.depositAddress,
        amount: '1000000000', // 1 TAO
        blockNumber: 200,
        blockHash: blockHash(200),
        extrinsicIndex: 1,
        eventIndex: 3,
      });
      await publish(ext.store, streamIdOf('chain', 'transfer', 'b200-a'), transfer);
      await publish(ext.store, streamIdOf('chain', 'transfer', 'b200-b'), transfer);
      await consumers(app).runner('billing-deposit-crediting').waitUntilCaughtUp();
      const rows = (await dataSourceOf(app).query('SELECT 1 FROM billing_accounts WHERE account_id = $1', [
        'swift',
      ])) as unknown[];
      expect(rows).toHaveLength(0); // the directory never saw the account, and the deposit did not need it
      const { events } = await ext.store.readStream(accountStreamId('swift'));
      expect(events.filter((event) => DepositCredited.is(event))).toHaveLength(1);
      expect((await ext.rpc.call(GetAccount, { accountId: 'swift' })).balance).toBe(usd(400));
    } finally {
      await directory.start();
    }
  });

  it('gives 7, 07 and 0x07 three deposit addresses, and credits each deposit to its own account', async () => {
    const ids = ['7', '07', '0x07'];
    const addresses: string[] = [];
    for (const [index, accountId] of ids.entries()) {
      const { depositAddress } = await ext.rpc.call(OpenAccount, { accountId, name: `number ${accountId}` });
      addresses.push(depositAddress);
      await publish(
        ext.store,
        streamIdOf('chain', 'transfer', `b300-${index}`),
        TransferObserved.create({
          from: SENDER,
          to: depositAddress,
          amount: String((index + 1) * 100_000_000), // 0.1, 0.2, 0.3 TAO
          blockNumber: 300,
          blockHash: blockHash(300),
          extrinsicIndex: index,
          eventIndex: 10 + index,
        }),
      );
    }
    expect(new Set(addresses).size).toBe(3);
    await waitForIdle(app);
    for (const [index, accountId] of ids.entries()) {
      expect((await ext.rpc.call(GetAccount, { accountId })).balance).toBe(usd(40 * (index + 1)));
    }
  });

  it('books usage beyond allowance and balance as owed, grants nothing until a credit pays it, then grants again', async () => {
    await ext.rpc.call(OpenAccount, { accountId: 'owes', name: 'Owes' });
    await ext.rpc.call(CreditAccount, { accountId: 'owes', idempotencyKey: 'seed', amount: usd(0.1) });
    await publish(
      ext.store,
      streamIdOf('inference', 'request', 'owes-1'),
      RequestCompleted.create({
        requestId: 'owes-1',
        accountId: 'owes',
        keyId: 'abcdefghij012345',
        model: 'llama-3-8b',
        promptTokens: 1_000_000,
        completionTokens: 500_000,
        streamed: false,
        grantId: null,
        minerHotkey: null,
        instanceId: null,
        latency: { firstTokenMs: 50, totalMs: 500 },
        status: 'succeeded',
      }),
    );
    await waitForIdle(app);
    // $0.50: $0.05 free allowance, the $0.10 balance, and $0.35 owed.
    expect(await ext.rpc.call(GetAccount, { accountId: 'owes' })).toMatchObject({
      balance: '0',
      owed: usd(0.35),
    });
    expect((await ledgerBalances(dataSourceOf(app)))['receivable:owes']).toBe(`-${usd(0.35)}`);
    await expect(ext.rpc.call(GrantCredit, grantRequest('owes', 'proxy-1', usd(0.1)))).rejects.toSatisfy(
      (err: unknown) => isTesseraError(err, 'billing.RECEIVABLE_OUTSTANDING'),
    );
    await ext.rpc.call(CreditAccount, { accountId: 'owes', idempotencyKey: 'top-up', amount: usd(1) });
    expect(await ext.rpc.call(GetAccount, { accountId: 'owes' })).toMatchObject({
      balance: usd(0.65),
      owed: '0',
    });
    expect((await ext.rpc.call(GrantCredit, grantRequest('owes', 'proxy-1', usd(0.1)))).granted).toBe(
      usd(0.1),
    );
    await waitForIdle(app);
    expect((await ledgerBalances(dataSourceOf(app)))['receivable:owes']).toBe('0');
  });

  it('reports usage per day and model, pages ledger entries and exports them as CSV', async () => {
    await waitForIdle(app);
    const today = clock.now().toISOString().slice(0, 10);
    const usage = await ext.rpc.call(GetUsage, {
      accountId: 'acme',
      from: '2000-01-01',
      to: '2999-12-31',
      groupBy: 'item',
    });
    expect(usage.rows).toEqual([
      {
        day: null,
        item: 'llama-3-8b',
        requests: 2,
        promptTokens: '2000000',
        completionTokens: '1000000',
        gpuSeconds: '0',
        amount: usd(1),
      },
    ]);
    const first = await ext.rpc.call(ListLedgerEntries, { accountId: 'acme', limit: 2 });
    expect(first.entries).toHaveLength(2);
    expect(first.entries[0]).toMatchObject({
      eventType: 'billing.DepositCredited',
      change: usd(1000),
      balanceAfter: usd(1000),
    });
    const all: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await ext.rpc.call(ListLedgerEntries, {
        accountId: 'acme',
        limit: 2,
        ...(after ? { after } : {}),
      });
      all.push(...page.entries.map((entry) => entry.balanceAfter));
      if (page.next === null) break;
      after = page.next;
    }
    const account = await ext.rpc.call(GetAccount, { accountId: 'acme' });
    expect(all.at(-1)).toBe(account.balance);
    const { csv } = await ext.rpc.call(ExportStatement, { accountId: 'acme', from: today, to: today });
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe(
      'occurred_at,entry_id,event_type,idempotency_key,counterparty,change_nano_usd,balance_after_nano_usd',
    );
    expect(lines).toHaveLength(all.length + 1);
  });

  it('refuses a closed account everything that spends, keeps its history, and stops its keys', async () => {
    const key = await ext.rpc.call(IssueApiKey, { accountId: 'small', scopes: ['inference'] });
    await ext.rpc.call(ChangeAccountStatus, { accountId: 'small', action: 'suspend', reason: 'review' });
    await expect(ext.rpc.call(GrantCredit, grantRequest('small', 'p', '1'))).rejects.toMatchObject({
      code: 'billing.ACCOUNT_SUSPENDED',
    });
    await ext.rpc.call(ChangeAccountStatus, { accountId: 'small', action: 'close', reason: 'customer left' });
    await expect(ext.rpc.call(GrantCredit, grantRequest('small', 'p', '1'))).rejects.toMatchObject({
      code: 'billing.ACCOUNT_CLOSED',
    });
    await expect(
      ext.rpc.call(IssueApiKey, { accountId: 'small', scopes: ['inference'] }),
    ).rejects.toMatchObject({
      code: 'billing.ACCOUNT_CLOSED',
    });
    await waitForIdle(app);
    await expect(ext.rpc.call(VerifyApiKey, { key: key.key })).rejects.toMatchObject({
      code: 'billing.ACCOUNT_CLOSED',
    });
    const history = await ext.rpc.call(ListLedgerEntries, { accountId: 'small' });
    expect(history.entries.length).toBeGreaterThan(0);
  });

  it('rebuilds every projection from an empty read model with identical rows', async () => {
    await waitForIdle(app);
    const dataSource = dataSourceOf(app);
    const before = await readModelRows(dataSource);
    expect(Object.keys(await ledgerBalances(dataSource)).length).toBeGreaterThan(5);
    for (const projection of billingProjections) await consumers(app).runner(projection.name).rebuild();
    await waitForIdle(app);
    expect(await readModelRows(dataSource)).toEqual(before);
  });
});
