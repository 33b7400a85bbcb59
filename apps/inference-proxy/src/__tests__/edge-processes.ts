/** The proxy's neighbours as real processes: billing, a miner-agent with the tiny model, the proxy itself. */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadKeypair, signRequest } from '@tessera/bittensor';
import {
  EventRegistry,
  InstanceReady,
  InstanceStopped,
  Streams,
  eventContracts,
  instanceStatusSchema,
  instanceStreamId,
  instanceToken,
  minerDataPlaneBasePath,
  type Event,
  type LaunchInstanceRequest,
} from '@tessera/contracts';
import {
  findFreePort,
  sleep,
  startManagedProcess,
  waitForPort,
  type ManagedProcess,
} from '@tessera/devservers';
import { EventStore } from '@tessera/eventstore';
import { RpcClient } from '@tessera/platform/messaging';
import { type TestEnvironment } from '@tessera/testkit';
import { writeTinyModel } from '@tessera/tiny-model';

export const PEPPER = 'proxy-test-pepper-0123456789abcdef';
export const INSTANCE_SECRET = 'proxy-test-instance-token-secret-0123456789';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const PROXY_MAIN = here('../../dist/main.js');
// Sibling apps run from their builds, as processes: the proxy's tests import none of their code.
const BILLING_MAIN = here('../../../billing/dist/main.js');
const MINER_MAIN = here('../../../miner-agent/dist/main.js');

function requireBuilt(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run npx turbo run build first`);
  return path;
}

async function waitReady(
  name: string,
  child: ManagedProcess,
  port: number,
  path: string,
  timeoutMs = 90_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitInfo()) throw new Error(`${name} exited during start-up:\n${child.recentOutput()}`);
    const ok = await fetch(`http://127.0.0.1:${port}${path}`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready:\n${child.recentOutput()}`);
    await sleep(100);
  }
}

function baseEnv(env: TestEnvironment, name: string, port: number): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '/tmp',
    SERVICE_NAME: name,
    NODE_ENV: 'test',
    NATS_URL: env.natsUrl,
    NATS_SUBJECT_PREFIX: env.namespace,
    HTTP_PORT: String(port),
    LOG_LEVEL: 'warn',
  };
}

/** Billing (built `dist/main.js`) on the test's servers. */
export async function startBillingProcess(
  env: TestEnvironment,
  extra: Record<string, string> = {},
): Promise<ManagedProcess> {
  const port = await findFreePort();
  const child = startManagedProcess({
    name: 'billing',
    command: process.execPath,
    args: [requireBuilt(BILLING_MAIN)],
    env: {
      ...baseEnv(env, 'billing', port),
      CONSUMER_LEASE_TTL_MS: '1500',
      DATABASE_URL: env.databaseUrl,
      DATABASE_SCHEMA: env.schema,
      API_KEY_PEPPER: PEPPER,
      DEPOSIT_SEED: '//TesseraProxyTestSeed',
      ...extra,
    },
  });
  await waitReady('billing', child, port, '/health/ready');
  return child;
}

/** A running proxy and where it answers. */
export interface ProxyProcess {
  process: ManagedProcess;
  baseUrl: string;
}

export async function startProxyProcess(
  env: TestEnvironment,
  extra: Record<string, string> = {},
): Promise<ProxyProcess> {
  const port = await findFreePort();
  const child = startManagedProcess({
    name: 'inference-proxy',
    command: process.execPath,
    args: [requireBuilt(PROXY_MAIN)],
    env: {
      ...baseEnv(env, 'inference-proxy', port),
      PUBLIC_HOST: '127.0.0.1',
      API_KEY_PEPPER: PEPPER,
      INSTANCE_TOKEN_SECRET: INSTANCE_SECRET,
      PROXY_REPLICA: 'proxy-a',
      SETTLE_INTERVAL_MS: '300',
      ...extra,
    },
    pipeOutput: process.env['TESSERA_PROXY_LOG'] === '1',
  });
  await waitReady('inference-proxy', child, port, '/health/ready');
  return { process: child, baseUrl: `http://127.0.0.1:${port}` };
}

/** Which deployment an instance serves, under which model name, how many requests at once. */
export interface Placement {
  deploymentId?: string;
  model?: string;
  concurrency?: number;
}

/** A miner-agent with the tiny model, and the instances it runs. */
export interface MinerHarness {
  process: ManagedProcess;
  baseUrl: string;
  hotkey: string;
  modelSha256: string;
  /** Launches an instance (signed as the validator) and waits until it is ready. */
  launch(instanceId: string, placement?: Placement): Promise<void>;
  stop(): Promise<void>;
}

