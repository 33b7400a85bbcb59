import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  CreateDeployment,
  CreditAccount,
  DeleteDeployment,
  DemandObserved,
  DeploymentScaled,
  EventRegistry,
  GetUsage,
  InstanceDraining,
  InstanceLost,
  InstancePlaced,
  InstanceReady,
  InstanceStopped,
  ListInstances,
  OpenAccount,
  SetGpuPrice,
  Streams,
  demandStreamId,
  eventContracts,
  instanceToken,
  type RpcRequestOf,
} from '@tessera/contracts';
import { EventStore } from '@tessera/eventstore';
import { RpcClient } from '@tessera/platform/messaging';
import {
  eventually,
  startChain,
  useTestEnvironment,
  type ChainHarness,
  type TestEnvironment,
} from '@tessera/testkit';
import { writeTinyModel } from '@tessera/tiny-model';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventTail } from './__tests__/event-tail.js';
import { startApp, startMiner, type AppProcess, type MinerProcess } from './__tests__/platform-processes.js';

const SECRET = 'processes-instance-token-secret-0123456789';
const utcDay = (): string => new Date().toISOString().slice(0, 10);
/** Usage is asked from the day the file started: a run can cross midnight UTC. */
const firstDay = utcDay();
const MINERS = 3;
const tesseraMiner = fileURLToPath(new URL('../../miner-agent/dist/cli/main.js', import.meta.url));

