import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type INestApplication } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { KeyringPair } from '@polkadot/keyring/types';
import { loadKeypair } from '@tessera/bittensor';
import {
  AxonServed,
  CreateDeployment,
  EventRegistry,
  InstanceFailed,
  InstancePlaced,
  InstanceReady,
  ListMiners,
  NeuronRegistered,
  Streams,
  eventContracts,
  streamIdOf,
} from '@tessera/contracts';
import { EventStore } from '@tessera/eventstore';
import { createApp } from '@tessera/platform';
import { RpcClient } from '@tessera/platform/messaging';
import { eventually, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { writeTinyModel } from '@tessera/tiny-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventTail } from './__tests__/event-tail.js';
import { startMiner, type MinerProcess } from './__tests__/platform-processes.js';
import { SchedulerModule } from './app.module.js';
import { MinerClient } from './fleet/miner-client.js';

const NETUID = 9;
const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

// A miner can refuse a launch the scheduler believed fit: another validator took its GPU after
// the last poll. The scheduler here polls the fleet once (a ten-minute poll interval), so its
// view of the small miner stays the one from before the other validator's launch.
describe('a launch the miner refuses', () => {
  let env: TestEnvironment;
  let nc: NatsConnection;
  let store: EventStore;
  let rpc: RpcClient;
  let tail: EventTail;
  let app: INestApplication | undefined;
  let modelDir: string;
  let model: { uri: string; sha256: string };
  let otherValidator: KeyringPair;
  let small: MinerProcess;
  let large: MinerProcess;
  let smallHotkey: string;
  let largeHotkey: string;

  beforeAll(async () => {
    env = await useTestEnvironment();
    modelDir = await mkdtemp(join(tmpdir(), 'scheduler-refusal-'));
    const path = join(modelDir, 'tiny.gguf');
    model = { uri: `file://${path}`, sha256: await writeTinyModel(path, { seed: 5 }) };
    const validator = (await loadKeypair({ seed: '//RefusalValidator' }, 42))!;
    otherValidator = (await loadKeypair({ seed: '//RefusalOtherValidator' }, 42))!;
    const allowed = `${validator.address},${otherValidator.address}`;
    smallHotkey = (await loadKeypair({ seed: '//RefusalSmallMiner' }, 42))!.address;
    largeHotkey = (await loadKeypair({ seed: '//RefusalLargeMiner' }, 42))!.address;
    // One GPU on the small miner, two on the large one: the tightest fit for one GPU is the small one.
    small = await startMiner({
      MINER_HOTKEY_SEED: '//RefusalSmallMiner',
      ALLOWED_VALIDATOR_HOTKEYS: allowed,
      GPUS: '1xcpu:0',
      MODEL_CACHE_DIR: join(modelDir, 'cache-small'),
    });
    large = await startMiner({
      MINER_HOTKEY_SEED: '//RefusalLargeMiner',
      ALLOWED_VALIDATOR_HOTKEYS: allowed,
      GPUS: '2xcpu:0',
      MODEL_CACHE_DIR: join(modelDir, 'cache-large'),
    });

    nc = await connect({ servers: env.natsUrl });
    store = new EventStore({
      connection: nc,
      registry: new EventRegistry(eventContracts),
      namespace: env.namespace,
    });
    await store.ensureStreams();
    rpc = new RpcClient(nc, { subjectPrefix: env.namespace, defaultTimeoutMs: 15_000 });
    const position = { blockHash: hash(1), extrinsicIndex: 0, eventIndex: 0 };
    for (const [n, hotkey] of [smallHotkey, largeHotkey].entries()) {
      // The chain indexer's facts, appended as it would (distinct coldkeys: no spread preference).
      await store.append(streamIdOf('chain', 'block', String(n + 1)), [
        NeuronRegistered.create({
          netuid: NETUID,
          uid: n + 1,
          hotkey,
          coldkey: (await loadKeypair({ seed: `//RefusalCold${n}` }, 42))!.address,
          blockNumber: n + 1,
          ...position,
        }),
        AxonServed.create({
          netuid: NETUID,
          hotkey,
          ip: `198.51.100.${n + 1}`,
          ipType: 4,
          port: 8091,
          protocol: 4,
          version: 1,
          blockNumber: n + 1,
          ...position,
        }),
      ]);
    }
    tail = await EventTail.follow(store, Streams.SCHEDULER);
    const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
    const verbose = process.env['TESSERA_TEST_LOG'] === '1';
    app = await createApp(
      SchedulerModule.forRoot({
        env: {
          SERVICE_NAME: 'scheduler',
          NODE_ENV: 'test',
          NATS_URL: env.natsUrl,
          NATS_SUBJECT_PREFIX: env.namespace,
          DATABASE_URL: env.databaseUrl,
          DATABASE_SCHEMA: env.schema,
          HTTP_PORT: '0',
          LOG_LEVEL: verbose ? 'info' : 'warn',
          NETUID: String(NETUID),
          VALIDATOR_SEED: '//RefusalValidator',
          INSTANCE_TOKEN_SECRET: 'refusal-instance-token-secret-0123456789',
          AXON_ADDRESS_MAP: `198.51.100.1:8091=127.0.0.1:${small.minerPort},198.51.100.2:8091=127.0.0.1:${large.minerPort}`,
          POLL_INTERVAL_MS: '600000',
          RECONCILE_INTERVAL_MS: '200',
        },
        logging: { destination: verbose ? process.stderr : silent },
      }),
      { logger: false },
    );
  });

  afterAll(async () => {
    await tail?.close();
    await app?.close().catch(() => undefined);
    for (const miner of [small, large]) await miner?.stop();
    await nc?.close();
    await env?.cleanup();
    if (modelDir) await rm(modelDir, { recursive: true, force: true });
  });

  it('fails the refused instance and places its replacement on another miner, which serves it', async () => {
    // The one poll: both miners answer with every GPU free.
    await eventually(async () => {
      const { miners } = await rpc.call(ListMiners, {});
      return miners.length === 2 &&
        miners.every(
          (miner) => miner.status === 'healthy' && miner.capacity?.gpus.every((gpu) => !gpu.instanceId),
        )
        ? true
        : undefined;
    }, 'both miners polled with free GPUs');

    // Another validator takes the small miner's only GPU.
    const taken = await new MinerClient(otherValidator, { timeoutMs: 10_000 }).launch(
      { hotkey: smallHotkey, baseUrl: small.baseUrl },
      {
        instanceId: '0190aaaa-0000-7000-8000-000000000001',
        deploymentId: 'someone-elses',
        model: { name: 'theirs', uri: model.uri, sha256: model.sha256 },
        engine: { name: 'llama' },
        gpus: [0],
        concurrency: 1,
        dataPlaneToken: 'another-validators-token-0123456789',
      },
    );
    expect(taken.state).toBe('starting');

    await rpc.call(CreateDeployment, {
      deploymentId: 'refused',
      name: 'tiny-refused',
      ownerAccountId: 'acct-1',
      model: { uri: model.uri, revision: 'seed-5', sha256: model.sha256 },
      engine: { name: 'llama' },
      gpu: { count: 1 },
      concurrency: 1,
      minReplicas: 1,
      maxReplicas: 1,
      visibility: 'public',
    });
    const [first] = await tail.waitFor(InstancePlaced, (event) => event.data.deploymentId === 'refused');
    expect(first!.data.minerHotkey).toBe(smallHotkey);
    const [failed] = await tail.waitFor(
      InstanceFailed,
      (event) => event.data.instanceId === first!.data.instanceId,
    );
    expect(failed!.data.cause).toBe('launch-refused');

    const [replacement] = await tail.waitFor(
      InstancePlaced,
      (event) => event.data.replacesInstanceId === first!.data.instanceId,
    );
    expect(replacement!.data.minerHotkey).toBe(largeHotkey);
    await tail.waitFor(InstanceReady, (event) => event.data.instanceId === replacement!.data.instanceId, {
      timeoutMs: 120_000,
    });
    // The refusal left the small miner as it was: only the other validator's instance runs there.
    const { miners } = await rpc.call(ListMiners, {});
    const smallView = miners.find((miner) => miner.hotkey === smallHotkey)!;
    expect(smallView.capacity?.gpus.map((gpu) => gpu.instanceId)).toEqual([taken.instanceId]);
  });
});
