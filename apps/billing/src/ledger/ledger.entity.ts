import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/** Balance of every ledger account, customer and platform alike. They sum to zero. */
@Entity({ name: 'billing_ledger_balances' })
export class LedgerBalanceRow {
  @PrimaryColumn('text', { name: 'ledger_account' }) ledgerAccount!: string;
  @Column('numeric', { precision: 40, scale: 0 }) balance!: string;
}

/** One side of one posting: each posting writes two entries whose changes cancel out. */
@Entity({ name: 'billing_ledger_entries' })
@Index(['ledgerAccount', 'id'])
export class LedgerEntryRow {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id!: string;
  @Index({ unique: true })
  @Column('text', { name: 'entry_key' })
  entryKey!: string;
  @Column('text', { name: 'ledger_account' }) ledgerAccount!: string;
  @Column('text', { name: 'counterparty' }) counterparty!: string;
  @Column('numeric', { precision: 40, scale: 0 }) change!: string;
  @Column('numeric', { name: 'balance_after', precision: 40, scale: 0 }) balanceAfter!: string;
  @Column('text', { name: 'event_type' }) eventType!: string;
  @Column('text', { name: 'idempotency_key' }) idempotencyKey!: string;
  @Column('timestamptz', { name: 'occurred_at' }) occurredAt!: Date;
}
