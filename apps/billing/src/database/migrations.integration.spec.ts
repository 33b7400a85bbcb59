import { readFileSync } from 'node:fs';
import { type INestApplication } from '@nestjs/common';
import { headers as natsHeaders } from '@nats-io/transport-node';
import {
  BillingDeadLetters,
  GetAccount,
  GetUsage,
  OpenAccount,
  SetTaoPrice,
  streamIdOf,
  type EventEnvelope,
} from '@tessera/contracts';
import { LEGACY_EVENT_TYPE_HEADER } from '@tessera/eventstore';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryTables } from '../accounts/account-directory.projection.js';
import { DepositAddressBackfill } from '../deposits/deposit-address-backfill.js';
import { depositAddressStreamId } from '../deposits/deposit-address.decider.js';
import { SuspenseService } from '../deposits/suspense.service.js';
import { LedgerTables } from '../ledger/ledger.projection.js';
import { UsageTables } from '../usage/usage-daily.projection.js';
import {
  assertLedgerBalanced,
  assertReconciled,
  blockHash,
  consumers,
  dataSourceOf,
  ledgerBalances,
  outside,
  startBilling,
  waitForIdle,
  type Outside,
} from '../__tests__/billing-app.fixture.js';

const FIXTURE = new URL('./__fixtures__/release-dff3135.sql', import.meta.url);
const LEGACY_ADDRESS = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty';
const SENDER = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const FIRST_RELEASE_TABLES = [
  DirectoryTables.accounts,
  DirectoryTables.apiKeys,
  DirectoryTables.grants,
  LedgerTables.balances,
  LedgerTables.entries,
  UsageTables.daily,
];

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The first release's schema and rows, loaded into `schema`. */
function loadFirstRelease(url: string, schema: string): Promise<void> {
  return withClient(url, async (client) => {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`SET search_path TO "${schema}"`);
    await client.query(readFileSync(FIXTURE, 'utf8'));
  });
}

/** Columns (name, type, nullability, default) and indexes of a schema's tables, comparable across schemas. */
async function shapeOf(url: string, schema: string, tables: readonly string[]): Promise<unknown> {
  return withClient(url, async (client) => {
    const columns = await client.query(
      `SELECT table_name, column_name, data_type, numeric_precision, is_nullable,
              replace(column_default, $1, '') AS column_default
         FROM information_schema.columns WHERE table_schema = $2 AND table_name = ANY($3)
        ORDER BY table_name, ordinal_position`,
      [`${schema}.`, schema, tables],
    );
    const indexes = await client.query(
      `SELECT tablename, indexname, replace(indexdef, $1, '') AS indexdef FROM pg_indexes
        WHERE schemaname = $2 AND tablename = ANY($3) ORDER BY tablename, indexname`,
      [`${schema}.`, schema, tables],
    );
    return { columns: columns.rows, indexes: indexes.rows };
  });
}

