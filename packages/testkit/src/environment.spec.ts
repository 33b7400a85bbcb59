import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { inboxPrefix } from '@tessera/contracts';
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

  it('starts a server enforcing the permissions table for the file, with a key per identity', async () => {
    const env = await useTestEnvironment({ natsAuthorization: true });
    try {
      await expect(connect({ servers: env.natsUrl, reconnect: false })).rejects.toThrow(/Authorization/i);
      const keys = env.natsKeys;
      if (!keys) throw new Error('natsAuthorization gives keys');
      const asIdentity = (identity: 'billing' | 'inference-proxy') =>
        connect({
          servers: env.natsUrl,
          authenticator: nkeyAuthenticator(new TextEncoder().encode(keys[identity].seed)),
          inboxPrefix: inboxPrefix(identity),
        });
      const billing = await asIdentity('billing');
      const proxy = await asIdentity('inference-proxy');
      const harness = await connect(env.natsConnectionOptions);
      try {
        // Names carry the file's namespace, and the permissions follow them.
        await (
          await jetstreamManager(billing)
        ).streams.add({
          name: `${env.namespace}_BILLING`,
          subjects: [`${env.namespace}.billing.>`],
        });
        await jetstream(billing).publish(`${env.namespace}.billing.account.a1`, '{}');
        await expect(jetstream(proxy).publish(`${env.namespace}.billing.account.a1`, '{}')).rejects.toThrow(
          /Permissions Violation/,
        );
        const info = await (await jetstreamManager(harness)).streams.info(`${env.namespace}_BILLING`);
        expect(info.state.messages).toBe(1);
      } finally {
        await Promise.all([billing.close(), proxy.close(), harness.close()]);
      }
    } finally {
      await env.cleanup();
    }
  });

  it('starts a JetStream cluster for the file, whose NATS_URL lists every node', async () => {
    const env = await useTestEnvironment({ natsCluster: 3 });
    try {
      expect(env.natsUrl.split(',')).toHaveLength(3);
      const nc = await connect(env.natsConnectionOptions);
      try {
        await (await jetstreamManager(nc)).streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
        const leader = await env.natsCluster?.streamLeader('R3');
        expect(env.natsCluster?.nodes).toContain(leader);
      } finally {
        await nc.close();
      }
    } finally {
      await env.cleanup();
    }
    // The cluster starts inside this test (it is the subject), and electing a JetStream meta
    // leader with every node as a peer takes seconds here but far longer on a loaded machine.
  }, 180_000);
});
