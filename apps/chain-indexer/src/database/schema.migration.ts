import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { EventStoreTables } from '@tessera/eventstore';
import { schemaDdl } from './tables.js';

/** Creates the indexer's tables in its schema (idempotent DDL, so it is safe on an existing schema). */
export class ChainIndexerSchema1767225600000 implements MigrationInterface {
  name = 'ChainIndexerSchema1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema?: string }).schema ?? 'public';
    for (const statement of schemaDdl(schema)) await queryRunner.query(statement);
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