describe('billing schema from migrations', () => {
  describe('on an empty schema', () => {
    let env: TestEnvironment;
    let app: INestApplication;

    beforeAll(async () => {
      env = await useTestEnvironment();
      app = await startBilling(env);
    });
    afterAll(async () => {
      await app?.close();
      await env?.cleanup();
    });

    it('runs every migration and makes the first release tables exactly as synchronize made them', async () => {
      const ran = (await dataSourceOf(app).query('SELECT name FROM migrations ORDER BY id')) as {
        name: string;
      }[];
      expect(ran.map((row) => row.name)).toEqual([
        'BillingSchema1767225600000',
        'EventStoreTables1767225600001',
        'EventStoreDeadLettersPerEvent1796083200000',
        'BillingDepositsAndReceivables1796169600000',
      ]);
      const reference = `${env.schema}_ref`;
      await loadFirstRelease(env.databaseUrl, reference);
      try {
        expect(await shapeOf(env.databaseUrl, env.schema, FIRST_RELEASE_TABLES)).toEqual(
          await shapeOf(env.databaseUrl, reference, FIRST_RELEASE_TABLES),
        );
      } finally {
        await withClient(env.databaseUrl, (client) => client.query(`DROP SCHEMA "${reference}" CASCADE`));
      }
    });
  });

  describe("on the first release's schema, with its rows and streams", () => {
    let env: TestEnvironment;
    let app: INestApplication;
    let ext: Outside;
    let lostTransfer: string;

    /** Writes a message the way the first release did: one bare envelope, its type in the old header. */
    async function publishLegacy(envelope: EventEnvelope | string): Promise<void> {
      const body = typeof envelope === 'string' ? envelope : JSON.stringify(envelope);
      const parsed = JSON.parse(body) as EventEnvelope;
      const headers = natsHeaders();
      headers.set(LEGACY_EVENT_TYPE_HEADER, parsed.type);
      await ext.store.jetstream.publish(ext.store.namespace.subject(parsed.streamId), body, {
        msgID: parsed.id,
        headers,
      });
    }

    const legacyEnvelope = (
      id: number,
      streamId: string,
      sequence: number,
      type: string,
      data: unknown,
    ): EventEnvelope => {
      const eventId = `0191a7a8-0000-7000-8000-${id.toString(16).padStart(12, '0')}`;
      return {
        id: eventId,
        type,
        version: 1,
        streamId,
        sequence,
        occurredAt: '2026-01-01T00:00:00.000Z',
        correlationId: eventId,
        causationId: null,
        traceparent: null,
        actor: 'operator:cli',
        data,
      };
    };

    beforeAll(async () => {
      env = await useTestEnvironment();
      await loadFirstRelease(env.databaseUrl, env.schema);
      ext = await outside(env);
      const account = streamIdOf('billing', 'account', 'legacy');
      const earlyBlock = blockHash(9);
      // The BILLING and CHAIN messages the fixture's checkpoints point at (the first release's format).
      await publishLegacy(
        legacyEnvelope(1, account, 1, 'billing.AccountOpened', {
          accountId: 'legacy',
          name: 'Legacy Ltd',
          depositAddress: LEGACY_ADDRESS,
        }),
      );
      await publishLegacy(
        legacyEnvelope(2, account, 2, 'billing.DepositAddressAssigned', {
          accountId: 'legacy',
          address: LEGACY_ADDRESS,
        }),
      );
      await publishLegacy(
        legacyEnvelope(0xa, account, 3, 'billing.AccountCredited', {
          accountId: 'legacy',
          idempotencyKey: 'credit:welcome',
          amount: '5000000000',
          reason: '',
          postings: [{ from: 'platform:promotions', to: 'customer:legacy', amount: '5000000000' }],
        }),
      );
      // A deposit the first release "ignored for ever" because no TAO price was set.
      await publishLegacy(
        legacyEnvelope(4, account, 4, 'billing.DepositIgnored', {
          accountId: 'legacy',
          idempotencyKey: `deposit:${earlyBlock}:1`,
          blockHash: earlyBlock,
          blockNumber: 9,
          eventIndex: 1,
          from: SENDER,
          amountRao: '1000000000',
          minimumRao: '10000000',
          reason: 'no-tao-price',
        }),
      );
      await publishLegacy(
        legacyEnvelope(0xa1, 'chain.transfer.b', 1, 'chain.TransferObserved', {
          from: SENDER,
          to: LEGACY_ADDRESS,
          amount: '1000000000',
          blockNumber: 9,
          blockHash: earlyBlock,
          extrinsicIndex: 1,
          eventIndex: 1,
        }),
      );
      // The transfer the first release parked and moved past: the fixture's dead letter holds it as stored.
      const [row] = await withClient(
        env.databaseUrl,
        async (client) =>
          (await client.query(`SELECT payload FROM "${env.schema}".projection_dead_letters`)).rows as {
            payload: string;
          }[],
      );
      lostTransfer = row?.payload ?? '';
      await publishLegacy(lostTransfer);

      app = await startBilling(env);
      await app.get(DepositAddressBackfill).done();
      await waitForIdle(app);
    });

    afterAll(async () => {
      await ext?.close();
      await app?.close();
      await env?.cleanup();
    });

    it("keeps the first release's rows, and moves the renamed consumers' checkpoints and dead letters", async () => {
      const dataSource = dataSourceOf(app);
      expect(
        await dataSource.query(`SELECT account_id, name, status FROM ${DirectoryTables.accounts}`),
      ).toEqual([{ account_id: 'legacy', name: 'Legacy Ltd', status: 'open' }]);
      expect(await dataSource.query(`SELECT key_id, revoked FROM ${DirectoryTables.apiKeys}`)).toEqual([
        { key_id: 'legacykey0000001', revoked: false },
      ]);
      expect(await dataSource.query(`SELECT status FROM ${DirectoryTables.grants}`)).toEqual([
        { status: 'settled' },
      ]);
      const usage = await ext.rpc.call(GetUsage, {
        accountId: 'legacy',
        from: '2026-01-01',
        to: '2026-01-01',
      });
      expect(usage.rows).toMatchObject([{ item: 'llama-3-8b', requests: 3, amount: '12000' }]);
      const checkpoints = (await dataSource.query(
        'SELECT projection, sequence::int AS sequence FROM projection_checkpoints ORDER BY projection',
      )) as { projection: string; sequence: number }[];
      expect(checkpoints.map((row) => row.projection)).toEqual([
        'billing-deposit-crediting',
        'billing-directory',
        'billing-ledger',
        'billing-request-charging',
        'billing-usage-daily',
      ]);
      // Resumed where it was: the deposit reactor did not re-take the two transfers it had handled.
      expect(checkpoints.find((row) => row.projection === 'billing-deposit-crediting')?.sequence).toBe(2);
      const parked = await ext.rpc.call(BillingDeadLetters.list, {});
      expect(parked.deadLetters).toMatchObject([{ consumer: 'billing-deposit-crediting', sequence: 2 }]);
    });

    it('rebuilds the ledger with the TAO side of old deposits, claims the old address, and credits what the first release lost', async () => {
      // Rebuilt from the streams: the welcome credit, and the no-price deposit now on suspense.
      expect(await ledgerBalances(dataSourceOf(app))).toMatchObject({
        'customer:legacy': '5000000000',
        'tao:suspense': '1000000000',
        'tao:inflow': '-1000000000',
      });
      const claim = await ext.store.readStream(depositAddressStreamId(LEGACY_ADDRESS));
      expect(claim.events.map((event) => event.data)).toEqual([
        { address: LEGACY_ADDRESS, accountId: 'legacy' },
      ]);

      await ext.rpc.call(SetTaoPrice, { nanoUsdPerTao: '100000000000' }); // $100
      await app.get(SuspenseService).sweepOnce();
      const replayed = await ext.rpc.call(BillingDeadLetters.replay, {
        consumer: 'billing-deposit-crediting',
      });
      expect(replayed.failed).toEqual([]);
      await waitForIdle(app);
      // $5 welcome + 1 TAO that waited for a price + 0.5 TAO the first release dropped.
      expect((await ext.rpc.call(GetAccount, { accountId: 'legacy' })).balance).toBe('155000000000');
      await assertLedgerBalanced(dataSourceOf(app));
      const report = await assertReconciled(ext.rpc);
      expect(report).toMatchObject({ transfers: 2, transferredRao: '1500000000', bookedRao: '1500000000' });
      // A new account on the upgraded service works as on a fresh one.
      await ext.rpc.call(OpenAccount, { accountId: 'newcomer', name: 'New' });
      expect(
        consumers(app)
          .all()
          .every((runner) => runner.health().lastError === undefined),
      ).toBe(true);
    });
  });
});
