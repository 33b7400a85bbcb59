/**
 * Vitest global setup: one nats-server (JetStream) and one Postgres for the whole test run.
 * The shared server enforces no NATS permissions (see `natsAuthorization` in `useTestEnvironment`
 * for a file that tests them).
 *
 * Use it from another package's `vitest.config.ts`:
 *
 *   export default defineConfig({ test: { globalSetup: ['@tessera/testkit/global-setup'] } });
 *
 * and in each test file: `const env = await useTestEnvironment()` in `beforeAll`
 * (`await env.cleanup()` in `afterAll`). Set `NATS_URL` and/or `DATABASE_URL` to use servers
 * you already run instead; `TESSERA_DEVSERVERS_LOG=1` pipes the servers' output.
 */
import {
  startNatsServer,
  startPostgres,
  type NatsServerHandle,
  type PostgresHandle,
} from '@tessera/devservers';
import type { TestProject } from 'vitest/node';
import './provided-context.js';

/** Starts what the run needs and returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const pipeOutput = process.env['TESSERA_DEVSERVERS_LOG'] === '1';
  const givenNatsUrl = process.env['NATS_URL'];
  const givenDatabaseUrl = process.env['DATABASE_URL'];

  let nats: NatsServerHandle | undefined;
  let postgres: PostgresHandle | undefined;
  try {
    // Start both at once: Postgres' initdb is the slow part (~1 s).
    [nats, postgres] = await Promise.all([
      givenNatsUrl ? undefined : startNatsServer({ pipeOutput }),
      givenDatabaseUrl ? undefined : startPostgres({ fastUnsafe: true, pipeOutput }),
    ]);
  } catch (err) {
    await Promise.allSettled([nats?.stop(), postgres?.stop()]);
    throw err;
  }

  project.provide('tessera.natsUrl', givenNatsUrl ?? nats?.url ?? '');
  project.provide('tessera.databaseUrl', givenDatabaseUrl ?? postgres?.url ?? '');

  return async () => {
    await Promise.allSettled([nats?.stop(), postgres?.stop()]);
  };
}
