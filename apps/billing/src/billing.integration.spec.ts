import { type INestApplication } from '@nestjs/common';
import {
  ChangeAccountStatus,
  ChargeGpuUsage,
  CreditAccount,
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
  VerifyApiKey,
  streamIdOf,
} from '@tessera/contracts';
import { FakeClock, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accountStreamId } from './accounts/account.service.js';
import { GrantSweeper } from './grants/grant-sweeper.js';
import {
  assertLedgerBalanced,
  blockHash,
  dataSourceOf,
  ledgerBalances,
  outside,
  projections,
  publish,
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
  });

  afterAll(async () => {
    await ext?.close();
    await app?.close();
    await env?.cleanup();
  });

  it('opens an account with a deterministic sr25519 deposit address on the hard path of its id', async () => {
    const opened = await ext.rpc.call(OpenAccount, { accountId: 'acme', name: 'Acme' });
    await cryptoWaitReady();
    const expected = new Keyring({ type: 'sr25519', ss58Format: 42 }).createFromUri(
      '//TesseraTestSeed//tessera//deposit//acme',
    ).address;
    expect(opened).toEqual({ accountId: 'acme', depositAddress: expected });
    const { events } = await ext.store.readStream(accountStreamId('acme'));
    expect(events.map((event) => event.type)).toEqual([
      'billing.AccountOpened',
      'billing.DepositAddressAssigned',
    ]);
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
    const keyEvent = events.find((event) => event.type === 'billing.ApiKeyIssued');
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
    const credited = events.filter((event) => event.type === 'billing.DepositCredited');
    expect(credited).toHaveLength(1);
    expect(credited[0]?.data).toMatchObject({
      credited: usd(1000),
      nanoUsdPerTao: usd(400),
      priceVersion: 3,
    });
    expect(
      events.filter((event) => event.type === 'billing.DepositIgnored').map((e) => e.data),
    ).toMatchObject([{ amountRao: '999', reason: 'below-minimum' }]);
    expect((await ext.rpc.call(GetAccount, { accountId: 'acme' })).balance).toBe(usd(1000));
  });

  it('refuses bad amounts, unknown accounts and mismatched idempotency keys with typed errors, posting nothing', async () => {
    const before = (await ext.store.currentPosition(accountStreamId('acme'))).version;
    for (const amount of ['0', '-5', '1.5', 'ten', '1e3', ' 7']) {
      await expect(
        ext.rpc.call(CreditAccount, { accountId: 'acme', idempotencyKey: `bad-${amount}`, amount }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(
        ext.rpc.call(GrantCredit, { accountId: 'acme', holder: 'proxy-1', requested: amount }),
      ).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    }
    await expect(
      ext.rpc.call(GrantCredit, { accountId: 'nobody', holder: 'proxy-1', requested: '5' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
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
    const grant = await ext.rpc.call(GrantCredit, {
      accountId: 'small',
      holder: 'proxy-1',
      requested: usd(5),
    });
    expect(grant.granted).toBe(usd(1));
    await expect(
      ext.rpc.call(GrantCredit, { accountId: 'small', holder: 'proxy-2', requested: '1' }),
    ).rejects.toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    });
    await expect(
      ext.rpc.call(SettleGrant, {
        grantId: grant.grantId,
        usage: [{ requestId: 'r-big', amount: usd(1.01) }],
      }),
    ).rejects.toMatchObject({ code: 'billing.SETTLE_EXCEEDS_GRANT' });
    const settled = await ext.rpc.call(SettleGrant, {
      grantId: grant.grantId,
      usage: [
        { requestId: 'r-1', amount: usd(0.1) },
        { requestId: 'r-2', amount: usd(0.2) },
      ],
    });
    // $0.05 of the $0.30 came from the free allowance, so $0.75 of the grant returns.
    expect(settled).toEqual({ grantId: grant.grantId, charged: usd(0.3), returned: usd(0.75) });
    // A retried settle is a no-op; new usage on a settled grant is refused.
    await expect(
      ext.rpc.call(SettleGrant, { grantId: grant.grantId, usage: [{ requestId: 'r-1', amount: usd(0.1) }] }),
    ).resolves.toMatchObject({ charged: '0' });
    await expect(
      ext.rpc.call(SettleGrant, { grantId: grant.grantId, usage: [{ requestId: 'r-3', amount: usd(0.1) }] }),
    ).rejects.toMatchObject({ code: 'billing.GRANT_CLOSED' });
    expect((await ext.rpc.call(GetAccount, { accountId: 'small' })).balance).toBe(usd(0.75));
  });

  it('returns an unsettled grant after its TTL on its own, and refuses to settle it afterwards', async () => {
    const grant = await ext.rpc.call(GrantCredit, {
      accountId: 'small',
      holder: 'proxy-9',
      requested: usd(0.5),
    });
    await waitForIdle(app);
    const sweeper = app.get(GrantSweeper);
    expect(await sweeper.sweepOnce()).toBe(0);
    clock.advance(30_001);
    await expect(
      ext.rpc.call(SettleGrant, { grantId: grant.grantId, usage: [{ requestId: 'late', amount: '1' }] }),
    ).rejects.toMatchObject({ code: 'billing.GRANT_EXPIRED' });
    expect(await sweeper.sweepOnce()).toBe(1);
    const account = await ext.rpc.call(GetAccount, { accountId: 'small' });
    expect(account).toMatchObject({ balance: usd(0.75), held: '0' });
  });

  it('charges inference.RequestCompleted once per request id through its grant, streamed ones included', async () => {
    const grant = await ext.rpc.call(GrantCredit, {
      accountId: 'acme',
      holder: 'proxy-1',
      requested: usd(10),
    });
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
    const charges = events
      .filter((event) => event.type === 'billing.UsageCharged')
      .map((event) => event.data);
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
    const settled = await ext.rpc.call(SettleGrant, {
      grantId: grant.grantId,
      usage: [{ requestId: 'req-a', amount: usd(0.5) }],
    });
    expect(settled.returned).toBe(usd(9.05));
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
    await expect(
      ext.rpc.call(GrantCredit, { accountId: 'small', holder: 'p', requested: '1' }),
    ).rejects.toMatchObject({
      code: 'billing.ACCOUNT_SUSPENDED',
    });
    await ext.rpc.call(ChangeAccountStatus, { accountId: 'small', action: 'close', reason: 'customer left' });
    await expect(
      ext.rpc.call(GrantCredit, { accountId: 'small', holder: 'p', requested: '1' }),
    ).rejects.toMatchObject({
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

  it('rebuilds every projection from an empty read model with identical balances', async () => {
    await waitForIdle(app);
    const dataSource = dataSourceOf(app);
    const before = await ledgerBalances(dataSource);
    const usageBefore: unknown = await dataSource.query(
      'SELECT * FROM billing_usage_daily ORDER BY account_id, day, item',
    );
    expect(Object.keys(before).length).toBeGreaterThan(5);
    await projections(app).runner('billing-ledger').rebuild();
    await projections(app).runner('billing-usage-daily').rebuild();
    await waitForIdle(app);
    expect(await ledgerBalances(dataSource)).toEqual(before);
    expect(
      await dataSource.query('SELECT * FROM billing_usage_daily ORDER BY account_id, day, item'),
    ).toEqual(usageBefore);
  });
});