export async function startMiner(seed: number, minerUri: string): Promise<MinerHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'proxy-miner-'));
  const modelPath = join(dir, 'tiny.gguf');
  const modelSha256 = await writeTinyModel(modelPath, { seed });
  const validator = (await loadKeypair({ seed: '//ProxyTestValidator' }, 42))!;
  const miner = (await loadKeypair({ seed: minerUri }, 42))!;
  const [minerPort, httpPort] = [await findFreePort(), await findFreePort()];
  const child = startManagedProcess({
    name: 'miner-agent',
    command: process.execPath,
    args: [requireBuilt(MINER_MAIN)],
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      MINER_HOST: '127.0.0.1',
      MINER_PORT: String(minerPort),
      HTTP_PORT: String(httpPort),
      MINER_HOTKEY_SEED: minerUri,
      ALLOWED_VALIDATOR_HOTKEYS: validator.address,
      GPUS: '2xcpu:0',
      MODEL_CACHE_DIR: join(dir, 'cache'),
    },
  });
  await waitForPort('127.0.0.1', minerPort, 60_000, () =>
    child.exitInfo() ? new Error(`miner-agent exited:\n${child.recentOutput()}`) : undefined,
  );
  const baseUrl = `http://127.0.0.1:${minerPort}`;
  const signed = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers = signRequest({ signer: validator, minerHotkey: miner.address, body: text });
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: text }),
    });
    return (await response.json()) as unknown;
  };
  let nextGpu = 0;
  return {
    process: child,
    baseUrl,
    hotkey: miner.address,
    modelSha256,
    async launch(instanceId, placement = {}) {
      const request: LaunchInstanceRequest = {
        instanceId,
        deploymentId: placement.deploymentId ?? 'dep-tiny',
        model: { name: placement.model ?? 'tiny-chat', uri: `file://${modelPath}`, sha256: modelSha256 },
        engine: { name: 'llama' },
        gpus: [nextGpu++],
        concurrency: placement.concurrency ?? 4,
        dataPlaneToken: instanceToken(INSTANCE_SECRET, instanceId),
      };
      await signed('POST', '/instances', request);
      for (let attempt = 0; attempt < 600; attempt++) {
        const status = instanceStatusSchema.parse(await signed('GET', `/instances/${instanceId}`));
        if (status.state === 'ready') return;
        if (status.state !== 'starting')
          throw new Error(`instance ${instanceId} is ${status.state}: ${status.reason}`);
        await sleep(100);
      }
      throw new Error(`instance ${instanceId} not ready`);
    },
    async stop() {
      await child.stop('SIGTERM', 10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The test's own NATS view: RPC to billing, and an event store to publish what the scheduler would. */
export interface Outside {
  nc: NatsConnection;
  rpc: RpcClient;
  store: EventStore;
  /** Publishes `scheduler.InstanceReady` for an instance of `miner` (the scheduler's job, done by the test). */
  instanceReady(miner: MinerHarness, instanceId: string, placement?: Placement): Promise<void>;
  /** Publishes `scheduler.InstanceStopped` (the instance leaves the routing table). */
  instanceStopped(miner: MinerHarness, instanceId: string, placement?: Placement): Promise<void>;
  /** The INFERENCE stream's messages after sequence `after`, each with the events it carries. */
  inferenceMessages(after?: number): Promise<{ seq: number; events: Event[] }[]>;
  /** Every event on the INFERENCE stream, in order. */
  inferenceEvents(): Promise<Event[]>;
  close(): Promise<void>;
}

export async function outside(env: TestEnvironment): Promise<Outside> {
  const nc = await connect(env.natsConnectionOptions);
  const rpc = new RpcClient(nc, { subjectPrefix: env.namespace, defaultTimeoutMs: 15_000 });
  const store = new EventStore({
    connection: nc,
    registry: new EventRegistry(eventContracts),
    namespace: env.namespace,
  });
  await store.ensureStreams([Streams.SCHEDULER, Streams.INFERENCE]);
  const inferenceMessages = async (after = 0) => {
    const jsm = await store.manager();
    const stream = store.namespace.streamName(Streams.INFERENCE);
    const last = (await jsm.streams.info(stream)).state.last_seq;
    const messages: { seq: number; events: Event[] }[] = [];
    for (let seq = after + 1; seq <= last; seq++) {
      const body = (await jsm.streams.getMessage(stream, { seq }))?.json<{ events?: unknown[] }>();
      messages.push({ seq, events: (body?.events ?? []).map((raw) => store.decoder.decode(raw)) });
    }
    return messages;
  };
  return {
    nc,
    rpc,
    store,
    async instanceReady(miner, instanceId, placement = {}) {
      const event = InstanceReady.create({
        instanceId,
        deploymentId: placement.deploymentId ?? 'dep-tiny',
        minerHotkey: miner.hotkey,
        gpuType: 'cpu',
        gpuCount: 1,
        at: new Date().toISOString(),
        generation: 1,
        model: placement.model ?? 'tiny-chat',
        endpoint: `${miner.baseUrl}${minerDataPlaneBasePath(instanceId)}`,
        concurrency: placement.concurrency ?? 4,
        modelSha256: miner.modelSha256,
      });
      await store.append(instanceStreamId(instanceId), [event]);
    },
    async instanceStopped(miner, instanceId, placement = {}) {
      const event = InstanceStopped.create({
        instanceId,
        deploymentId: placement.deploymentId ?? 'dep-tiny',
        minerHotkey: miner.hotkey,
        gpuType: 'cpu',
        gpuCount: 1,
        at: new Date().toISOString(),
        reason: 'scale-down',
      });
      await store.append(instanceStreamId(instanceId), [event]);
    },
    inferenceMessages,
    inferenceEvents: async () => (await inferenceMessages()).flatMap((message) => message.events),
    close: () => nc.close(),
  };
}
