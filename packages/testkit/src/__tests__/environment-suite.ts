// Shared body of the two environment spec files: both run it, so each gets its own schema and
// namespace from the same run, and a collision between them makes one of them fail.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { useTestEnvironment, type TestEnvironment } from '../environment.js';

export function environmentSuite(fileLabel: string): void {
  let env: TestEnvironment;

  beforeAll(async () => {
    env = await useTestEnvironment();
  });

  afterAll(async () => {
    await env?.cleanup();
  });

  it('uses the servers the global setup started', () => {
    expect(env.natsUrl).toBe(inject('tessera.natsUrl'));
    expect(env.databaseUrl).toBe(inject('tessera.databaseUrl'));
    expect(env.namespace).toMatch(/^t[a-z0-9]+$/);
    expect(env.schema).toBe(`t_${env.namespace.slice(1)}`);
  });

  it('gives a working Postgres schema of its own', async () => {
    const client = new pg.Client({ connectionString: env.databaseUrlWithSchema });
    await client.connect();
    try {
      // Same table name in both files: only separate schemas let both succeed.
      await client.query('CREATE TABLE items (id int primary key, file text not null)');
      await client.query('INSERT INTO items VALUES (1, $1)', [fileLabel]);
      const rows = await client.query(`SELECT file FROM "${env.schema}".items`);
      expect(rows.rows).toEqual([{ file: fileLabel }]);

      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(4242)');
      await client.query(
        'CREATE TABLE IF NOT EXISTS public.testkit_seen (schema text primary key, namespace text unique not null)',
      );
      await client.query('INSERT INTO public.testkit_seen VALUES ($1, $2)', [env.schema, env.namespace]);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  });

  it('gives a working JetStream namespace of its own', async () => {
    const nc = await connect({ servers: env.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      // Overlapping subjects between two streams are refused: separate namespaces let both exist.
      await jsm.streams.add({ name: `${env.namespace}_EVENTS`, subjects: [`${env.namespace}.>`] });
      const ack = await jetstream(nc).publish(`${env.namespace}.item.1`, fileLabel);
      expect(ack.stream).toBe(`${env.namespace}_EVENTS`);
      expect(ack.seq).toBe(1);
    } finally {
      await nc.close();
    }
  });
}
