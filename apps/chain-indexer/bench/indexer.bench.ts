/**
 * bench:indexer — not a test. Against a real subtensor runtime (chopsticks on raonet), NATS and
 * Postgres:
 *   1. backfill rate (blocks/s) of the indexer's follower over a few hundred produced blocks that
 *      carry events, against a bare @polkadot/api loop fetching the same blocks and events with the
 *      same number of fetches in flight (PREFETCH), in interleaved rounds of the same run
 *      (target ≥ 0.8× the bare loop);
 *   2. metagraph sync time (runtime API read + projection write) for a subnet of 256 neurons,
 *      cold (a fresh API connection, as after a restart) and warm, each at a new block (target ≤ 1 s);
 *      and, beside it, the runtime API call alone, which chopsticks executes in its wasm
 *      interpreter. @polkadot/api caches `state_call` results per block hash, so a sync repeated
 *      at the same block measures that cache, not a sync: every run here is at a new block.
 * Writes bench/results/chain-indexer.json at the repository root.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { connect } from '@nats-io/transport-node';
import { EventRegistry, eventContracts } from '@tessera/contracts';
import { startNatsServer, startPostgres } from '@tessera/devservers';
import { EventStore } from '@tessera/eventstore';
import { startChain } from '@tessera/testkit';
import { pino } from 'pino';
import { DataSource } from 'typeorm';
import { chainIndexerMigrations } from '../src/database/schema.migration.js';
import { tablesIn } from '../src/database/tables.js';
import { Follower } from '../src/follower/follower.js';
import { MetagraphReader } from '../src/metagraph/metagraph-reader.js';
import { MetagraphStore } from '../src/metagraph/metagraph-store.js';

const TAO = 1_000_000_000n;
const TRANSFER_BLOCKS = Number(process.env['BENCH_TRANSFER_BLOCKS'] ?? 100);
const EMPTY_BLOCKS = Number(process.env['BENCH_EMPTY_BLOCKS'] ?? 200);
const ROUNDS = 3;
const NEURONS = 256;
const PREFETCH = 16;

const quiet = pino({ level: 'error' });
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round2 = (value: number): number => Math.round(value * 100) / 100;

const [nats, postgres] = await Promise.all([startNatsServer(), startPostgres({ fastUnsafe: true })]);
const chain = await startChain();
const nc = await connect({ servers: nats.url });
const registry = new EventRegistry(eventContracts);

async function freshApi(): Promise<ApiPromise> {
  return ApiPromise.create({
    provider: new WsProvider(chain.endpoint),
    noInitWarn: true,
    signedExtensions: {
      SubtensorSignedExtension: { extrinsic: {}, payload: {} },
      CommitmentsSignedExtension: { extrinsic: {}, payload: {} },
    },
  });
}

async function dataSourceFor(schema: string): Promise<DataSource> {
  const setup = new DataSource({ type: 'postgres', url: postgres.url });
  await setup.initialize();
  await setup.query(`create schema if not exists "${schema}"`);
  await setup.destroy();
  // The indexer's own migrations, as the service runs them.
  const dataSource = new DataSource({
    type: 'postgres',
    url: postgres.url,
    schema,
    migrations: chainIndexerMigrations,
    migrationsRun: true,
  });
  await dataSource.initialize();
  return dataSource;
}

try {
  // --- chain with a subnet and blocks carrying events ------------------------------------
  const payer = chain.account('Bench/payer');
  const deposit = chain.account('Bench/deposit').address;
  await chain.fund(payer.address, 10_000_000n * TAO);
  await chain.fund(chain.account('Bench/owner').address, 10_000_000n * TAO);
  const netuid = await chain.registerSubnet(chain.account('Bench/owner'), chain.account('Bench/owner-hot'));
  const from = (await chain.api.rpc.chain.getHeader()).number.toNumber() + 1;
  process.stdout.write(`producing ${TRANSFER_BLOCKS} transfer blocks and ${EMPTY_BLOCKS} more blocks...\n`);
  for (let i = 0; i < TRANSFER_BLOCKS; i += 1) {
    await chain.submit(chain.api.tx['balances']!['transferKeepAlive']!(deposit, TAO + BigInt(i)), payer);
  }
  // dev_newBlock answers only when all are built: small chunks stay under the 60 s RPC timeout.
  for (let built = 0; built < EMPTY_BLOCKS; built += 20)
    await chain.newBlocks(Math.min(20, EMPTY_BLOCKS - built));
  const to = (await chain.api.rpc.chain.getHeader()).number.toNumber();
  const blocks = to - from + 1;

  // --- backfill: bare loop vs follower, interleaved --------------------------------------
  const bareRates: number[] = [];
  const indexerRates: number[] = [];
  let eventsSeen = 0;
  let published = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    {
      const api = await freshApi();
      const started = performance.now();
      let events = 0;
      // The follower's shape without its code: PREFETCH blocks in flight, consumed in order.
      const fetchBlock = async (height: number): Promise<number> => {
        const hash = await api.rpc.chain.getBlockHash(height);
        const [, at] = await Promise.all([api.rpc.chain.getHeader(hash), api.at(hash)]);
        return ((await at.query['system']!['events']!()) as unknown as unknown[]).length;
      };
      const inFlight: Promise<number>[] = [];
      let next = from;
      while (next <= to || inFlight.length > 0) {
        while (next <= to && inFlight.length < PREFETCH) inFlight.push(fetchBlock(next++));
        events += await inFlight.shift()!;
      }
      bareRates.push(blocks / ((performance.now() - started) / 1000));
      eventsSeen = events;
      await api.disconnect();
    }
    {
      const api = await freshApi();
      const schema = `bench_${round}`;
      const namespace = `bench${round}${Date.now().toString(36)}`;
      const dataSource = await dataSourceFor(schema);
      const store = new EventStore({ connection: nc, registry, namespace });
      await store.ensureStreams();
      const follower = new Follower(
        {
          api,
          store,
          dataSource,
          tables: tablesIn(schema),
          watch: { isWatched: (address) => address === deposit, catchUp: async () => undefined },
          log: quiet,
        },
        { startBlock: from, netuids: [], prefetch: PREFETCH, commitBatch: 64, ss58Format: 42 },
      );
      const done = new Promise<void>((resolve) =>
        follower.onCursor((cursor) => cursor.height >= to && resolve()),
      );
      const started = performance.now();
      await follower.start();
      await done;
      indexerRates.push(blocks / ((performance.now() - started) / 1000));
      await follower.stop();
      const continuity = await follower.checkContinuity();
      if (!continuity.ok) throw new Error(`bench backfill left a gap: ${JSON.stringify(continuity)}`);
      const jsm = await store.manager();
      published = (await jsm.streams.info(store.namespace.streamName('CHAIN'))).state.messages;
      await dataSource.destroy();
      await api.disconnect();
    }
  }

  // --- metagraph of 256 neurons -----------------------------------------------------------
  const keys: [[number, number], string][] = [];
  const uids: [[number, string], number][] = [];
  const owners: [[string], string][] = [];
  const registered: [[number, number], number][] = [];
  for (let uid = 0; uid < NEURONS; uid += 1) {
    const hotkey = chain.account(`Bench/neuron-${uid}`).address;
    keys.push([[netuid, uid], hotkey]);
    uids.push([[netuid, hotkey], uid]);
    owners.push([[hotkey], payer.address]);
    registered.push([[netuid, uid], from]);
  }
  await chain.setStorage({
    SubtensorModule: {
      MaxAllowedUids: [[[netuid], NEURONS]],
      SubnetworkN: [[[netuid], NEURONS]],
      Keys: keys,
      Uids: uids,
      Owner: owners,
      BlockAtRegistration: registered,
    },
  });
  const dataSource = await dataSourceFor('bench_metagraph');
  const metagraphStore = new MetagraphStore(tablesIn('bench_metagraph'));
  let neurons = 0;
  /** One sync at a new block: read through the runtime API, then replace the projection rows. */
  const syncAtNewBlock = async (api: ApiPromise): Promise<number> => {
    const head = await chain.newBlocks(1);
    const hash = (await api.rpc.chain.getBlockHash(head)).toHex();
    const started = performance.now();
    const at = await api.at(hash);
    const snapshot = await new MetagraphReader(42).read(at, { number: head, hash }, netuid);
    await dataSource.transaction((manager) =>
      metagraphStore.write(manager, snapshot.metagraph, snapshot.tempo),
    );
    neurons = snapshot.metagraph.neurons.length;
    return performance.now() - started;
  };
  const coldMs: number[] = [];
  const warmMs: number[] = [];
  const runtimeCallMs: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const api = await freshApi();
    coldMs.push(await syncAtNewBlock(api));
    warmMs.push(await syncAtNewBlock(api));
    // The runtime API call alone, at a new block (nothing cached), on the warm connection.
    const head = await chain.newBlocks(1);
    const at = await api.at(await api.rpc.chain.getBlockHash(head));
    const call = (at.call as unknown as Record<string, Record<string, (netuid: number) => Promise<unknown>>>)[
      'neuronInfoRuntimeApi'
    ]!['getNeuronsLite']!;
    const started = performance.now();
    await call(netuid);
    runtimeCallMs.push(performance.now() - started);
    await api.disconnect();
  }
  if (neurons !== NEURONS) throw new Error(`metagraph read ${neurons} neurons, expected ${NEURONS}`);
  await dataSource.destroy();

  const bare = median(bareRates);
  const indexer = median(indexerRates);
  const results = {
    benchmark: 'chain-indexer',
    measuredAt: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    chain: 'chopsticks 1.1.0, raonet spec (subtensor spec_version 218), Instant mode',
    backfill: {
      blocks,
      blocksWithTransfers: TRANSFER_BLOCKS,
      runtimeEventsPerRound: eventsSeen,
      chainEventsPublished: published,
      indexerBlocksPerSecond: round2(indexer),
      bareApiLoopBlocksPerSecond: round2(bare),
      ratio: round2(indexer / bare),
      target: '>= 0.8x the bare loop',
      rounds: bareRates.map((rate, i) => ({ bare: round2(rate), indexer: round2(indexerRates[i]!) })),
    },
    metagraphSync: {
      neurons: NEURONS,
      coldMedianMs: round2(median(coldMs)),
      warmMedianMs: round2(median(warmMs)),
      runtimeApiCallMedianMs: round2(median(runtimeCallMs)),
      coldRunsMs: coldMs.map(round2),
      warmRunsMs: warmMs.map(round2),
      runtimeApiCallRunsMs: runtimeCallMs.map(round2),
      target: '<= 1000 ms',
      note: 'each run at a new block; cold = first sync on a fresh API connection (as after a restart). The runtime API call (getNeuronsLite, executed by chopsticks in wasm) is measured alone beside it.',
    },
  };
  const outDir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}chain-indexer.json`, `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
} finally {
  await nc.drain().catch(() => undefined);
  await chain.stop();
  await Promise.allSettled([nats.stop(), postgres.stop()]);
}
