import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestEnvironment } from './environment.js';

async function schemaExists(databaseUrl: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return found.rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('useTestEnvironment', () => {
  it('gives each call its own schema and namespace, and cleanup removes them', async () => {
    const first = await useTestEnvironment();
    const second = await useTestEnvironment();
    expect(first.schema).not.toBe(second.schema);
    expect(first.namespace).not.toBe(second.namespace);

    const nc = await connect({ servers: first.natsUrl });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: `${first.namespace}_X`, subjects: [`${first.namespace}.x`] });
    await jsm.streams.add({ name: `${second.namespace}_X`, subjects: [`${second.namespace}.x`] });

    await first.cleanup();
    expect(await schemaExists(first.databaseUrl, first.schema)).toBe(false);
    expect(await schemaExists(second.databaseUrl, second.schema)).toBe(true);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    expect(names).not.toContain(`${first.namespace}_X`);
    expect(names).toContain(`${second.namespace}_X`);

    await second.cleanup();
    await nc.close();
  });

  it('starts dedicated servers that a fault test can kill and restart', async () => {
    const env = await useTestEnvironment({ dedicatedNats: true, dedicatedPostgres: true });
    try {
      expect(env.natsServer?.url).toBe(env.natsUrl);
      expect(env.postgres?.url).toBe(env.databaseUrl);

      const client = new pg.Client({ connectionString: env.databaseUrlWithSchema });
      await client.connect();
      await client.query('CREATE TABLE kept (id int)');
      await client.query('INSERT INTO kept VALUES (7)');
      await client.end();

      await env.postgres?.kill();
      await env.natsServer?.kill();
      await Promise.all([env.postgres?.restart(), env.natsServer?.restart()]);

      const again = new pg.Client({ connectionString: env.databaseUrlWithSchema });
      await again.connect();
      const rows = await again.query('SELECT id FROM kept');
      await again.end();
      expect(rows.rows).toEqual([{ id: 7 }]);

      const nc = await connect({ servers: env.natsUrl });
      await nc.flush();
      await nc.close();
    } finally {
      await env.cleanup();
    }
  });
});
