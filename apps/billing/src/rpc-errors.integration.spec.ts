import { type INestApplication } from '@nestjs/common';
import {
  BillingDeadLetters,
  ChangeAccountStatus,
  ChargeGpuUsage,
  CreditAccount,
  CreditSuspendedDeposit,
  DepositAddressClaimed,
  ErrorCode,
  ExportStatement,
  GetAccount,
  GetPriceBook,
  GetUsage,
  GrantCredit,
  IssueApiKey,
  ListApiKeys,
  ListLedgerEntries,
  ListSuspendedDeposits,
  OpenAccount,
  ReconcileBilling,
  RequestCompleted,
  RevokeApiKey,
  SetGpuPrice,
  SetModelPrice,
  SetTaoPrice,
  SettleGrant,
  VerifyApiKey,
  billingRpcContracts,
  isTesseraError,
  streamIdOf,
  type RpcContract,
} from '@tessera/contracts';
import { RPC_CONTRACT_METADATA } from '@tessera/platform/messaging';
import { FakeClock, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DepositAddressDeriver } from './accounts/deposit-address.js';
import { BillingModule } from './app.module.js';
import { depositAddressStreamId } from './deposits/deposit-address.decider.js';
import { DEPOSIT_DERIVER } from './shared/tokens.js';
import {
  billingEnv,
  outside,
  publish,
  startBilling,
  waitForIdle,
  type Outside,
} from './__tests__/billing-app.fixture.js';

/** Codes any call may meet besides its contract's: bad input, and infrastructure trouble. */
const GENERIC_CODES = new Set<string>([ErrorCode.ValidationFailed, ErrorCode.Unavailable, ErrorCode.Timeout]);

/** One way to make a handler refuse, and the code it must answer with; the request goes raw. */
interface Refusal {
  contract: RpcContract;
  why: string;
  request: () => unknown;
  code: string;
}
const refusal = (contract: RpcContract, why: string, code: string, request: () => unknown): Refusal => ({
  contract,
  why,
  request,
  code,
});

/** Every contract served by an @RpcHandler method of billing's controllers. */
function servedContracts(env: TestEnvironment): RpcContract[] {
  const controllers = BillingModule.forRoot({ env: billingEnv(env) }).controllers ?? [];
  const contracts: RpcContract[] = [];
  for (const controller of controllers) {
    const prototype = (controller as { prototype: object }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const method: unknown = Reflect.get(prototype, name);
      const contract: unknown =
        typeof method === 'function' ? Reflect.getMetadata(RPC_CONTRACT_METADATA, method) : undefined;
      if (contract) contracts.push(contract as RpcContract);
    }
  }
  return contracts;
}

