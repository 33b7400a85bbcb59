import { access } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from './postgres.js';

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('startPostgres', () => {
  let postgres: PostgresHandle;

  beforeAll(async () => {
    postgres = await startPostgres({ fastUnsafe: true });
  }, 60_000);

  afterAll(async () => {
    await postgres?.stop();
  });

  it('serves the tessera database', async () => {
    expect(postgres.url).toBe(`postgres://postgres@127.0.0.1:${postgres.port}/tessera`);
    const result = await query(postgres.url, 'SELECT current_database() AS db');
    expect(result.rows[0]).toEqual({ db: 'tessera' });
  });

  it('keeps data across a graceful restart and a hard kill', async () => {
    await query(postgres.url, 'CREATE TABLE kept (id int primary key)');
    await query(postgres.url, 'INSERT INTO kept VALUES (1)');
    await postgres.restart();
    await query(postgres.url, 'INSERT INTO kept VALUES (2)');
    // fsync is off, but a killed process loses nothing the kernel already holds.
    const runningPid = postgres.pid();
    expect(runningPid).toBeGreaterThan(0);
    await postgres.kill();
    expect(postgres.pid()).toBeUndefined();
    await postgres.restart();
    expect(postgres.pid()).not.toBe(runningPid);
    const result = await query(postgres.url, 'SELECT id FROM kept ORDER BY id');
    expect(result.rows).toEqual([{ id: 1 }, { id: 2 }]);
  }, 60_000);

  it('removes its temporary data dir on stop', async () => {
    const other = await startPostgres({ fastUnsafe: true });
    await other.stop();
    await expect(access(other.dataDir)).rejects.toThrow();
  }, 60_000);
});
