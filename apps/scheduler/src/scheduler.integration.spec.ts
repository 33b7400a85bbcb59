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
  DEPLOYMENT_CATALOG_STREAM_ID,
  DeleteDeployment,
  DeploymentCreated,
  ErrorCode,
  EventRegistry,
  GetDeployment,
  InstanceDraining,
  InstanceFailed,
  InstancePlaced,
  InstanceReady,
  InstanceStopped,
  ListDeployments,
  ListInstances,
  ListMiners,
  NeuronRegistered,
  SchedulerErrorCode,
  Streams,
  TesseraError,
  UpdateDeployment,
  eventContracts,
  streamIdOf,
  type RpcRequestOf,
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
import { PlacementLoop } from './controller/placement-loop.js';

const NETUID = 7;
const SECRET = 'integration-instance-token-secret-0123456789';
const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

/** What a call answers with: its result, or the code and field paths of its typed error. */
async function outcome(call: Promise<unknown>): Promise<{ code: string; fields: string[] } | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (err) {
    if (!(err instanceof TesseraError)) throw err;
    const issues = (err.details?.['issues'] as { path: string }[] | undefined) ?? [];
    const field = err.details?.['field'];
    return {
      code: err.code,
      fields: [...issues.map((issue) => issue.path), ...(typeof field === 'string' ? [field] : [])],
    };
  }
}