describe('every refusal of every billing handler is a code its contract declares', () => {
  let env: TestEnvironment;
  let app: INestApplication;
  let ext: Outside;
  const clock = new FakeClock(Date.now());
  const keys: Record<string, string> = {};
  let grantId = '';

  beforeAll(async () => {
    env = await useTestEnvironment();
    app = await startBilling(env, { clock });
    ext = await outside(env);
    const call = ext.rpc.call.bind(ext.rpc);
    for (const accountId of ['rich', 'broke', 'closed', 'paused', 'owes'])
      await call(OpenAccount, { accountId, name: accountId });
    for (const accountId of ['rich', 'closed', 'paused'])
      await call(CreditAccount, { accountId, idempotencyKey: 'seed', amount: '1000000000' });
    await call(SetModelPrice, {
      model: 'm',
      inputNanoUsdPerMillion: '1000000000',
      outputNanoUsdPerMillion: '1000000000',
    });
    await call(SetGpuPrice, {
      gpuType: 'h100',
      trainingNanoUsdPerHour: '3600000000',
      deploymentNanoUsdPerHour: '3600000000',
    });
    keys['revoked'] = (await call(IssueApiKey, { accountId: 'rich', scopes: ['inference'] })).key;
    await call(RevokeApiKey, { accountId: 'rich', keyId: keys['revoked'].split('_')[1] ?? '' });
    keys['expired'] = (
      await call(IssueApiKey, {
        accountId: 'rich',
        scopes: ['inference'],
        expiresAt: new Date(clock.now().getTime() - 1).toISOString(),
      })
    ).key;
    keys['closed'] = (await call(IssueApiKey, { accountId: 'closed', scopes: ['inference'] })).key;
    keys['paused'] = (await call(IssueApiKey, { accountId: 'paused', scopes: ['inference'] })).key;
    await call(ChangeAccountStatus, { accountId: 'closed', action: 'close' });
    await call(ChangeAccountStatus, { accountId: 'paused', action: 'suspend' });
    await call(ChargeGpuUsage, {
      accountId: 'rich',
      chargeId: 'gpu-1',
      product: 'training',
      gpuType: 'h100',
      gpuSeconds: 1,
    });
    grantId = (
      await call(GrantCredit, {
        accountId: 'rich',
        holder: 'proxy-1',
        requested: '1000',
        idempotencyKey: 'g1',
      })
    ).grantId;
    // 'owes' has usage beyond its (empty) balance: a receivable.
    await publish(
      ext.store,
      streamIdOf('inference', 'request', 'owes-1'),
      RequestCompleted.create({
        requestId: 'owes-1',
        accountId: 'owes',
        keyId: 'abcdefghij012345',
        model: 'm',
        promptTokens: 1000,
        completionTokens: 0,
        streamed: false,
        grantId: null,
        minerHotkey: null,
        instanceId: null,
        latency: { firstTokenMs: 1, totalMs: 2 },
        status: 'succeeded',
      }),
    );
    // An address someone else already claimed, derived for the account that will try to open on it.
    const deriver = app.get<DepositAddressDeriver>(DEPOSIT_DERIVER);
    const taken = deriver.addressFor('taken');
    await ext.store.append(depositAddressStreamId(taken), [
      DepositAddressClaimed.create({ address: taken, accountId: 'squatter' }),
    ]);
    await waitForIdle(app);
  });

  afterAll(async () => {
    await ext?.close();
    await app?.close();
    await env?.cleanup();
  });

  const richAddress = async (): Promise<string> =>
    (await ext.rpc.call(GetAccount, { accountId: 'rich' })).depositAddress;
  let address = '';
  const unknownDeposit = `deposit:0x${'e'.repeat(64)}:1`;

  const refusals = (): Refusal[] => [
    refusal(OpenAccount, 'an account that exists', 'billing.ACCOUNT_EXISTS', () => ({
      accountId: 'rich',
      name: 'again',
    })),
    refusal(OpenAccount, 'an address another account claimed', 'billing.DEPOSIT_ADDRESS_TAKEN', () => ({
      accountId: 'taken',
      name: 't',
    })),
    refusal(OpenAccount, 'an id that is no subject token', 'VALIDATION_FAILED', () => ({
      accountId: 'a.b',
      name: 'x',
    })),
    refusal(ChangeAccountStatus, 'an unknown account', 'NOT_FOUND', () => ({
      accountId: 'nobody',
      action: 'suspend',
    })),
    refusal(ChangeAccountStatus, 'a closed account', 'billing.ACCOUNT_CLOSED', () => ({
      accountId: 'closed',
      action: 'reinstate',
    })),
    refusal(GetAccount, 'an unknown account', 'NOT_FOUND', () => ({ accountId: 'nobody' })),
    refusal(IssueApiKey, 'an unknown account', 'NOT_FOUND', () => ({
      accountId: 'nobody',
      scopes: ['inference'],
    })),
    refusal(IssueApiKey, 'a closed account', 'billing.ACCOUNT_CLOSED', () => ({
      accountId: 'closed',
      scopes: ['inference'],
    })),
    refusal(ListApiKeys, 'an unknown account', 'NOT_FOUND', () => ({ accountId: 'nobody' })),
    refusal(RevokeApiKey, 'an unknown key', 'NOT_FOUND', () => ({
      accountId: 'rich',
      keyId: '0000000000000000',
    })),
    refusal(VerifyApiKey, 'a malformed key', 'UNAUTHORIZED', () => ({ key: 'tsk_nope' })),
    refusal(VerifyApiKey, 'a revoked key', 'billing.KEY_REVOKED', () => ({ key: keys['revoked'] ?? '' })),
    refusal(VerifyApiKey, 'an expired key', 'billing.KEY_EXPIRED', () => ({ key: keys['expired'] ?? '' })),
    refusal(VerifyApiKey, "a closed account's key", 'billing.ACCOUNT_CLOSED', () => ({
      key: keys['closed'] ?? '',
    })),
    refusal(VerifyApiKey, "a suspended account's key", 'billing.ACCOUNT_SUSPENDED', () => ({
      key: keys['paused'] ?? '',
    })),
    refusal(CreditAccount, 'an unknown account', 'NOT_FOUND', () => ({
      accountId: 'nobody',
      idempotencyKey: 'k',
      amount: '1',
    })),
    refusal(CreditAccount, 'a reused key', 'IDEMPOTENCY_MISMATCH', () => ({
      accountId: 'rich',
      idempotencyKey: 'seed',
      amount: '2',
    })),
    refusal(CreditAccount, 'a closed account', 'billing.ACCOUNT_CLOSED', () => ({
      accountId: 'closed',
      idempotencyKey: 'k',
      amount: '1',
    })),
    refusal(CreditAccount, 'an amount past the maximum', 'VALIDATION_FAILED', () => ({
      accountId: 'rich',
      idempotencyKey: 'k',
      amount: `1${'0'.repeat(45)}`,
    })),
    refusal(GrantCredit, 'an unknown account', 'NOT_FOUND', () => ({
      accountId: 'nobody',
      holder: 'p',
      requested: '1',
      idempotencyKey: 'x',
    })),
    refusal(GrantCredit, 'an empty balance', 'INSUFFICIENT_FUNDS', () => ({
      accountId: 'broke',
      holder: 'p',
      requested: '1',
      idempotencyKey: 'x',
    })),
    refusal(GrantCredit, 'a reused key', 'IDEMPOTENCY_MISMATCH', () => ({
      accountId: 'rich',
      holder: 'proxy-1',
      requested: '2',
      idempotencyKey: 'g1',
    })),
    refusal(GrantCredit, 'a closed account', 'billing.ACCOUNT_CLOSED', () => ({
      accountId: 'closed',
      holder: 'p',
      requested: '1',
      idempotencyKey: 'x',
    })),
    refusal(GrantCredit, 'a suspended account', 'billing.ACCOUNT_SUSPENDED', () => ({
      accountId: 'paused',
      holder: 'p',
      requested: '1',
      idempotencyKey: 'x',
    })),
    refusal(GrantCredit, 'an account that owes', 'billing.RECEIVABLE_OUTSTANDING', () => ({
      accountId: 'owes',
      holder: 'p',
      requested: '1',
      idempotencyKey: 'x',
    })),
    refusal(SettleGrant, 'an unknown grant', 'NOT_FOUND', () => ({
      grantId: 'rich:01942f00-0000-7000-8000-000000000099',
      holder: 'proxy-1',
      usage: [],
    })),
    refusal(SettleGrant, 'another holder', 'billing.NOT_GRANT_HOLDER', () => ({
      grantId,
      holder: 'proxy-2',
      usage: [],
    })),
    refusal(SettleGrant, 'more than the grant', 'billing.SETTLE_EXCEEDS_GRANT', () => ({
      grantId,
      holder: 'proxy-1',
      usage: [{ requestId: 'big', amount: '1001' }],
    })),
    refusal(SettleGrant, 'a request id twice', 'VALIDATION_FAILED', () => ({
      grantId,
      holder: 'proxy-1',
      usage: [
        { requestId: 'r', amount: '1' },
        { requestId: 'r', amount: '1' },
      ],
    })),
    refusal(ChargeGpuUsage, 'an unknown account', 'NOT_FOUND', () => ({
      accountId: 'nobody',
      chargeId: 'c',
      product: 'training',
      gpuType: 'h100',
      gpuSeconds: 1,
    })),
    refusal(ChargeGpuUsage, 'more than the balance', 'INSUFFICIENT_FUNDS', () => ({
      accountId: 'broke',
      chargeId: 'c',
      product: 'training',
      gpuType: 'h100',
      gpuSeconds: 1,
    })),
    refusal(ChargeGpuUsage, 'a reused charge id', 'IDEMPOTENCY_MISMATCH', () => ({
      accountId: 'rich',
      chargeId: 'gpu-1',
      product: 'training',
      gpuType: 'h100',
      gpuSeconds: 2,
    })),
    refusal(ChargeGpuUsage, 'a closed account', 'billing.ACCOUNT_CLOSED', () => ({
      accountId: 'closed',
      chargeId: 'c',
      product: 'training',
      gpuType: 'h100',
      gpuSeconds: 1,
    })),
    refusal(ChargeGpuUsage, 'a suspended account', 'billing.ACCOUNT_SUSPENDED', () => ({
      accountId: 'paused',
      chargeId: 'c',
      product: 'training',
      gpuType: 'h100',
      gpuSeconds: 1,
    })),
    refusal(ChargeGpuUsage, 'an account that owes', 'billing.RECEIVABLE_OUTSTANDING', () => ({
      accountId: 'owes',
      chargeId: 'c',
      product: 'training',
      gpuType: 'h100',
      gpuSeconds: 1,
    })),
    refusal(ChargeGpuUsage, 'a GPU without a price', 'billing.UNKNOWN_PRICE', () => ({
      accountId: 'rich',
      chargeId: 'c',
      product: 'training',
      gpuType: 'b200',
      gpuSeconds: 1,
    })),
    refusal(SetTaoPrice, 'a price past the maximum', 'VALIDATION_FAILED', () => ({
      nanoUsdPerTao: `1${'0'.repeat(18)}`,
    })),
    refusal(SetModelPrice, 'a negative price', 'VALIDATION_FAILED', () => ({
      model: 'm',
      inputNanoUsdPerMillion: '-1',
      outputNanoUsdPerMillion: '1',
    })),
    refusal(SetGpuPrice, 'a fractional price', 'VALIDATION_FAILED', () => ({
      gpuType: 'h100',
      trainingNanoUsdPerHour: '1.5',
      deploymentNanoUsdPerHour: '1',
    })),
    refusal(GetPriceBook, 'a body that is not an object', 'VALIDATION_FAILED', () => 'nope'),
    refusal(GetUsage, 'an unknown account', 'NOT_FOUND', () => ({
      accountId: 'nobody',
      from: '2025-01-01',
      to: '2025-01-02',
    })),
    refusal(ListLedgerEntries, 'an unknown account', 'NOT_FOUND', () => ({ accountId: 'nobody' })),
    refusal(ListLedgerEntries, 'a cursor of 900,000 digits', 'VALIDATION_FAILED', () => ({
      accountId: 'rich',
      after: '9'.repeat(900_000),
    })),
    refusal(ExportStatement, 'an unknown account', 'NOT_FOUND', () => ({
      accountId: 'nobody',
      from: '2025-01-01',
      to: '2025-01-02',
    })),
    refusal(ExportStatement, 'a range that ends before it starts', 'VALIDATION_FAILED', () => ({
      accountId: 'rich',
      from: '2025-01-02',
      to: '2025-01-01',
    })),
    refusal(ListSuspendedDeposits, 'a limit of zero', 'VALIDATION_FAILED', () => ({ limit: 0 })),
    refusal(CreditSuspendedDeposit, 'no TAO price yet', 'billing.NO_TAO_PRICE', () => ({
      depositKey: unknownDeposit,
      accountId: 'rich',
    })),
    refusal(ReconcileBilling, 'a body that is not an object', 'VALIDATION_FAILED', () => 'nope'),
    refusal(BillingDeadLetters.list, 'an unknown consumer', 'NOT_FOUND', () => ({
      consumer: 'billing-nothing',
    })),
    refusal(BillingDeadLetters.replay, 'an unknown consumer', 'NOT_FOUND', () => ({
      consumer: 'billing-nothing',
    })),
  ];
  // Refusals that need a TAO price, and one that needs time to pass.
  const refusalsWithPrice = (): Refusal[] => [
    refusal(CreditSuspendedDeposit, 'an unknown deposit', 'billing.SUSPENDED_DEPOSIT_NOT_FOUND', () => ({
      depositKey: unknownDeposit,
      accountId: 'rich',
    })),
    refusal(CreditSuspendedDeposit, "another account's address", 'billing.DEPOSIT_ADDRESS_TAKEN', () => ({
      depositKey: unknownDeposit,
      address,
      accountId: 'broke',
    })),
    refusal(CreditSuspendedDeposit, 'an unknown account', 'NOT_FOUND', () => ({
      depositKey: unknownDeposit,
      accountId: 'nobody',
    })),
  ];
  const refusalsLater = (): Refusal[] => [
    refusal(SettleGrant, 'a grant past its TTL', 'billing.GRANT_EXPIRED', () => ({
      grantId,
      holder: 'proxy-1',
      usage: [{ requestId: 'late', amount: '1' }],
    })),
  ];
  const refusalsAfterSettle = (): Refusal[] => [
    refusal(SettleGrant, 'new usage on a settled grant', 'billing.GRANT_CLOSED', () => ({
      grantId,
      holder: 'proxy-1',
      usage: [{ requestId: 'more', amount: '1' }],
    })),
  ];

  const seen = new Map<string, Set<string>>();
  async function expectRefusal(item: Refusal): Promise<void> {
    let error: unknown;
    try {
      await ext.raw(item.contract, item.request());
    } catch (err) {
      error = err;
    }
    expect(isTesseraError(error), `${item.contract.subject} (${item.why}) should be refused`).toBe(true);
    const code = (error as { code: string }).code;
    expect({ subject: item.contract.subject, why: item.why, code }).toEqual({
      subject: item.contract.subject,
      why: item.why,
      code: item.code,
    });
    expect(
      item.contract.errors.includes(code) || GENERIC_CODES.has(code),
      `${code} is declared by ${item.contract.subject}`,
    ).toBe(true);
    seen.set(item.contract.subject, (seen.get(item.contract.subject) ?? new Set()).add(code));
  }

  it('answers each refusal with its declared code, never INTERNAL', async () => {
    for (const item of refusals()) await expectRefusal(item);
    address = await richAddress();
    await ext.rpc.call(SetTaoPrice, { nanoUsdPerTao: '100000000000' });
    for (const item of refusalsWithPrice()) await expectRefusal(item);
    await ext.rpc.call(SettleGrant, { grantId, holder: 'proxy-1', usage: [{ requestId: 's', amount: '1' }] });
    for (const item of refusalsAfterSettle()) await expectRefusal(item);
    grantId = (
      await ext.rpc.call(GrantCredit, {
        accountId: 'rich',
        holder: 'proxy-1',
        requested: '10',
        idempotencyKey: 'g2',
      })
    ).grantId;
    clock.advance(120_000);
    for (const item of refusalsLater()) await expectRefusal(item);
  });

  it('walks every handler: each contract billing serves is in the catalog and met a refusal above', () => {
    const served = [...servedContracts(env), BillingDeadLetters.list, BillingDeadLetters.replay]
      .map((contract) => contract.subject)
      .sort();
    expect(served).toEqual(billingRpcContracts.map((contract) => contract.subject).sort());
    expect([...seen.keys()].sort()).toEqual(served);
    // Each declared domain code was met (CONCURRENCY_EXHAUSTED needs 20 lost races in a row; the bank test races).
    for (const contract of billingRpcContracts) {
      const missing = contract.errors.filter(
        (code) => code !== ErrorCode.ConcurrencyExhausted && !seen.get(contract.subject)?.has(code),
      );
      expect({ subject: contract.subject, missing }).toEqual({ subject: contract.subject, missing: [] });
    }
  });
});
