import { EventStoreTables, eventStoreMigrations } from '@tessera/eventstore';
import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { DirectoryTables } from '../accounts/account-directory.projection.js';
import { LedgerTables, ledgerProjectionName } from '../ledger/ledger.projection.js';
import { UsageTables } from '../usage/usage-daily.projection.js';

function schemaOf(queryRunner: QueryRunner): string {
  return (queryRunner.connection.options as { schema?: string }).schema ?? 'public';
}

/**
 * Billing's tables as the first release had them (TypeORM's `synchronize` made them then, with
 * these constraint and index names), so this is a no-op on that release's schema and makes the
 * same schema on an empty one.
 */
export class BillingSchema1767225600000 implements MigrationInterface {
  name = 'BillingSchema1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const q = (table: string): string => `"${schemaOf(queryRunner)}"."${table}"`;
    await queryRunner.query(`create table if not exists ${q(DirectoryTables.accounts)} (
      account_id text not null, name text not null, status text not null, deposit_address text not null,
      constraint "PK_d88de32d08d7d9472bd575c6655" primary key (account_id))`);
    await queryRunner.query(
      `create unique index if not exists "IDX_d1075e6d0d57307e3b483ecae4" on ${q(DirectoryTables.accounts)} (deposit_address)`,
    );
    await queryRunner.query(`create table if not exists ${q(DirectoryTables.apiKeys)} (
      key_id text not null, account_id text not null, name text not null, secret_hash text not null,
      scopes jsonb not null, limits jsonb not null, expires_at timestamptz, revoked boolean not null,
      constraint "PK_ca4cc2d6ba994f220d7a281bcb2" primary key (key_id))`);
    await queryRunner.query(
      `create index if not exists "IDX_d471c0b12e5378f1666d9a22a7" on ${q(DirectoryTables.apiKeys)} (account_id)`,
    );
    await queryRunner.query(`create table if not exists ${q(DirectoryTables.grants)} (
      grant_id text not null, account_id text not null, holder text not null, granted numeric(40,0) not null,
      expires_at timestamptz not null, status text not null,
      constraint "PK_3a3dbf156c495855b1d5e66bd15" primary key (grant_id))`);
    await queryRunner.query(
      `create index if not exists "IDX_3e87c8a3c9d090701be831ad0b" on ${q(DirectoryTables.grants)} (status, expires_at)`,
    );
    await queryRunner.query(`create table if not exists ${q(LedgerTables.balances)} (
      ledger_account text not null, balance numeric(40,0) not null,
      constraint "PK_21d0cfc9301d2012c7efc03083a" primary key (ledger_account))`);
    await queryRunner.query(`create table if not exists ${q(LedgerTables.entries)} (
      id bigserial not null, entry_key text not null, ledger_account text not null, counterparty text not null,
      change numeric(40,0) not null, balance_after numeric(40,0) not null, event_type text not null,
      idempotency_key text not null, occurred_at timestamptz not null,
      constraint "PK_6e9c68b167eb106bf7156ca38f5" primary key (id))`);
    await queryRunner.query(
      `create unique index if not exists "IDX_0016e4ce49733cb583bf2b60f1" on ${q(LedgerTables.entries)} (entry_key)`,
    );
    await queryRunner.query(
      `create index if not exists "IDX_0e109f37577b86fe1a86a1a0da" on ${q(LedgerTables.entries)} (ledger_account, id)`,
    );
    await queryRunner.query(`create table if not exists ${q(UsageTables.daily)} (
      account_id text not null, day date not null, product text not null, item text not null,
      requests integer not null, prompt_tokens numeric(40,0) not null, completion_tokens numeric(40,0) not null,
      gpu_seconds numeric(40,0) not null, amount numeric(40,0) not null,
      constraint "PK_4b24af6cb5a0ddb5f6c5dd2fa71" primary key (account_id, day, product, item))`);
  }

  async down(): Promise<void> {
    // Forward-only: the tables are read models of the streams.
  }
}

/** Consumer names of the first release → the names that say what each reactor does. */
export const RENAMED_CONSUMERS: readonly (readonly [string, string])[] = [
  ['billing-deposits', 'billing-deposit-crediting'],
  ['billing-request-charges', 'billing-request-charging'],
];

/**
 * Deposit addresses as aggregates, TAO booked in rao (suspense, dust), receivables, and the
 * consumer names settled:
 * - the reactors' checkpoint and dead-letter rows move to their new names, so an upgraded billing
 *   resumes where it was;
 * - the address directory and the suspended-deposit table are created;
 * - the ledger is rebuilt once from the streams: it now books the rao side of every deposit and
 *   what customers owe, which the first release's rows lack (its events are upcast on the way).
 */
export class BillingDepositsAndReceivables1796169600000 implements MigrationInterface {
  name = 'BillingDepositsAndReceivables1796169600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const q = (table: string): string => `"${schemaOf(queryRunner)}"."${table}"`;
    for (const [from, to] of RENAMED_CONSUMERS) {
      for (const table of [EventStoreTables.checkpoints, EventStoreTables.deadLetters]) {
        await queryRunner.query(`update ${q(table)} set projection = $2 where projection = $1`, [from, to]);
      }
    }
    await queryRunner.query(`create table if not exists ${q(DirectoryTables.depositAddresses)} (
      address text primary key, account_id text not null, claimed_at timestamptz not null)`);
    await queryRunner.query(`create table if not exists ${q(LedgerTables.suspendedDeposits)} (
      deposit_key text primary key, address text not null, account_id text, amount_rao numeric(40,0) not null,
      reason text not null, location text not null, status text not null, block_number bigint not null,
      suspended_at timestamptz not null)`);
    await queryRunner.query(
      `create index if not exists billing_suspended_deposits_status on ${q(LedgerTables.suspendedDeposits)} (status, suspended_at)`,
    );
    for (const table of [LedgerTables.entries, LedgerTables.balances]) {
      await queryRunner.query(`delete from ${q(table)}`);
    }
    for (const table of [EventStoreTables.checkpoints, EventStoreTables.deadLetters]) {
      await queryRunner.query(`delete from ${q(table)} where projection = $1`, [ledgerProjectionName]);
    }
  }

  async down(): Promise<void> {
    // Forward-only.
  }
}

/** Every migration billing runs at start-up, in order: its own and the event store's. */
export const billingMigrations = [
  BillingSchema1767225600000,
  ...eventStoreMigrations,
  BillingDepositsAndReceivables1796169600000,
];
