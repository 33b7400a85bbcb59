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