// One NATS namespace and schema, two real miner-agents (llama engine, one CPU slot each) and the
// scheduler in-process; the chain's registrations are published as the indexer would.
describe('scheduler against real miner-agents', () => {
  let env: TestEnvironment;
  let nc: NatsConnection;
  let store: EventStore;
  let rpc: RpcClient;
  let tail: EventTail;
  let validator: KeyringPair;
  let modelDir: string;
  let model: { uri: string; sha256: string };
  const miners: MinerProcess[] = [];
  const hotkeys: string[] = [];
  const apps: INestApplication[] = [];
  let block = 0;

  const schedulerEnv = (instance: string): Record<string, string> => ({
    SERVICE_NAME: 'scheduler',
    NODE_ENV: 'test',
    INSTANCE_ID: instance,
    NATS_URL: env.natsUrl,
    NATS_SUBJECT_PREFIX: env.namespace,
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: env.schema,
    HTTP_PORT: '0',
    CONSUMER_LEASE_TTL_MS: '1500',
    PLACEMENT_LEASE_TTL_MS: '1500',
    NETUID: String(NETUID),
    VALIDATOR_SEED: '//IntegrationValidator',
    INSTANCE_TOKEN_SECRET: SECRET,
    AXON_ADDRESS_MAP: miners
      .map((miner, n) => `203.0.113.${n + 1}:8091=127.0.0.1:${miner.minerPort}`)
      .join(','),
    POLL_INTERVAL_MS: '2000',
    MINER_REQUEST_TIMEOUT_MS: '1000',
    MINER_UNREACHABLE_POLLS: '5',
    RECONCILE_INTERVAL_MS: '200',
    HEALTH_CHECK_INTERVAL_MS: '500',
    HEALTH_FAILURE_THRESHOLD: '2',
    DRAIN_GRACE_MS: '200',
  });

  const startScheduler = async (instance: string): Promise<INestApplication> => {
    const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
    const app = await createApp(
      SchedulerModule.forRoot({
        env: {
          ...schedulerEnv(instance),
          LOG_LEVEL: process.env['TESSERA_TEST_LOG'] === '1' ? 'info' : 'warn',
        },
        logging: { destination: process.env['TESSERA_TEST_LOG'] === '1' ? process.stderr : silent },
      }),
      { logger: false },
    );
    apps.push(app);
    return app;
  };

  const chainFact = (events: Parameters<EventStore['append']>[1]) =>
    store.append(streamIdOf('chain', 'block', String(++block)), events);
  const position = { blockHash: hash(1), extrinsicIndex: 0, eventIndex: 0 };

  const deployment = (
    overrides: Partial<RpcRequestOf<typeof CreateDeployment>> = {},
  ): RpcRequestOf<typeof CreateDeployment> => ({
    name: 'tiny-chat',
    ownerAccountId: 'acct-1',
    model: { uri: model.uri, revision: 'seed-5', sha256: model.sha256 },
    engine: { name: 'llama' },
    gpu: { count: 1 },
    concurrency: 2,
    minReplicas: 1,
    maxReplicas: 2,
    visibility: 'public',
    ...overrides,
  });

  beforeAll(async () => {
    env = await useTestEnvironment();
    modelDir = await mkdtemp(join(tmpdir(), 'scheduler-models-'));
    const path = join(modelDir, 'tiny.gguf');
    model = { uri: `file://${path}`, sha256: await writeTinyModel(path, { seed: 5 }) };
    validator = (await loadKeypair({ seed: '//IntegrationValidator' }, 42))!;
    for (let n = 1; n <= 2; n++) {
      const seed = `//IntegrationMiner${n}`;
      hotkeys.push((await loadKeypair({ seed }, 42))!.address);
      miners.push(
        await startMiner({
          MINER_HOTKEY_SEED: seed,
          ALLOWED_VALIDATOR_HOTKEYS: validator.address,
          GPUS: '1xcpu:0',
          MODEL_CACHE_DIR: join(modelDir, `cache-${n}`),
        }),
      );
    }
    nc = await connect({ servers: env.natsUrl });
    store = new EventStore({
      connection: nc,
      registry: new EventRegistry(eventContracts),
      namespace: env.namespace,
    });
    await store.ensureStreams();
    rpc = new RpcClient(nc, { subjectPrefix: env.namespace, defaultTimeoutMs: 15_000 });
    const coldkey = (await loadKeypair({ seed: '//IntegrationCold' }, 42))!.address;
    for (const [n, hotkey] of hotkeys.entries()) {
      await chainFact([
        NeuronRegistered.create({
          netuid: NETUID,
          uid: n + 1,
          hotkey,
          coldkey,
          blockNumber: block + 1,
          ...position,
        }),
        AxonServed.create({
          netuid: NETUID,
          hotkey,
          ip: `203.0.113.${n + 1}`,
          ipType: 4,
          port: 8091,
          protocol: 4,
          version: 1,
          blockNumber: block + 1,
          ...position,
        }),
      ]);
    }
    tail = await EventTail.follow(store, Streams.SCHEDULER);
    await startScheduler('replica-a');
  });

  afterAll(async () => {
    await tail?.close();
    for (const app of apps) await app.close().catch(() => undefined);
    for (const miner of miners) await miner.stop();
    await nc?.close();
    await env?.cleanup();
    if (modelDir) await rm(modelDir, { recursive: true, force: true });
  });

  it('refuses bad deployment requests with typed errors naming the field, writes nothing, and keeps serving', async () => {
    const before = await store.currentPosition(DEPLOYMENT_CATALOG_STREAM_ID);
    expect(await outcome(rpc.call(CreateDeployment, { ...deployment(), minReplicas: 3 }))).toEqual({
      code: ErrorCode.ValidationFailed,
      fields: ['minReplicas'],
    });
    // Sent around the client-side check, as a broken or hostile caller would.
    const raw = async (subject: string, body: unknown) => {
      const reply = await nc.request(`${env.namespace}.${subject}`, JSON.stringify(body), { timeout: 5_000 });
      return reply.json<{
        ok: boolean;
        error?: { code: string; details?: { issues?: { path: string }[] } };
      }>();
    };
    const bad = await raw(CreateDeployment.subject, {
      ...deployment(),
      gpu: { count: 0 },
      name: 'has space',
    });
    expect(bad.ok).toBe(false);
    expect(bad.error?.code).toBe(ErrorCode.ValidationFailed);
    expect(bad.error?.details?.issues?.map((issue) => issue.path).sort()).toEqual(['gpu.count', 'name']);
    expect((await raw(CreateDeployment.subject, 'not an object')).error?.code).toBe(
      ErrorCode.ValidationFailed,
    );
    expect(
      await outcome(rpc.call(UpdateDeployment, { deploymentId: 'nope', changes: { concurrency: 1 } })),
    ).toEqual({ code: ErrorCode.NotFound, fields: [] });
    expect(await store.currentPosition(DEPLOYMENT_CATALOG_STREAM_ID)).toEqual(before);

    const created = await rpc.call(CreateDeployment, deployment({ deploymentId: 'tiny', minReplicas: 0 }));
    expect(created).toMatchObject({
      deploymentId: 'tiny',
      generation: 1,
      targetReplicas: 0,
      status: 'active',
    });
    // A retried create is the same deployment; the same id with another spec, or the name again, is refused.
    expect(await rpc.call(CreateDeployment, deployment({ deploymentId: 'tiny', minReplicas: 0 }))).toEqual(
      created,
    );
    expect(
      await outcome(rpc.call(CreateDeployment, deployment({ deploymentId: 'tiny', concurrency: 3 }))),
    ).toEqual({
      code: SchedulerErrorCode.DeploymentExists,
      fields: ['deploymentId'],
    });
    expect(await outcome(rpc.call(CreateDeployment, deployment({ deploymentId: 'other' })))).toEqual({
      code: SchedulerErrorCode.NameTaken,
      fields: ['name'],
    });
    expect(
      await outcome(rpc.call(UpdateDeployment, { deploymentId: 'tiny', changes: { minReplicas: 3 } })),
    ).toEqual({ code: ErrorCode.ValidationFailed, fields: ['changes.minReplicas'] });
    expect(
      await outcome(rpc.call(GetDeployment, { deploymentId: 'tiny', ownerAccountId: 'someone-else' })),
    ).toEqual({ code: ErrorCode.NotFound, fields: [] });
    expect(tail.of(DeploymentCreated)).toHaveLength(1);
  });

  it('places a replica, launches it and routes to it only once the miner serves the right model', async () => {
    await rpc.call(UpdateDeployment, { deploymentId: 'tiny', changes: { minReplicas: 1 } });
    const [ready] = await tail.waitFor(InstanceReady, (event) => event.data.deploymentId === 'tiny');
    const [placed] = tail.of(InstancePlaced, (event) => event.data.instanceId === ready!.data.instanceId);
    expect(placed!.data).toMatchObject({
      gpuType: 'cpu',
      gpuCount: 1,
      gpus: [0],
      engine: 'llama',
      replacesInstanceId: null,
    });
    expect(ready!.data).toMatchObject({ model: 'tiny-chat', concurrency: 2, modelSha256: model.sha256 });
    const miner = miners[hotkeys.indexOf(ready!.data.minerHotkey)]!;
    expect(ready!.data.endpoint).toBe(`${miner.baseUrl}/instances/${ready!.data.instanceId}/v1`);

    // The deployment's instances are a read model: it shows the ready event a moment after the stream.
    const view = await eventually(async () => {
      const current = await rpc.call(GetDeployment, { deploymentId: 'tiny' });
      return current.instances.some((instance) => instance.state === 'ready') ? current : undefined;
    }, 'the deployment view shows the instance ready');
    expect(view.instances.map((instance) => [instance.instanceId, instance.state])).toEqual([
      [ready!.data.instanceId, 'ready'],
    ]);
    // Miner state is as of the last poll: wait for one that saw the instance.
    const fleet = await eventually(async () => {
      const listed = await rpc.call(ListMiners, {});
      const host = listed.miners.find((entry) => entry.hotkey === ready!.data.minerHotkey);
      return listed.miners.every((entry) => entry.status === 'healthy') &&
        host?.capacity?.gpus.some((gpu) => gpu.instanceId !== null)
        ? listed
        : undefined;
    }, 'both miners polled since the launch');
    expect(fleet.netuid).toBe(NETUID);
    expect(fleet.miners.map((entry) => entry.hotkey).sort()).toEqual([...hotkeys].sort());
    const host = fleet.miners.find((entry) => entry.hotkey === ready!.data.minerHotkey)!;
    expect(host.capacity?.gpus).toEqual([
      { index: 0, gpuType: 'cpu', memoryTotalMiB: 0, instanceId: ready!.data.instanceId },
    ]);
  });

  it('replaces a replica whose data plane stops answering its health checks', async () => {
    const [current] = tail.of(InstanceReady, (event) => event.data.deploymentId === 'tiny');
    const miner = miners[hotkeys.indexOf(current!.data.minerHotkey)]!;
    // Signalled directly: ManagedProcess.kill waits for an exit that a paused process never makes.
    process.kill(miner.process.pid, 'SIGSTOP');
    try {
      const [failed] = await tail.waitFor(
        InstanceFailed,
        (event) => event.data.instanceId === current!.data.instanceId,
      );
      expect(failed!.data.cause).toBe('health-checks');
      const [replacement] = await tail.waitFor(
        InstancePlaced,
        (event) => event.data.replacesInstanceId === current!.data.instanceId,
      );
      expect(replacement!.data.minerHotkey).not.toBe(current!.data.minerHotkey);
      await tail.waitFor(InstanceReady, (event) => event.data.instanceId === replacement!.data.instanceId);
    } finally {
      process.kill(miner.process.pid, 'SIGCONT');
    }
    // The failed instance still held the paused miner's slot: once it answers, it is stopped there.
    await eventually(
      async () => {
        const listed = await rpc.call(ListMiners, {});
        const entry = listed.miners.find((candidate) => candidate.hotkey === current!.data.minerHotkey);
        return entry?.status === 'healthy' && entry.capacity?.gpus[0]?.instanceId === null
          ? entry
          : undefined;
      },
      'the paused miner freed its slot',
      { timeoutMs: 30_000 },
    );
  });

  it('rolls a new generation out before draining the old one', async () => {
    const [old] = tail.of(InstanceReady, (event) => event.data.deploymentId === 'tiny').slice(-1);
    const updated = await rpc.call(UpdateDeployment, {
      deploymentId: 'tiny',
      changes: { name: 'tiny-chat-v2' },
    });
    expect(updated.generation).toBe(2);
    const [next] = await tail.waitFor(
      InstanceReady,
      (event) => event.data.deploymentId === 'tiny' && event.data.generation === 2,
    );
    expect(next!.data.model).toBe('tiny-chat-v2');
    const [drained] = await tail.waitFor(
      InstanceDraining,
      (event) => event.data.instanceId === old!.data.instanceId,
    );
    expect(drained!.data.reason).toBe('superseded');
    expect(tail.events.indexOf(drained!)).toBeGreaterThan(tail.events.indexOf(next!));
    await tail.waitFor(InstanceStopped, (event) => event.data.instanceId === old!.data.instanceId);
  });

  it('hands placement to the other replica when the lease holder stops', async () => {
    const standby = await startScheduler('replica-b');
    const [first] = apps;
    expect(first!.get(PlacementLoop).isActive).toBe(true);
    expect(standby.get(PlacementLoop).isActive).toBe(false);
    await first!.close();
    await eventually(
      async () => (standby.get(PlacementLoop).isActive ? true : undefined),
      'the standby took the lease',
      { timeoutMs: 30_000 },
    );
    // The new holder acts on new decisions: a second replica lands on the other miner.
    await rpc.call(UpdateDeployment, { deploymentId: 'tiny', changes: { minReplicas: 2 } });
    const ready = await tail.waitFor(
      InstanceReady,
      (event) => event.data.deploymentId === 'tiny' && event.data.generation === 2,
      { count: 2 },
    );
    expect(new Set(ready.map((event) => event.data.minerHotkey)).size).toBe(2);
    // The instances read model follows the stream a moment later.
    await eventually(async () => {
      const live = await rpc.call(ListInstances, { deploymentId: 'tiny' });
      return live.instances.filter((instance) => instance.state === 'ready').length === 2 ? true : undefined;
    }, 'both replicas ready in the instances view');
  });

  it('drains and stops every replica of a deleted deployment and frees its name', async () => {
    expect(await rpc.call(DeleteDeployment, { deploymentId: 'tiny' })).toEqual({
      deploymentId: 'tiny',
      status: 'deleted',
    });
    expect(await rpc.call(DeleteDeployment, { deploymentId: 'tiny' })).toEqual({
      deploymentId: 'tiny',
      status: 'deleted',
    });
    await eventually(async () => {
      const { instances } = await rpc.call(ListInstances, { deploymentId: 'tiny' });
      return instances.length === 0 ? true : undefined;
    }, 'every replica stopped');
    const stopped = tail.of(
      InstanceStopped,
      (event) => event.data.deploymentId === 'tiny' && event.data.reason === 'deployment-deleted',
    );
    expect(stopped).toHaveLength(2);
    expect((await rpc.call(ListDeployments, {})).deployments).toEqual([]);
    expect(
      (await rpc.call(CreateDeployment, deployment({ deploymentId: 'again', minReplicas: 0 }))).name,
    ).toBe('tiny-chat');
  });
});