// Everything as the platform runs it: a local subtensor chain (chopsticks), three miner-agent
// processes with the llama engine registered on it with served axons, and the chain indexer,
// billing and scheduler started from their builds. The test only talks NATS and HTTP to them.
describe('scheduler with billing, the chain indexer and three miner-agents as processes on a local chain', () => {
  let env: TestEnvironment;
  let chain: ChainHarness;
  let netuid: number;
  let nc: NatsConnection;
  let store: EventStore;
  let rpc: RpcClient;
  let tail: EventTail;
  let modelDir: string;
  let model: { uri: string; sha256: string };
  const extraSchemas: string[] = [];
  const miners = new Map<string, MinerProcess>();
  const apps: AppProcess[] = [];
  let schedulerEnv: Record<string, string>;
  let billingEnv: Record<string, string>;
  let billing: AppProcess;
  let scheduler: AppProcess;

  const deployment = (
    overrides: Partial<RpcRequestOf<typeof CreateDeployment>>,
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

  /** A schema of its own per service, as each service has in production. */
  const schemaFor = async (service: string): Promise<string> => {
    const schema = `${env.schema}_${service.replaceAll('-', '_')}`;
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      await client.query(`create schema "${schema}"`);
    } finally {
      await client.end();
    }
    extraSchemas.push(schema);
    return schema;
  };

  const serviceEnv = async (service: string): Promise<Record<string, string>> => ({
    SERVICE_NAME: service,
    NATS_URL: env.natsUrl,
    NATS_SUBJECT_PREFIX: env.namespace,
    DATABASE_URL: env.databaseUrl,
    DATABASE_SCHEMA: await schemaFor(service),
    CONSUMER_LEASE_TTL_MS: '1500',
  });

  /** One proxy replica's demand report for the window that just ended. */
  const demand = (deploymentId: string, load: { inFlight?: number; queued?: number; requests: number }) => {
    const windowMs = 1_000;
    return store.append(demandStreamId(deploymentId, 'proxy-test'), [
      DemandObserved.create({
        deploymentId,
        source: 'proxy-test',
        windowStart: new Date(Date.now() - windowMs).toISOString(),
        windowMs,
        inFlight: load.inFlight ?? 0,
        queued: load.queued ?? 0,
        requests: load.requests,
        rejectedForCapacity: 0,
      }),
    ]);
  };

  /** Reports `load` every half second, as a proxy does each window, until `waiting` settles. */
  const whileReporting = async <T>(
    deploymentId: string,
    load: Parameters<typeof demand>[1],
    waiting: Promise<T>,
  ): Promise<T> => {
    let settled = false;
    const reports = (async () => {
      while (!settled) {
        await demand(deploymentId, load);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    try {
      return await waiting;
    } finally {
      settled = true;
      await reports;
    }
  };

  const chat = (endpoint: string, modelName: string, token: string | undefined) =>
    fetch(`${endpoint}/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({
        model: modelName,
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 4,
        temperature: 0,
        seed: 1,
      }),
      signal: AbortSignal.timeout(60_000),
    });

  beforeAll(async () => {
    env = await useTestEnvironment();
    chain = await startChain();
    const owner = chain.account('SchedulerSubnetOwner');
    await chain.fund(owner.address, 10n ** 15n);
    netuid = await chain.registerSubnet(owner, chain.account('SchedulerSubnetOwner/hot'));

    modelDir = await mkdtemp(join(tmpdir(), 'scheduler-processes-'));
    const path = join(modelDir, 'tiny.gguf');
    model = { uri: `file://${path}`, sha256: await writeTinyModel(path, { seed: 5 }) };
    const validator = chain.account('SchedulerValidator');

    const addressMap: string[] = [];
    for (let n = 1; n <= MINERS; n++) {
      const hotkey = chain.account(`SchedulerMiner${n}`);
      // A coldkey each: placement spreads replicas across coldkeys too.
      const coldkey = chain.account(`SchedulerMinerCold${n}`);
      await chain.fund(coldkey.address, 10n ** 13n);
      await chain.registerNeuron(netuid, coldkey, hotkey);
      const miner = await startMiner({
        MINER_HOTKEY_SEED: `//SchedulerMiner${n}`,
        ALLOWED_VALIDATOR_HOTKEYS: validator.address,
        GPUS: '1xcpu:0',
        MODEL_CACHE_DIR: join(modelDir, `cache-${n}`),
      });
      miners.set(hotkey.address, miner);
      // The runtime refuses loopback axons: announce a documentation IP, map it to the local port.
      const announced = `203.0.113.${n}:8091`;
      await promisify(execFile)(
        process.execPath,
        [tesseraMiner, 'serve-axon', '--netuid', String(netuid), '--ip', `203.0.113.${n}`, '--port', '8091'],
        {
          env: {
            PATH: process.env['PATH'] ?? '',
            CHAIN_ENDPOINT: chain.endpoint,
            MINER_HOTKEY_SEED: `//SchedulerMiner${n}`,
          },
        },
      );
      addressMap.push(`${announced}=127.0.0.1:${miner.minerPort}`);
    }

    apps.push(
      await startApp('chain-indexer', {
        ...(await serviceEnv('chain-indexer')),
        CHAIN_ENDPOINT: chain.endpoint,
        NETUIDS: String(netuid),
        START_BLOCK: '1',
      }),
    );
    billingEnv = await serviceEnv('billing');
    billing = await startApp('billing', billingEnv);
    apps.push(billing);
    schedulerEnv = {
      ...(await serviceEnv('scheduler')),
      NETUID: String(netuid),
      VALIDATOR_SEED: '//SchedulerValidator',
      INSTANCE_TOKEN_SECRET: SECRET,
      AXON_ADDRESS_MAP: addressMap.join(','),
      PLACEMENT_LEASE_TTL_MS: '1500',
      POLL_INTERVAL_MS: '1000',
      MINER_REQUEST_TIMEOUT_MS: '1000',
      MINER_UNREACHABLE_POLLS: '3',
      RECONCILE_INTERVAL_MS: '200',
      HEALTH_CHECK_INTERVAL_MS: '1000',
      HEALTH_FAILURE_THRESHOLD: '3',
      DRAIN_GRACE_MS: '200',
      MIN_INSTANCE_AGE_MS: '0',
      SCALE_DOWN_COOLDOWN_MS: '0',
      DEMAND_STALE_MS: '1000',
      GPU_CHARGE_INTERVAL_MS: '1000',
    };
    scheduler = await startApp('scheduler', schedulerEnv);
    apps.push(scheduler);

    nc = await connect({ servers: env.natsUrl });
    store = new EventStore({
      connection: nc,
      registry: new EventRegistry(eventContracts),
      namespace: env.namespace,
    });
    await store.ensureStreams();
    rpc = new RpcClient(nc, { subjectPrefix: env.namespace, defaultTimeoutMs: 15_000 });
    tail = await EventTail.follow(store, Streams.SCHEDULER);
    // A chain, three miners and three services start one after another: on two busy cores this
    // takes minutes.
  }, 480_000);

  afterAll(async () => {
    await tail?.close();
    for (const app of apps.reverse()) await app.stop().catch(() => undefined);
    for (const miner of miners.values()) await miner.stop().catch(() => undefined);
    await nc?.close();
    await chain?.stop();
    if (env && extraSchemas.length > 0) {
      const client = new pg.Client({ connectionString: env.databaseUrl });
      await client.connect();
      for (const schema of extraSchemas) await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
    await env?.cleanup();
    if (modelDir) await rm(modelDir, { recursive: true, force: true });
  });

  it('lands two replicas on two miners found on the chain; each data plane serves with its own token only', async () => {
    await rpc.call(CreateDeployment, deployment({ deploymentId: 'chat', minReplicas: 2, maxReplicas: 2 }));
    const ready = await tail.waitFor(InstanceReady, (event) => event.data.deploymentId === 'chat', {
      count: 2,
      timeoutMs: 120_000,
    });
    expect(new Set(ready.map((event) => event.data.minerHotkey)).size).toBe(2);
    for (const event of ready) expect(miners.has(event.data.minerHotkey)).toBe(true);

    const [first, second] = ready as [(typeof ready)[number], (typeof ready)[number]];
    const served = await chat(
      first.data.endpoint,
      first.data.model,
      instanceToken(SECRET, first.data.instanceId),
    );
    expect(served.status).toBe(200);
    const body = (await served.json()) as { choices: unknown[]; usage: { completion_tokens: number } };
    expect(body.choices).toHaveLength(1);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);

    expect((await chat(first.data.endpoint, first.data.model, undefined)).status).toBe(401);
    const othersToken = instanceToken(SECRET, second.data.instanceId);
    expect((await chat(first.data.endpoint, first.data.model, othersToken)).status).toBe(401);
    expect((await chat(first.data.endpoint, first.data.model, 'not-a-token')).status).toBe(401);
  });

  it('replaces the replica of a miner killed with SIGKILL on the third miner', async () => {
    const ready = tail.of(InstanceReady, (event) => event.data.deploymentId === 'chat');
    const victim = ready[0]!;
    const survivor = ready[1]!;
    const spare = [...miners.keys()].find(
      (hotkey) => hotkey !== victim.data.minerHotkey && hotkey !== survivor.data.minerHotkey,
    )!;
    await miners.get(victim.data.minerHotkey)!.process.kill('SIGKILL');

    const [lost] = await tail.waitFor(
      InstanceLost,
      (event) => event.data.instanceId === victim.data.instanceId,
    );
    expect(lost!.data.cause).toBe('unreachable');
    const [replacement] = await tail.waitFor(
      InstancePlaced,
      (event) => event.data.replacesInstanceId === victim.data.instanceId,
    );
    expect(replacement!.data.minerHotkey).toBe(spare);
    const [replaced] = await tail.waitFor(
      InstanceReady,
      (event) => event.data.instanceId === replacement!.data.instanceId,
      { timeoutMs: 120_000 },
    );
    expect(
      (
        await chat(
          replaced!.data.endpoint,
          replaced!.data.model,
          instanceToken(SECRET, replaced!.data.instanceId),
        )
      ).status,
    ).toBe(200);
    // The survivor was never touched.
    expect(tail.of(InstanceDraining, (event) => event.data.instanceId === survivor.data.instanceId)).toEqual(
      [],
    );

    await rpc.call(DeleteDeployment, { deploymentId: 'chat' });
    await eventually(async () => {
      const { instances } = await rpc.call(ListInstances, { deploymentId: 'chat' });
      return instances.length === 0 ? true : undefined;
    }, 'every replica of the deleted deployment stopped');
  });

  it('idles a deployment to zero and brings a replica back when demand appears', async () => {
    await rpc.call(
      CreateDeployment,
      deployment({
        deploymentId: 'idle',
        name: 'tiny-idle',
        minReplicas: 0,
        maxReplicas: 1,
        scaleToZeroAfterSeconds: 4,
      }),
    );
    expect(tail.of(InstancePlaced, (event) => event.data.deploymentId === 'idle')).toEqual([]);
    // A proxy reports queued requests every window until a replica serves them.
    const [first] = await whileReporting(
      'idle',
      { queued: 1, requests: 1 },
      tail.waitFor(InstanceReady, (event) => event.data.deploymentId === 'idle', { timeoutMs: 120_000 }),
    );
    const [up] = tail.of(DeploymentScaled, (event) => event.data.deploymentId === 'idle');
    expect(up!.data).toMatchObject({ toReplicas: 1, reason: 'scale-from-zero' });

    // No more demand: after scaleToZeroAfterSeconds the replica is drained and stopped.
    const [down] = await tail.waitFor(
      DeploymentScaled,
      (event) => event.data.deploymentId === 'idle' && event.data.toReplicas === 0,
    );
    expect(down!.data.reason).toBe('idle');
    await tail.waitFor(InstanceStopped, (event) => event.data.instanceId === first!.data.instanceId);
    expect(tail.of(InstancePlaced, (event) => event.data.deploymentId === 'idle')).toHaveLength(1);

    const back = await whileReporting(
      'idle',
      { queued: 1, requests: 1 },
      tail.waitFor(InstanceReady, (event) => event.data.deploymentId === 'idle', {
        count: 2,
        timeoutMs: 120_000,
      }),
    );
    expect(back[1]!.data.instanceId).not.toBe(first!.data.instanceId);
    await rpc.call(DeleteDeployment, { deploymentId: 'idle' });
  });

  it('scales up when in-flight requests pass half the capacity, and down again when they drop', async () => {
    await rpc.call(
      CreateDeployment,
      deployment({ deploymentId: 'busy', name: 'tiny-busy', concurrency: 2, minReplicas: 1, maxReplicas: 2 }),
    );
    const [first] = await tail.waitFor(InstanceReady, (event) => event.data.deploymentId === 'busy', {
      timeoutMs: 120_000,
    });
    // 2 in flight + 1 queued on one replica of concurrency 2: above 0.5 of its capacity.
    const [second] = await whileReporting(
      'busy',
      { inFlight: 2, queued: 1, requests: 5 },
      tail.waitFor(
        InstanceReady,
        (event) => event.data.deploymentId === 'busy' && event.data.instanceId !== first!.data.instanceId,
        { timeoutMs: 120_000 },
      ),
    );
    const [up] = tail.of(DeploymentScaled, (event) => event.data.deploymentId === 'busy');
    expect(up!.data).toMatchObject({ toReplicas: 2, reason: 'demand' });
    expect(second!.data.minerHotkey).not.toBe(first!.data.minerHotkey);

    // Still used, but below 0.2 of two replicas' capacity: one replica goes.
    const [drained] = await whileReporting(
      'busy',
      { inFlight: 0, queued: 0, requests: 1 },
      tail.waitFor(InstanceDraining, (event) => event.data.deploymentId === 'busy'),
    );
    expect(drained!.data.reason).toBe('scale-down');
    const scaled = tail.of(DeploymentScaled, (event) => event.data.deploymentId === 'busy');
    expect(scaled.map((event) => [event.data.toReplicas, event.data.reason])).toEqual([
      [2, 'demand'],
      [1, 'low-utilisation'],
    ]);
    await rpc.call(DeleteDeployment, { deploymentId: 'busy' });
    await eventually(async () => {
      const { instances } = await rpc.call(ListInstances, { deploymentId: 'busy' });
      return instances.length === 0 ? true : undefined;
    }, 'every replica of the busy deployment stopped');
  });

  it('charges a private deployment for exactly the GPU-seconds it was ready', async () => {
    await rpc.call(OpenAccount, { accountId: 'acct-gpu', name: 'GPU customer' });
    await rpc.call(CreditAccount, {
      accountId: 'acct-gpu',
      idempotencyKey: 'top-up-1',
      amount: '1000000000000',
      reason: 'test credit',
    });
    await rpc.call(SetGpuPrice, {
      gpuType: 'cpu',
      trainingNanoUsdPerHour: '3600',
      deploymentNanoUsdPerHour: '3600',
    });
    await rpc.call(
      CreateDeployment,
      deployment({
        deploymentId: 'private',
        name: 'tiny-private',
        ownerAccountId: 'acct-gpu',
        visibility: 'private',
        minReplicas: 1,
        maxReplicas: 1,
      }),
    );
    const [ready] = await tail.waitFor(InstanceReady, (event) => event.data.deploymentId === 'private', {
      timeoutMs: 120_000,
    });
    // Up for a few charging intervals, then deleted.
    await eventually(
      async () => (Date.now() - Date.parse(ready!.data.at) > 3_500 ? true : undefined),
      'three intervals passed',
    );
    await rpc.call(DeleteDeployment, { deploymentId: 'private' });
    const [draining] = await tail.waitFor(
      InstanceDraining,
      (event) => event.data.instanceId === ready!.data.instanceId,
    );
    const expected =
      Math.floor((Date.parse(draining!.data.at) - Date.parse(ready!.data.at)) / 1_000) * ready!.data.gpuCount;
    expect(expected).toBeGreaterThanOrEqual(3);

    let seen: unknown;
    const usage = await eventually(
      async () => {
        const { rows } = await rpc.call(GetUsage, {
          accountId: 'acct-gpu',
          from: firstDay,
          to: utcDay(),
          groupBy: 'item',
        });
        seen = rows;
        const row = rows.find((candidate) => candidate.item === 'cpu');
        return row && Number(row.gpuSeconds) === expected ? row : undefined;
      },
      () => `usage of ${expected} GPU-seconds (last seen ${JSON.stringify(seen)})`,
    );
    // 1 nano-USD per GPU-second at this price.
    expect(usage.amount).toBe(String(expected));
    // It stays exact: nothing is charged again once the instance has stopped.
    await tail.waitFor(InstanceStopped, (event) => event.data.instanceId === ready!.data.instanceId);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const { rows } = await rpc.call(GetUsage, {
      accountId: 'acct-gpu',
      from: firstDay,
      to: utcDay(),
      groupBy: 'item',
    });
    expect(rows.find((row) => row.item === 'cpu')?.gpuSeconds).toBe(String(expected));
  });

  it('hands over to a standby when the scheduler is killed with SIGKILL: the replica is adopted, its GPU-seconds charged once', async () => {
    const charged = async (): Promise<number> => {
      const { rows } = await rpc.call(GetUsage, {
        accountId: 'acct-gpu',
        from: firstDay,
        to: utcDay(),
        groupBy: 'item',
      });
      return Number(rows.find((row) => row.item === 'cpu')?.gpuSeconds ?? 0);
    };
    const before = await charged();
    const standby = await startApp('scheduler', schedulerEnv, { name: 'scheduler-standby' });
    apps.push(standby);
    await rpc.call(
      CreateDeployment,
      deployment({
        deploymentId: 'crash',
        name: 'tiny-crash',
        ownerAccountId: 'acct-gpu',
        visibility: 'private',
        minReplicas: 1,
        maxReplicas: 1,
      }),
    );
    const [ready] = await tail.waitFor(InstanceReady, (event) => event.data.deploymentId === 'crash', {
      timeoutMs: 120_000,
    });
    await eventually(
      async () => ((await charged()) > before ? true : undefined),
      'charged by the first scheduler',
    );

    await scheduler.process.kill('SIGKILL');
    // The standby takes the lease, adopts the instance and charges it on; then it handles the delete.
    await eventually(
      async () => (Date.now() - Date.parse(ready!.data.at) > 5_000 ? true : undefined),
      'the replica ran on under the standby',
    );
    await rpc.call(DeleteDeployment, { deploymentId: 'crash' });
    const [draining] = await tail.waitFor(
      InstanceDraining,
      (event) => event.data.instanceId === ready!.data.instanceId,
    );
    await tail.waitFor(InstanceStopped, (event) => event.data.instanceId === ready!.data.instanceId);
    const expected = Math.floor((Date.parse(draining!.data.at) - Date.parse(ready!.data.at)) / 1_000);
    await eventually(
      async () => ((await charged()) === before + expected ? true : undefined),
      `${expected} more GPU-seconds charged`,
    );
    // Adopted, never replaced nor lost: one placement, and nothing charged twice.
    expect(tail.of(InstancePlaced, (event) => event.data.deploymentId === 'crash')).toHaveLength(1);
    expect(tail.of(InstanceLost, (event) => event.data.deploymentId === 'crash')).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await charged()).toBe(before + expected);
  });

  it('keeps the GPU-seconds of a billing outage and charges them once billing is back', async () => {
    const charged = async (): Promise<number> => {
      const { rows } = await rpc.call(GetUsage, {
        accountId: 'acct-gpu',
        from: firstDay,
        to: utcDay(),
        groupBy: 'item',
      });
      return Number(rows.find((row) => row.item === 'cpu')?.gpuSeconds ?? 0);
    };
    const before = await charged();
    await rpc.call(
      CreateDeployment,
      deployment({
        deploymentId: 'outage',
        name: 'tiny-outage',
        ownerAccountId: 'acct-gpu',
        visibility: 'private',
        minReplicas: 1,
        maxReplicas: 1,
      }),
    );
    const [ready] = await tail.waitFor(InstanceReady, (event) => event.data.deploymentId === 'outage', {
      timeoutMs: 120_000,
    });
    await billing.process.kill('SIGKILL');
    // Intervals complete while nobody answers chargeGpuUsage.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await rpc.call(DeleteDeployment, { deploymentId: 'outage' });
    const [draining] = await tail.waitFor(
      InstanceDraining,
      (event) => event.data.instanceId === ready!.data.instanceId,
    );
    billing = await startApp('billing', billingEnv, { name: 'billing-restarted' });
    apps.push(billing);
    const expected = Math.floor((Date.parse(draining!.data.at) - Date.parse(ready!.data.at)) / 1_000);
    expect(expected).toBeGreaterThanOrEqual(3);
    await eventually(
      async () => ((await charged()) === before + expected ? true : undefined),
      `${expected} GPU-seconds charged after the outage`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await charged()).toBe(before + expected);
  });
});
