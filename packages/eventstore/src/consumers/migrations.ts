import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { EventStoreTables } from './tables.js';

function schemaOf(queryRunner: QueryRunner): string {
  return (queryRunner.connection.options as { schema?: string }).schema ?? 'public';
}

/**
 * The checkpoint and dead-letter tables as the first release had them (created then by
 * `synchronize` or by hand-written DDL): idempotent, so it is a no-op on those schemas.
 */
export class EventStoreTables1767225600001 implements MigrationInterface {
  name = 'EventStoreTables1767225600001';

  async up(queryRunner: QueryRunner): Promise<void> {
    const q = (table: string): string => `"${schemaOf(queryRunner)}"."${table}"`;
    await queryRunner.query(
      `create table if not exists ${q(EventStoreTables.checkpoints)} (
         projection text primary key, sequence bigint not null, updated_at timestamptz not null default now())`,
    );
    await queryRunner.query(
      `create table if not exists ${q(EventStoreTables.deadLetters)} (
         id bigserial primary key, projection text not null, sequence bigint not null, subject text not null,
         event_id text, event_type text, error_code text not null, reason text not null, payload text not null,
         parked_at timestamptz not null default now(),
         constraint projection_dead_letters_position unique (projection, sequence))`,
    );
  }

  async down(): Promise<void> {
    // Forward-only: checkpoints are what a service resumes from.
  }
}

/**
 * A message now holds one commit of several events, so a dead letter is one event of a
 * message: (consumer, sequence, event index). Also counts replay attempts.
 */
export class EventStoreDeadLettersPerEvent1796083200000 implements MigrationInterface {
  name = 'EventStoreDeadLettersPerEvent1796083200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const table = `"${schemaOf(queryRunner)}"."${EventStoreTables.deadLetters}"`;
    await queryRunner.query(
      `alter table ${table} add column if not exists event_index int not null default 0`,
    );
    await queryRunner.query(`alter table ${table} add column if not exists attempts int not null default 1`);
    await queryRunner.query(`alter table ${table} add column if not exists last_failed_at timestamptz`);
    await queryRunner.query(
      `alter table ${table} drop constraint if exists projection_dead_letters_position`,
    );
    await queryRunner.query(
      `alter table ${table} add constraint projection_dead_letters_position unique (projection, sequence, event_index)`,
    );
  }

  async down(): Promise<void> {
    // Forward-only.
  }
}

/** The event store's migrations, in order; every service that runs consumers includes them. */
export const eventStoreMigrations = [
  EventStoreTables1767225600001,
  EventStoreDeadLettersPerEvent1796083200000,
];
