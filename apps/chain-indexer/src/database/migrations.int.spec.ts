import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIndexer, type IndexerProcess } from '../__tests__/indexer-process.js';
import { firstReleaseSchema } from './__fixtures__/first-release-schema.js';

let env: TestEnvironment;
let db: pg.Client;
const running: IndexerProcess[] = [];

beforeAll(async () => {
  env = await useTestEnvironment();
  db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await Promise.all(running.map((indexer) => indexer.kill()));
  await db.end();
  await env.cleanup();
});

/** Starts the built indexer on `schema` (no chain reachable: only start-up and migrations matter here). */
async function startOn(schema: string): Promise<void> {
  const indexer = await startIndexer({
    NATS_URL: env.natsUrl,
    NATS_SUBJECT_PREFIX: env.namespace,
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: schema,
    CHAIN_ENDPOINT: 'ws://127.0.0.1:9',
    NETUIDS: '2',
  });
  running.push(indexer);
  await indexer.waitForLine(/service started/, 60_000);
}

async function columns(schema: string, table: string): Promise<string[]> {
  const rows = await db.query(
    'select column_name from information_schema.columns where table_schema = $1 and table_name = $2 order by column_name',
    [schema, table],
  );
  return rows.rows.map((row: { column_name: string }) => row.column_name);
}

async function migrationsRun(schema: string): Promise<string[]> {
  const rows = await db.query(`select name from "${schema}".migrations order by "timestamp"`);
  return rows.rows.map((row: { name: string }) => row.name);
}

describe('the chain indexer schema', () => {
  it('is created from nothing by the migrations when the indexer first starts', async () => {
    const schema = `${env.schema}_empty`;
    await startOn(schema);
    const tables = await db.query(
      'select table_name from information_schema.tables where table_schema = $1 order by table_name',
      [schema],
    );
    expect(tables.rows.map((row: { table_name: string }) => row.table_name)).toEqual([
      'chain_cursor',
      'indexed_blocks',
      'metagraph_neurons',
      'metagraph_syncs',
      'migrations',
      'projection_checkpoints',
      'projection_dead_letters',
      'watched_addresses',
      'weight_proposals',
    ]);
    expect(await columns(schema, 'projection_dead_letters')).toContain('event_index');
    expect(await migrationsRun(schema)).toEqual([
      'ChainIndexerSchema1767225600000',
      'EventStoreTables1767225600001',
      'EventStoreDeadLettersPerEvent1796083200000',
      'ChainIndexerConsumerNames1796083200001',
    ]);
  });

  it("upgrades the first release's schema in place, keeping its rows and its consumers' checkpoints", async () => {
    const schema = `${env.schema}_first`;
    await db.query(`create schema "${schema}"`);
    for (const statement of firstReleaseSchema(schema)) await db.query(statement);
    const q = (table: string): string => `"${schema}"."${table}"`;
    await db.query(
      `insert into ${q('projection_checkpoints')} (projection, sequence) values ('chain_indexer_watched_addresses', 41), ('chain_indexer_weight_proposals', 7)`,
    );
    await db.query(
      `insert into ${q('projection_dead_letters')} (projection, sequence, subject, error_code, reason, payload)
       values ('chain_indexer_weight_proposals', 5, 'scoring.proposal.x', 'VALIDATION_FAILED', 'bad', '{}')`,
    );
    await db.query(`insert into ${q('chain_cursor')} values ('finalized', 120, '0xabc', 1, now())`);
    await db.query(
      `insert into ${q('watched_addresses')} (address, source) values ('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY', 'billing')`,
    );

    await startOn(schema);

    const checkpoints = await db.query(
      `select projection, sequence::int from ${q('projection_checkpoints')} order by projection`,
    );
    expect(checkpoints.rows).toEqual([
      { projection: 'chain-indexer-watched-addresses', sequence: 41 },
      { projection: 'chain-indexer-weight-proposals', sequence: 7 },
    ]);
    const parked = await db.query(
      `select projection, sequence::int, event_index from ${q('projection_dead_letters')}`,
    );
    expect(parked.rows).toEqual([
      { projection: 'chain-indexer-weight-proposals', sequence: 5, event_index: 0 },
    ]);
    expect((await db.query(`select height::int from ${q('chain_cursor')}`)).rows).toEqual([{ height: 120 }]);
    expect((await db.query(`select count(*)::int as n from ${q('watched_addresses')}`)).rows).toEqual([
      { n: 1 },
    ]);
    expect(await migrationsRun(schema)).toEqual([
      'ChainIndexerSchema1767225600000',
      'EventStoreTables1767225600001',
      'EventStoreDeadLettersPerEvent1796083200000',
      'ChainIndexerConsumerNames1796083200001',
    ]);
  });
});
