import { type MigrationInterface, type QueryRunner } from 'typeorm';
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
