import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { TransferObserved } from '@tessera/contracts';
import {
  eventually,
  startChain,
  useTestEnvironment,
  type ChainHarness,
  type TestEnvironment,
} from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChainStream } from '../__tests__/chain-stream.js';
import { openFollower } from '../__tests__/follower.fixture.js';

import { isContinuityError } from '../shared/indexer-errors.js';
import { BlockSource, type FetchedBlock } from './block-source.js';

const TAO = 1_000_000_000n;
const TRANSFERS = 12;
const childPath = fileURLToPath(new URL('../__tests__/follower-crash.child.ts', import.meta.url));

// One chain with a transfer to a watched address in each of blocks 1..TRANSFERS (and a few more
// blocks of set-up); each scenario indexes it from block 1 into its own schema and namespace.
describe('follower faults', () => {
  let env: TestEnvironment;
  let chain: ChainHarness;
  let db: pg.Client;
  let nc: NatsConnection;
  let head: number;
  const schemas: string[] = [];
  const deposit = () => chain.account('Follower/deposit').address;

  async function scenario(suffix: string) {
    const schema = `${env.schema}_${suffix}`;
    await db.query(`create schema "${schema}"`);
    schemas.push(schema);
    return { schema, namespace: `${env.namespace}${suffix}` };
  }
  const cursorOf = async (schema: string) =>
    Number((await db.query(`select height from "${schema}".chain_cursor where id = 'main'`)).rows[0]?.height);
  const indexedRange = async (schema: string) =>
    (
      await db.query(
        `select count(*)::int as n, coalesce(max(height), 0)::int as hi,
                count(*) filter (where prev is not null and parent_hash <> prev)::int as breaks
           from (select height, parent_hash, lag(hash) over (order by height) as prev
                   from "${schema}".indexed_blocks) b`,
      )
    ).rows[0] as { n: number; hi: number; breaks: number };

  beforeAll(async () => {
    env = await useTestEnvironment();
    chain = await startChain();
    const payer = chain.account('Follower/payer');
    await chain.fund(payer.address, 1_000_000n * TAO);
    for (let i = 1; i <= TRANSFERS; i += 1) {
      await chain.submit(chain.api.tx['balances']!['transferKeepAlive']!(deposit(), BigInt(i) * TAO), payer);
    }
    head = (await chain.api.rpc.chain.getHeader()).number.toNumber();
    db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    nc = await connect({ servers: env.natsUrl });
  });

  afterAll(async () => {
    for (const schema of schemas) await db?.query(`drop schema if exists "${schema}" cascade`);
    await db?.end();
    await nc?.drain();
    await chain?.stop();
    await env?.cleanup();
  });

  it('refuses a block whose parent is not the previous block, mid-batch, and leaves the cursor where it was', async () => {
    const { schema, namespace } = await scenario('p');
    const skipAt = Math.floor(head / 2);
    // A node that skips a block: asked for `skipAt`, it serves the next one under that height.
    class SkippingSource extends BlockSource {
      override async fetch(height: number): Promise<FetchedBlock> {
        return height === skipAt
          ? { ...(await super.fetch(height + 1)), number: height }
          : super.fetch(height);
      }
    }
    const fixture = await openFollower({
      natsUrl: env.natsUrl,
      databaseUrl: env.databaseUrl,
      schema,
      namespace,
      endpoint: chain.endpoint,
      watched: [deposit()],
      // One batch for the whole range: without the parent check it would commit through the head.
      follower: { startBlock: 1, prefetch: 4, commitBatch: 1_000 },
      source: (api) => new SkippingSource(api),
    });
    try {
      await fixture.follower.start();
      const err = await eventually(async () => fixture.follower.lastError ?? undefined, 'a failed step', {
        timeoutMs: 60_000,
      });
      expect(isContinuityError(err)).toBe(true);
      expect(err).toMatchObject({ details: { height: skipAt } });
      expect(fixture.follower.health().up).toBe(false);
      expect(await cursorOf(schema)).toBe(0);
      expect(await indexedRange(schema)).toMatchObject({ n: 0 });
    } finally {
      await fixture.close();
    }
  });

  it('commits block rows and cursor together: a crash between them leaves neither, and the restart fills the gap once', async () => {
    const { schema, namespace } = await scenario('c');
    const childEnv = {
      ...process.env,
      NATS_URL: env.natsUrl,
      DATABASE_URL: env.databaseUrl,
      SCHEMA: schema,
      NAMESPACE: namespace,
      CHAIN_ENDPOINT: chain.endpoint,
      WATCHED: deposit(),
      COMMIT_BATCH: '2',
      STOP_AT: String(head),
    };
    const run = async (extra: Record<string, string>) => {
      const child = spawn(process.execPath, ['--import', 'tsx', childPath], {
        env: { ...childEnv, ...extra },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      return { code, signal, output };
    };

    const crashed = await run({ CRASH_AT_COMMIT: '3' });
    expect(crashed.signal).toBe('SIGKILL');
    expect(crashed.output).toContain('dying between rows and cursor at 6');
    // Two batches of two blocks were committed; the third wrote its rows and died before the cursor.
    expect(await cursorOf(schema)).toBe(4);
    expect(await indexedRange(schema)).toEqual({ n: 4, hi: 4, breaks: 0 });

    const resumed = await run({});
    expect(resumed).toMatchObject({ code: 0 });
    expect(await cursorOf(schema)).toBe(head);
    expect(await indexedRange(schema)).toEqual({ n: head, hi: head, breaks: 0 });
    const transfers = (await readChainStream(nc, namespace)).filter((event) => TransferObserved.is(event));
    expect(transfers.map((event) => event.data.amount)).toEqual(
      Array.from({ length: TRANSFERS }, (_, i) => String(BigInt(i + 1) * TAO)),
    );
  });
});
