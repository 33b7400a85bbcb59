import {
  AccountCredited,
  CreditGranted,
  DepositCredited,
  DepositIgnored,
  DepositSuspended,
  GrantExpired,
  GrantSettled,
  Streams,
  SuspendedDepositReleased,
  TaoLedgerAccount,
  UsageCharged,
  type Event,
  type Posting,
} from '@tessera/contracts';
import { type Projection } from '@tessera/eventstore';
import { type EntityManager } from 'typeorm';

/** The ledger's tables (raw SQL names them through these). */
export const LedgerTables = {
  balances: 'billing_ledger_balances',
  entries: 'billing_ledger_entries',
  /** Deposits booked on `tao:suspense`, and whether they were credited since. */
  suspendedDeposits: 'billing_suspended_deposits',
} as const;

export const ledgerProjectionName = 'billing-ledger';

/** The money events: each carries all legs of its movement in `postings`. */
const moneyEvents = [
  AccountCredited,
  DepositCredited,
  DepositIgnored,
  DepositSuspended,
  CreditGranted,
  UsageCharged,
  GrantSettled,
  GrantExpired,
] as const;

function postingsOf(event: Event): readonly Posting[] {
  return moneyEvents.some((contract) => contract.is(event))
    ? (event.data as { postings: Posting[] }).postings
    : [];
}

/** The idempotency key a money event was caused by (what the entries show). */
function keyOf(event: Event): string {
  const data = event.data as { idempotencyKey?: string; requestId?: string; grantId?: string };
  return (
    data.idempotencyKey ?? (data.requestId ? `usage:${data.requestId}` : `grant-close:${data.grantId ?? ''}`)
  );
}

/** Keeps the suspended-deposit table in step: booked, handed to an account, credited (or kept as dust). */
async function trackSuspense(event: Event, manager: EntityManager): Promise<void> {
  const table = LedgerTables.suspendedDeposits;
  const suspendedForPrice = DepositIgnored.is(event) && event.data.reason === 'no-tao-price';
  if (DepositSuspended.is(event) || suspendedForPrice) {
    const data = event.data as {
      idempotencyKey: string;
      accountId: string | null;
      amountRao: string;
      blockNumber: number;
      address?: string;
    };
    const reason = DepositSuspended.is(event) ? event.data.reason : 'no-tao-price';
    await manager.query(
      `INSERT INTO ${table} (deposit_key, address, account_id, amount_rao, reason, location, status, block_number, suspended_at)
       VALUES ($1, $2, $3, $4::numeric, $5, $6, 'open', $7, $8) ON CONFLICT (deposit_key) DO NOTHING`,
      [
        data.idempotencyKey,
        data.address ?? '',
        data.accountId,
        data.amountRao,
        reason,
        data.accountId === null ? 'address' : 'account',
        data.blockNumber,
        event.occurredAt,
      ],
    );
  } else if (SuspendedDepositReleased.is(event)) {
    await manager.query(`UPDATE ${table} SET status = 'released', account_id = $2 WHERE deposit_key = $1`, [
      event.data.idempotencyKey,
      event.data.accountId,
    ]);
  } else if (
    (DepositCredited.is(event) || DepositIgnored.is(event)) &&
    event.data.postings.some((posting) => posting.from === TaoLedgerAccount.suspense)
  ) {
    await manager.query(`UPDATE ${table} SET status = 'credited', account_id = $2 WHERE deposit_key = $1`, [
      event.data.idempotencyKey,
      event.data.accountId,
    ]);
  }
}

/**
 * The double-entry ledger: postings → entries (one per side) and balances per ledger account, in
 * nano-USD and, for the `tao:` accounts, in rao. A batch is folded in memory and written with two
 * statements. It also tracks which deposits wait on `tao:suspense`.
 */
export const ledgerProjection: Projection = {
  name: ledgerProjectionName,
  stream: Streams.BILLING,
  filterSubject: 'billing.>',
  handles: [...moneyEvents, SuspendedDepositReleased],
  async apply(events: readonly Event[], manager: EntityManager) {
    for (const event of events) {
      if (
        DepositSuspended.is(event) ||
        DepositIgnored.is(event) ||
        DepositCredited.is(event) ||
        SuspendedDepositReleased.is(event)
      )
        await trackSuspense(event, manager);
    }
    const touched = new Set<string>();
    for (const event of events) {
      for (const posting of postingsOf(event)) {
        touched.add(posting.from);
        touched.add(posting.to);
      }
    }
    if (touched.size === 0) return;
    const rows = (await manager.query(
      `SELECT ledger_account, balance::text AS balance FROM ${LedgerTables.balances} WHERE ledger_account = ANY($1) FOR UPDATE`,
      [[...touched]],
    )) as { ledger_account: string; balance: string }[];
    const balances = new Map<string, bigint>(rows.map((row) => [row.ledger_account, BigInt(row.balance)]));
    const entry = {
      key: [] as string[],
      account: [] as string[],
      counterparty: [] as string[],
      change: [] as string[],
      after: [] as string[],
      type: [] as string[],
      idempotency: [] as string[],
      at: [] as string[],
    };
    const push = (event: Event, leg: string, account: string, counterparty: string, change: bigint) => {
      const after = (balances.get(account) ?? 0n) + change;
      balances.set(account, after);
      entry.key.push(`${event.id}:${leg}`);
      entry.account.push(account);
      entry.counterparty.push(counterparty);
      entry.change.push(change.toString());
      entry.after.push(after.toString());
      entry.type.push(event.type);
      entry.idempotency.push(keyOf(event));
      entry.at.push(event.occurredAt);
    };
    for (const event of events) {
      postingsOf(event).forEach((posting, index) => {
        const amount = BigInt(posting.amount);
        push(event, `${index}:from`, posting.from, posting.to, -amount);
        push(event, `${index}:to`, posting.to, posting.from, amount);
      });
    }
    await manager.query(
      `INSERT INTO ${LedgerTables.entries}
         (entry_key, ledger_account, counterparty, change, balance_after, event_type, idempotency_key, occurred_at)
       SELECT k, a, c, ch::numeric, af::numeric, t, i, at::timestamptz
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
           WITH ORDINALITY AS batch(k, a, c, ch, af, t, i, at, n)
        ORDER BY n`,
      [
        entry.key,
        entry.account,
        entry.counterparty,
        entry.change,
        entry.after,
        entry.type,
        entry.idempotency,
        entry.at,
      ],
    );
    await manager.query(
      `INSERT INTO ${LedgerTables.balances} (ledger_account, balance)
       SELECT a, b::numeric FROM unnest($1::text[], $2::text[]) AS batch(a, b)
       ON CONFLICT (ledger_account) DO UPDATE SET balance = excluded.balance`,
      [[...balances.keys()], [...balances.values()].map(String)],
    );
  },
  async reset(manager: EntityManager) {
    for (const table of Object.values(LedgerTables)) await manager.query(`DELETE FROM ${table}`);
  },
};
