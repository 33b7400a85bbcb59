import {
  AccountCredited,
  CreditGranted,
  DepositCredited,
  GrantExpired,
  GrantSettled,
  Streams,
  UsageCharged,
  type Event,
  type Posting,
} from '@tessera/contracts';
import { type Projection } from '@tessera/eventstore';
import { type EntityManager } from 'typeorm';

/** The idempotency key a money event was caused by (what the entries show). */
function keyOf(event: Event): string {
  const data = event.data as { idempotencyKey?: string; requestId?: string; grantId?: string };
  return (
    data.idempotencyKey ?? (data.requestId ? `usage:${data.requestId}` : `grant-close:${data.grantId ?? ''}`)
  );
}

/**
 * The double-entry ledger: postings → entries (one per side) and balances per ledger account.
 * A batch is folded in memory and written with two statements.
 */
export const ledgerProjection: Projection = {
  name: 'billing-ledger',
  stream: Streams.BILLING,
  filterSubject: 'billing.account.>',
  handles: [AccountCredited, DepositCredited, CreditGranted, UsageCharged, GrantSettled, GrantExpired],
  async apply(events: readonly Event[], manager: EntityManager) {
    const touched = new Set<string>();
    for (const event of events) {
      for (const posting of (event.data as { postings: Posting[] }).postings) {
        touched.add(posting.from);
        touched.add(posting.to);
      }
    }
    if (touched.size === 0) return;
    const rows = (await manager.query(
      'SELECT ledger_account, balance::text AS balance FROM billing_ledger_balances WHERE ledger_account = ANY($1) FOR UPDATE',
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
      (event.data as { postings: Posting[] }).postings.forEach((posting, index) => {
        const amount = BigInt(posting.amount);
        push(event, `${index}:from`, posting.from, posting.to, -amount);
        push(event, `${index}:to`, posting.to, posting.from, amount);
      });
    }
    await manager.query(
      `INSERT INTO billing_ledger_entries
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
      `INSERT INTO billing_ledger_balances (ledger_account, balance)
       SELECT a, b::numeric FROM unnest($1::text[], $2::text[]) AS batch(a, b)
       ON CONFLICT (ledger_account) DO UPDATE SET balance = excluded.balance`,
      [[...balances.keys()], [...balances.values()].map(String)],
    );
  },
  async reset(manager: EntityManager) {
    await manager.query('DELETE FROM billing_ledger_entries');
    await manager.query('DELETE FROM billing_ledger_balances');
  },
};
