import { type DataSource, type EntityManager } from 'typeorm';

/** Table names the event store owns in every service's schema. */
export const EventStoreTables = {
  checkpoints: 'projection_checkpoints',
  deadLetters: 'projection_dead_letters',
} as const;

/** A table of the event store, qualified with the data source's schema (raw SQL never depends on `search_path`). */
export function qualifiedTable(
  source: DataSource | EntityManager,
  table: (typeof EventStoreTables)[keyof typeof EventStoreTables],
): string {
  const connection = 'connection' in source ? source.connection : source;
  const schema = (connection.options as { schema?: string }).schema ?? 'public';
  return `"${schema}"."${table}"`;
}
