import { Injectable } from '@nestjs/common';
import {
  AccountClosed,
  AccountCredited,
  AccountOpened,
  AccountReinstated,
  AccountSuspended,
  CreditGranted,
  DepositCredited,
  DepositIgnored,
  DepositSuspended,
  GrantExpired,
  GrantSettled,
  Streams,
  TaoLedgerAccount,
  TransferObserved,
  UsageCharged,
  customerLedgerAccount,
  grantLedgerAccount,
  isRaoLedgerAccount,
  receivableLedgerAccount,
  type RpcResponseOf,
  type ReconcileBilling,
} from '@tessera/contracts';
import { EventStore, EventStoreTables, qualifiedTable } from '@tessera/eventstore';
import { ProjectionHost } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { createAccountDecider } from '../accounts/account.decider.js';
import { type AccountState } from '../accounts/account.state.js';
import { BillingConfig } from '../config.js';
import { depositKey } from '../deposits/deposit.decide.js';
import { LedgerTables, ledgerProjectionName } from '../ledger/ledger.projection.js';
import { scanStream } from './stream-scan.js';

export type ReconciliationReport = RpcResponseOf<typeof ReconcileBilling>;
type Mismatch = ReconciliationReport['mismatches'][number];

/** How long reconciliation waits for the consumers to catch up with the streams. */
const CATCH_UP_MS = 60_000;
const MAX_MISMATCHES = 1_000;

/** Every event that moves an account's money or changes what may be spent. */
const accountEvents = [
  AccountOpened,
  AccountSuspended,
  AccountReinstated,
  AccountClosed,
  AccountCredited,
  CreditGranted,
  UsageCharged,
  GrantSettled,
  GrantExpired,
  DepositCredited,
  DepositIgnored,
  DepositSuspended,
];

/**
 * Checks the ledger read model against sources that do not depend on it. Σ = 0 per unit holds by
 * construction (every posting writes −a and +a), so it proves little alone; this also folds every
 * account stream with the account decider and compares each customer's balance, receivable and
 * open grants with their ledger accounts, and compares the rao booked out of `tao:inflow` with
 * the `chain.TransferObserved` events themselves (each transfer counted once).
 *
 * Consistent under load: the ledger is read in one snapshot together with its checkpoint, and
 * the streams are folded up to that checkpoint exactly.
 */
@Injectable()
export class ReconciliationService {
  constructor(
    private readonly store: EventStore,
    private readonly host: ProjectionHost,
    private readonly dataSource: DataSource,
    private readonly config: BillingConfig,
  ) {}

