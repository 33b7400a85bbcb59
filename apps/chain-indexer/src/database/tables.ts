/**
 * The indexer's tables, qualified by its schema: raw SQL here never depends on `search_path`
 * (a service's schema comes from `DATABASE_SCHEMA`, not from the connection URL).
 */
export interface Tables {
  readonly schema: string;
  readonly cursor: string;
  readonly indexedBlocks: string;
  readonly watchedAddresses: string;
  readonly neurons: string;
  readonly metagraphSyncs: string;
  readonly weightProposals: string;
}

/** Table names in `schema` (a plain SQL identifier, checked by the platform config). */
export function tablesIn(schema: string): Tables {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new RangeError(`bad schema name ${schema}`);
  const q = (table: string): string => `"${schema}"."${table}"`;
  return {
    schema,
    cursor: q('chain_cursor'),
    indexedBlocks: q('indexed_blocks'),
    watchedAddresses: q('watched_addresses'),
    neurons: q('metagraph_neurons'),
    metagraphSyncs: q('metagraph_syncs'),
    weightProposals: q('weight_proposals'),
  };
}

/** DDL for every table the indexer owns, plus the event store's checkpoint and dead-letter tables. */
export function schemaDdl(schema: string): string[] {
  const t = tablesIn(schema);
  const q = (table: string): string => `"${schema}"."${table}"`;
  return [
    `create table if not exists ${q('projection_checkpoints')} (
      projection text primary key, sequence bigint not null, updated_at timestamptz not null default now())`,
    `create table if not exists ${q('projection_dead_letters')} (
      id bigserial primary key, projection text not null, sequence bigint not null, subject text not null,
      event_id text, event_type text, error_code text not null, reason text not null, payload text not null,
      parked_at timestamptz not null default now(),
      constraint projection_dead_letters_position unique (projection, sequence))`,
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
  ];
}
