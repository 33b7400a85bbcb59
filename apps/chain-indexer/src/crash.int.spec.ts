import { connect, type NatsConnection } from '@nats-io/transport-node';
import { TransferObserved, type EventEnvelope } from '@tessera/contracts';
import { findFreePort } from '@tessera/devservers';
import {
  eventually,
  startChain,
  useTestEnvironment,
  type ChainHarness,
  type TestEnvironment,
} from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChainStream } from './__tests__/chain-stream.js';
import { startIndexer, type IndexerProcess } from './__tests__/indexer-process.js';
import { tcpProxy } from './__tests__/tcp-proxy.js';

const TAO = 1_000_000_000n;
const TRANSFERS = 40;

describe('chain indexer faults', () => {
  let env: TestEnvironment;
  let chain: ChainHarness;
  let nc: NatsConnection;
  let db: pg.Client;
  let head: number;
  const running: IndexerProcess[] = [];

  const deposit = () => chain.account('Crash/deposit').address;
  const cursorHeight = async (): Promise<number> => {
    const rows = await db
      .query(`select height from "${env.schema}".chain_cursor where id = 'main'`)
      .catch(() => ({ rows: [] }));
    return Number((rows.rows[0] as { height?: string } | undefined)?.height ?? -1);
  };
  const baseEnv = (endpoint: string): Record<string, string> => ({
    NATS_URL: env.natsUrl,
    NATS_SUBJECT_PREFIX: env.namespace,
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: env.schema,
    CHAIN_ENDPOINT: endpoint,
    START_BLOCK: '1',
    WATCH_ADDRESSES: deposit(),
    // Small commits and prefetch so the kill lands between commits, mid-backfill.
    COMMIT_BATCH_BLOCKS: '1',
    PREFETCH_BLOCKS: '2',
  });
  const launch = async (vars: Record<string, string>): Promise<IndexerProcess> => {
    const indexer = await startIndexer(vars);
    running.push(indexer);
    return indexer;
  };

  beforeAll(async () => {
    env = await useTestEnvironment();
    chain = await startChain();
    const payer = chain.account('Payer');
    await chain.fund(payer.address, 1_000_000n * TAO);
    // A block per transfer: the backfill has TRANSFERS blocks carrying a fact.
    for (let i = 1; i <= TRANSFERS; i += 1) {
      await chain.submit(chain.api.tx['balances']!['transferKeepAlive']!(deposit(), BigInt(i) * TAO), payer);
    }
    head = (await chain.api.rpc.chain.getHeader()).number.toNumber();
    nc = await connect({ servers: env.natsUrl });
    db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
  }, 240_000);

  afterAll(async () => {
    for (const indexer of running) await indexer.kill('SIGKILL');
    await db?.query(`drop schema if exists "${env.schema}_u" cascade`);
    await db?.end();
    await nc?.drain();
    await chain?.stop();
    await env?.cleanup();
  });

  it('is not ready while the endpoint is unreachable, says why, and starts once it answers', async () => {
    const proxy = tcpProxy(await findFreePort(), Number(new URL(chain.endpoint).port));
    const indexer = await launch({
      ...baseEnv(`ws://127.0.0.1:${proxy.port}`),
      DATABASE_SCHEMA: `${env.schema}_u`,
      NATS_SUBJECT_PREFIX: `${env.namespace}u`,
      START_BLOCK: String(head),
    });
    await indexer.waitForLine(/chain endpoint unreachable; retrying/);
    const notReady = await eventually(async () => {
      const probe = await indexer.ready();
      return probe.status === 503 ? probe : undefined;
    }, 'the indexer not ready');
    expect(notReady.body).toMatch(/unreachable/);
    await proxy.open();
    await eventually(async () => ((await indexer.ready()).status === 200 ? true : undefined), 'ready', {
      timeoutMs: 60_000,
    });
    await indexer.kill();
    await proxy.close();
  });

  it('publishes every transfer exactly once and leaves no cursor gap after kill -9 mid-backfill', async () => {
    const first = await launch(baseEnv(chain.endpoint));
    const killAt = 8;
    await eventually(
      async () => ((await cursorHeight()) >= killAt ? true : undefined),
      `cursor past ${killAt}`,
      { timeoutMs: 90_000 },
    );
    await first.kill('SIGKILL');
    const cursorAtKill = await cursorHeight();
    expect(cursorAtKill).toBeLessThan(head);

    const second = await launch(baseEnv(chain.endpoint));
    await eventually(async () => ((await cursorHeight()) >= head ? true : undefined), 'cursor at head', {
      timeoutMs: 120_000,
    });
    await second.kill();

    const events: EventEnvelope[] = await readChainStream(nc, env.namespace);
    const transfers = events.filter((event) => TransferObserved.is(event));
    expect(transfers.map((event) => (event.data as { amount: string }).amount)).toEqual(
      Array.from({ length: TRANSFERS }, (_, i) => String(BigInt(i + 1) * TAO)),
    );
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    // One aggregate per block, each with consecutive per-aggregate sequences.
    const byStream = new Map<string, number[]>();
    for (const event of events)
      byStream.set(event.streamId, [...(byStream.get(event.streamId) ?? []), event.sequence]);
    for (const sequences of byStream.values()) expect(sequences).toEqual(sequences.map((_, i) => i + 1));

    const links = await db.query(
      `select count(*)::int as n, min(height)::int as lo, max(height)::int as hi,
              count(*) filter (where prev is not null and parent_hash <> prev)::int as breaks
         from (select height, parent_hash, lag(hash) over (order by height) as prev from "${env.schema}".indexed_blocks) b`,
    );
    expect(links.rows[0]).toEqual({ n: head, lo: 1, hi: head, breaks: 0 });
  });
});
