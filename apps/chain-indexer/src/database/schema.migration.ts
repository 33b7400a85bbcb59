import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { EventStoreTables, eventStoreMigrations } from '@tessera/eventstore';
import { tablesIn } from './tables.js';

/** Creates the indexer's tables in its schema (idempotent DDL, so it is safe on an existing schema). */
export class ChainIndexerSchema1767225600000 implements MigrationInterface {
  name = 'ChainIndexerSchema1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema?: string }).schema ?? 'public';
    const t = tablesIn(schema);
    // The event store's checkpoint and dead-letter tables come from its own migrations.
    for (const statement of [
      // One row: the last block whose facts are published and whose rows are committed.
      `create table if not exists ${t.cursor} (
        id text primary key, height bigint not null, hash text not null, start_height bigint not null,
        updated_at timestamptz not null default now())`,
      // Every indexed block with its parent: the gap check walks these links.
      `create table if not exists ${t.indexedBlocks} (
        height bigint primary key, hash text not null, parent_hash text not null, facts int not null)`,
      `create table if not exists ${t.watchedAddresses} (
        address text primary key, source text not null, account_id text, added_at timestamptz not null default now())`,
      `create table if not exists ${t.neurons} (
        netuid int not null, uid int not null, hotkey text not null, coldkey text not null, stake numeric(40,0) not null,
        axon jsonb, validator_permit boolean not null, incentive int not null, dividends int not null,
        emission numeric(40,0) not null, last_update bigint not null, active boolean not null,
        registration_block bigint not null, primary key (netuid, uid))`,
      `create index if not exists metagraph_neurons_hotkey on ${t.neurons} (netuid, hotkey)`,
      `create table if not exists ${t.metagraphSyncs} (
        netuid int primary key, block_number bigint not null, block_hash text not null, tempo int not null,
        synced_at timestamptz not null default now())`,
      `create table if not exists ${t.weightProposals} (
        proposal_id uuid primary key, netuid int not null, payload jsonb not null, status text not null,
        reason text, stream_sequence bigint, received_at timestamptz not null default now(),
        updated_at timestamptz not null default now())`,
      // Commit-reveal: what was committed (hash, salt, uids, weights), written before the commit is
      // sent, so a writer restarted between commit and reveal can still reveal.
      `alter table ${t.weightProposals} add column if not exists weight_commit jsonb`,
    ]) {
      await queryRunner.query(statement);
    }
  }

  async down(): Promise<void> {
    // Forward-only: dropping an indexer's tables loses its cursor; drop the schema by hand instead.
  }
}

/**
 * Consumer names became kebab-case `<service>-<what>`; their checkpoints (and any parked events)
 * move to the new names so an upgraded indexer resumes where it was.
 */
export class ChainIndexerConsumerNames1796083200001 implements MigrationInterface {
  name = 'ChainIndexerConsumerNames1796083200001';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema?: string }).schema ?? 'public';
    for (const [from, to] of [
      ['chain_indexer_watched_addresses', 'chain-indexer-watched-addresses'],
      ['chain_indexer_weight_proposals', 'chain-indexer-weight-proposals'],
    ]) {
      for (const table of [EventStoreTables.checkpoints, EventStoreTables.deadLetters]) {
        await queryRunner.query(`update "${schema}"."${table}" set projection = $2 where projection = $1`, [
          from,
          to,
        ]);
      }
    }
  }

  async down(): Promise<void> {
    // Forward-only.
  }
}

/** Every migration of the indexer's schema, in order: its tables, the event store's, then the renames. */
export const chainIndexerMigrations = [
  ChainIndexerSchema1767225600000,
  ...eventStoreMigrations,
  ChainIndexerConsumerNames1796083200001,
];