  async reconcile(): Promise<ReconciliationReport> {
    // Transfers observed so far must have been booked: wait for the deposit reactor, then the ledger.
    const chainHead = await this.store.lastSequence(Streams.CHAIN).catch(() => 0);
    await this.host.runner('billing-deposit-crediting').waitForSequence(chainHead, CATCH_UP_MS);
    const ledger = this.host.runner(ledgerProjectionName);
    await ledger.waitForSequence(await this.store.lastSequence(Streams.BILLING), CATCH_UP_MS);
    const { balances, checkpoint } = await this.ledgerSnapshot();

    const decider = createAccountDecider({ idempotencyRetentionMs: this.config.IDEMPOTENCY_RETENTION_MS });
    const accounts = new Map<string, AccountState>();
    /** Rao billing booked per deposit key (each key once, whichever stream booked it). */
    const booked = new Map<string, bigint>();
    await scanStream(this.store, Streams.BILLING, checkpoint, accountEvents, (event) => {
      if (DepositSuspended.is(event) || DepositIgnored.is(event) || DepositCredited.is(event)) {
        const fromInflow = event.data.postings.some((posting) => posting.from === TaoLedgerAccount.inflow);
        if (fromInflow || event.data.amountRao === '0')
          booked.set(event.data.idempotencyKey, BigInt(event.data.amountRao));
      }
      if (!event.streamId.startsWith('billing.account.')) return;
      const state = accounts.get(event.streamId) ?? decider.initialState();
      accounts.set(event.streamId, decider.evolve(state, event));
    });
    /** Each transfer once (the indexer may publish one twice), with the sequence it was first seen at. */
    const transfers = new Map<string, { rao: bigint; sequence: number }>();
    const chainNow = await this.store.lastSequence(Streams.CHAIN).catch(() => 0);
    await scanStream(this.store, Streams.CHAIN, chainNow, [TransferObserved], (event, sequence) => {
      const key = TransferObserved.is(event) ? depositKey(event.data) : undefined;
      if (key !== undefined && TransferObserved.is(event) && !transfers.has(key))
        transfers.set(key, { rao: BigInt(event.data.amount), sequence });
    });

    const mismatches: Mismatch[] = [];
    const report = (check: string, subject: string, expected: bigint, actual: bigint): void => {
      if (expected !== actual && mismatches.length < MAX_MISMATCHES)
        mismatches.push({ check, subject, expected: expected.toString(), actual: actual.toString() });
    };
    const ledgerBalance = (account: string): bigint => balances.get(account) ?? 0n;

    let nanoSum = 0n;
    let raoSum = 0n;
    for (const [account, balance] of balances) {
      if (isRaoLedgerAccount(account)) raoSum += balance;
      else nanoSum += balance;
    }
    report('ledger-sum-nano-usd', 'all ledger accounts', 0n, nanoSum);
    report('ledger-sum-rao', 'all tao: ledger accounts', 0n, raoSum);

    const expectedAccounts = new Set<string>();
    for (const state of accounts.values()) {
      if (!state.opened) continue;
      const customer = customerLedgerAccount(state.accountId);
      const receivable = receivableLedgerAccount(state.accountId);
      expectedAccounts.add(customer).add(receivable);
      report('customer-balance', customer, state.balance, ledgerBalance(customer));
      report('customer-receivable', receivable, -state.owed, ledgerBalance(receivable));
      for (const grant of state.grants.values()) {
        if (grant.status === 'open')
          report(
            'grant-remaining',
            grantLedgerAccount(grant.grantId),
            grant.remaining,
            ledgerBalance(grantLedgerAccount(grant.grantId)),
          );
      }
      // Every grant of the account, open or closed (closed ones must be back to zero).
      const grantPrefix = grantLedgerAccount(`${state.accountId}:`);
      let heldInLedger = 0n;
      for (const [account, balance] of balances) if (account.startsWith(grantPrefix)) heldInLedger += balance;
      report('customer-held', state.accountId, state.held, heldInLedger);
    }
    for (const [account, balance] of balances) {
      const kind = account.split(':')[0];
      if ((kind === 'customer' || kind === 'receivable') && !expectedAccounts.has(account))
        report('account-without-stream', account, 0n, balance);
    }

    const bookedRao = [...booked.values()].reduce((sum, rao) => sum + rao, 0n);
    report('tao-booked', TaoLedgerAccount.inflow, -bookedRao, ledgerBalance(TaoLedgerAccount.inflow));
    let transferredRao = 0n;
    for (const [key, transfer] of transfers) {
      transferredRao += transfer.rao;
      const bookedRaoOfKey = booked.get(key);
      if (bookedRaoOfKey !== undefined) report('tao-received', key, transfer.rao, bookedRaoOfKey);
      // Everything observed before the deposit reactor's wait is booked by the ledger snapshot; a
      // later transfer may simply not be booked yet.
      else if (transfer.sequence <= chainHead) report('tao-not-booked', key, transfer.rao, 0n);
    }
    for (const [key, rao] of booked)
      if (!transfers.has(key)) report('tao-booked-without-transfer', key, 0n, rao);

    return {
      consistent: mismatches.length === 0,
      accounts: [...accounts.values()].filter((state) => state.opened).length,
      transfers: transfers.size,
      transferredRao: transferredRao.toString(),
      bookedRao: bookedRao.toString(),
      mismatches,
    };
  }

  /** Every ledger balance and the ledger's checkpoint, as of one moment. */
  private async ledgerSnapshot(): Promise<{ balances: Map<string, bigint>; checkpoint: number }> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('REPEATABLE READ');
      const rows = (await runner.query(
        `SELECT ledger_account, balance::text AS balance FROM ${LedgerTables.balances}`,
      )) as { ledger_account: string; balance: string }[];
      const checkpoints = (await runner.query(
        `SELECT sequence FROM ${qualifiedTable(this.dataSource, EventStoreTables.checkpoints)} WHERE projection = $1`,
        [ledgerProjectionName],
      )) as { sequence: string }[];
      const checkpoint = Number(checkpoints[0]?.sequence ?? 0);
      await runner.commitTransaction();
      return { balances: new Map(rows.map((row) => [row.ledger_account, BigInt(row.balance)])), checkpoint };
    } finally {
      await runner.release();
    }
  }
}
