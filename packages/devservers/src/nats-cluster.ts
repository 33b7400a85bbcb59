import { jetstreamManager, JetStreamApiError, StorageType } from '@nats-io/jetstream';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from './nats.js';
import { type NatsConfigValue } from './nats-config.js';
import { findFreePort, sleep } from './process.js';

/** Options for {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** How many nodes; 3 by default (the smallest cluster that keeps a JetStream quorum through a node loss). */
  nodes?: number;
  /** An `authorization` block for every node (see `natsAuthorization`). */
  authorization?: Record<string, NatsConfigValue>;
  /** Credentials the cluster helpers connect with when `authorization` is set (an unrestricted user). */
  connectionOptions?: Partial<ConnectionOptions>;
  /** fsync every write, as the deployments do. */
  syncAlways?: boolean;
  pipeOutput?: boolean;
  /** How long to wait for the cluster to elect a JetStream meta leader and gather every node; 60 s by default. */
  readyTimeoutMs?: number;
}

/** A local JetStream cluster: one nats-server process per node, each killable and restartable. */
export interface NatsClusterHandle {
  /** The nodes, in start order (`node-1`, `node-2`, …). */
  readonly nodes: readonly NatsServerHandle[];
  /** Every node's client URL, comma-separated: what `NATS_URL` takes. */
  readonly url: string;
  /** Every node's client URL. */
  readonly urls: readonly string[];
  /** The node that leads `stream` now; waits while an election is in progress. */
  streamLeader(stream: string, timeoutMs?: number): Promise<NatsServerHandle>;
  /** Stops every node and removes their stores. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const CLUSTER_NAME = 'tessera-test';

/**
 * Starts a JetStream cluster of local nats-server processes (own ports, own store directories,
 * full mesh of routes) and waits until it has a JetStream meta leader, so streams can be created
 * at once. Kill a node with `nodes[i].kill()` and bring it back with `restart()`.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const size = options.nodes ?? 3;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`a cluster needs at least one node, not ${size}`);
  // Now and then (about 1 start in 10 here) nodes started together elect a meta leader that never
  // counts one of them as a JetStream peer ("no suitable peers" for a stream on every node, for
  // good). A cluster that has not gathered every peer within a few seconds is started again,
  // from fresh ports and stores, until the overall timeout.
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    const attemptMs = Math.min(FORMATION_ATTEMPT_MS, deadline - Date.now());
    try {
      return await startClusterOnce(size, options, attemptMs);
    } catch (err) {
      if (Date.now() + 1_000 >= deadline) throw err;
    }
  }
}

/** How long one start waits for every node to join before it is given up and started again. */
const FORMATION_ATTEMPT_MS = 15_000;

async function startClusterOnce(
  size: number,
  options: NatsClusterOptions,
  readyTimeoutMs: number,
): Promise<NatsClusterHandle> {
  const ports = await distinctFreePorts(size * 2);
  const clientPorts = ports.slice(0, size);
  const routePorts = ports.slice(size);
  const routes = routePorts.map((port) => `nats-route://${HOST}:${port}`);

  const started = await Promise.allSettled(
    clientPorts.map((port, index) =>
      startNatsServer({
        host: HOST,
        port,
        serverName: `node-${index + 1}`,
        label: `nats-${index + 1}`,
        cluster: { name: CLUSTER_NAME, listen: `${HOST}:${routePorts[index]}`, routes },
        ...(options.authorization ? { authorization: options.authorization } : {}),
        syncAlways: options.syncAlways ?? false,
        pipeOutput: options.pipeOutput ?? false,
      }),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.allSettled(nodes.map((node) => node.stop()));
    throw failed.reason;
  }

  const urls = nodes.map((node) => node.url);
  const withConnection = async <T>(work: (nc: NatsConnection) => Promise<T>): Promise<T> => {
    const running = nodes.filter((node) => node.isRunning()).map((node) => node.url);
    const nc = await connect({ servers: running, ...options.connectionOptions });
    try {
      return await work(nc);
    } finally {
      await nc.close();
    }
  };

  const cluster: NatsClusterHandle = {
    nodes,
    urls,
    url: urls.join(','),
    async streamLeader(stream: string, timeoutMs = 30_000) {
      return await withConnection(async (nc) => {
        const jsm = await jetstreamManager(nc, { checkAPI: false });
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const info = await jsm.streams.info(stream).catch((err: unknown) => {
            // No leader (an election is running) answers with an error or not at all: ask again.
            if (err instanceof JetStreamApiError && err.code === 10059) throw err;
            return undefined;
          });
          const leader = nodes.find((node) => node.serverName === info?.cluster?.leader);
          if (leader?.isRunning()) return leader;
          if (Date.now() > deadline) throw new Error(`stream ${stream} has no leader after ${timeoutMs} ms`);
          await sleep(100);
        }
      });
    },
    async stop() {
      await Promise.allSettled(nodes.map((node) => node.stop()));
    },
  };

  try {
    await waitForMetaLeader(withConnection, readyTimeoutMs, size);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/**
 * Ready means the cluster has a JetStream meta leader *and* every node joined it as a peer:
 * JetStream answers account info once a meta leader exists, but a stream with one replica per
 * node is only placed ("no suitable peers" before) when all of them are in. A probe stream of
 * that size is created and removed.
 */
async function waitForMetaLeader(
  withConnection: <T>(work: (nc: NatsConnection) => Promise<T>) => Promise<T>,
  timeoutMs: number,
  peers: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const ready = await withConnection(async (nc) => {
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      await jsm.getAccountInfo();
      const probe = `cluster_ready_probe_${process.pid}`;
      await jsm.streams.add({
        name: probe,
        subjects: [`${probe}.>`],
        num_replicas: peers,
        storage: StorageType.Memory,
      });
      await jsm.streams.delete(probe);
      return true;
    }).catch((err: unknown) => {
      lastError = err;
      return false;
    });
    if (ready) return;
    await sleep(200);
  }
  throw new Error(
    `the NATS cluster had no JetStream meta leader with every node as a peer within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

/** Free ports, all different (each probe's port is released before the next is asked for). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await findFreePort(HOST));
  return [...ports];
}
