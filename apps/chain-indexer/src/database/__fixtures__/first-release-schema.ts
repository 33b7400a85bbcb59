/**
 * The schema the first release's migration (`ChainIndexerSchema1767225600000` at commit dff3135)
 * created, frozen here as that release left it — the event store's tables included, in their
 * old shape — so the upgrade test starts from what a deployed indexer really has.
 */
export function firstReleaseSchema(schema: string): string[] {
  const q = (table: string): string => `"${schema}"."${table}"`;
  return [
    `create table ${q('projection_checkpoints')} (
      projection text primary key, sequence bigint not null, updated_at timestamptz not null default now())`,
    `create table ${q('projection_dead_letters')} (
      id bigserial primary key, projection text not null, sequence bigint not null, subject text not null,
      event_id text, event_type text, error_code text not null, reason text not null, payload text not null,
      parked_at timestamptz not null default now(),
      constraint projection_dead_letters_position unique (projection, sequence))`,
    `create table ${q('chain_cursor')} (
      id text primary key, height bigint not null, hash text not null, start_height bigint not null,
      updated_at timestamptz not null default now())`,
    `create table ${q('indexed_blocks')} (
      height bigint primary key, hash text not null, parent_hash text not null, facts int not null)`,
    `create table ${q('watched_addresses')} (
      address text primary key, source text not null, account_id text, added_at timestamptz not null default now())`,
    `create table ${q('metagraph_neurons')} (
      netuid int not null, uid int not null, hotkey text not null, coldkey text not null, stake numeric(40,0) not null,
      axon jsonb, validator_permit boolean not null, incentive int not null, dividends int not null,
      emission numeric(40,0) not null, last_update bigint not null, active boolean not null,
      registration_block bigint not null, primary key (netuid, uid))`,
    `create index metagraph_neurons_hotkey on ${q('metagraph_neurons')} (netuid, hotkey)`,
    `create table ${q('metagraph_syncs')} (
      netuid int primary key, block_number bigint not null, block_hash text not null, tempo int not null,
      synced_at timestamptz not null default now())`,
    `create table ${q('weight_proposals')} (
      proposal_id uuid primary key, netuid int not null, payload jsonb not null, status text not null,
      reason text, stream_sequence bigint, received_at timestamptz not null default now(),
      updated_at timestamptz not null default now(), weight_commit jsonb)`,
    // TypeORM's record of the migrations that release ran.
    `create table ${q('migrations')} (id serial primary key, "timestamp" bigint not null, name varchar not null)`,
    `insert into ${q('migrations')} ("timestamp", name) values (1767225600000, 'ChainIndexerSchema1767225600000')`,
  ];
}
