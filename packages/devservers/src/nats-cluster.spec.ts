// Three real nats-server processes with routes: an R3 stream keeps every acknowledged message
// when the node leading it is killed, and takes writes again once the others elect a new leader.
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsClusterHandle } from './nats-cluster.js';
import { sleep } from './process.js';

describe('startNatsCluster', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    cluster = await startNatsCluster({ nodes: 3, pipeOutput: process.env['TESSERA_DEVSERVERS_LOG'] === '1' });
    // A comma-separated list, as NATS_URL takes it: the client fails over between the nodes.
    nc = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('runs separate nodes with their own ports and stores', () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(3);
    expect(new Set(cluster.nodes.map((node) => node.storeDir)).size).toBe(3);
    expect(cluster.nodes.map((node) => node.serverName)).toEqual(['node-1', 'node-2', 'node-3']);
  });

  it('keeps every acknowledged write of an R3 stream when its leader is killed, and resumes writes', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'FAILOVER', subjects: ['failover.>'], num_replicas: 3 });
    const js = jetstream(nc);
    const acknowledged = new Set<number>();
    let attempts = 0;
    let failures = 0;

    // One writer keeps appending through the whole failover; each payload says its own number.
    let writing = true;
    const writer = (async () => {
      while (writing) {
        attempts += 1;
        if (await publishOnce(js, attempts)) acknowledged.add(attempts);
        else failures += 1;
      }
    })();

    while (acknowledged.size < 50) await sleep(10);
    const leader = await cluster.streamLeader('FAILOVER');
    await leader.kill();
    const ackedBeforeKill = acknowledged.size;

    const newLeader = await cluster.streamLeader('FAILOVER');
    expect(newLeader.serverName).not.toBe(leader.serverName);
    // Writes resume on the new leader.
    while (acknowledged.size < ackedBeforeKill + 50) await sleep(10);
    writing = false;
    await writer;

    // Every acknowledged payload is in the stream exactly once.
    const stored = await readAll(nc, 'FAILOVER');
    const counts = new Map<number, number>();
    for (const value of stored) counts.set(value, (counts.get(value) ?? 0) + 1);
    const lost = [...acknowledged].filter((value) => !counts.has(value));
    const doubled = [...counts].filter(([, count]) => count > 1);
    expect({ lost, doubled }).toEqual({ lost: [], doubled: [] });
    expect(failures).toBeLessThan(attempts);

    // The killed node comes back, catches up and holds the same messages.
    await leader.restart();
    const caughtUp = await connect({ servers: leader.url });
    try {
      const info = await waitForReplicaCurrent(caughtUp, 'FAILOVER', stored.length);
      expect(info).toBe(stored.length);
    } finally {
      await caughtUp.close();
    }
  }, 120_000);
});

/** One append with a message id (a retried append of the same number is a no-op); false when it was not acknowledged. */
async function publishOnce(js: JetStreamClient, value: number): Promise<boolean> {
  try {
    await js.publish('failover.event', JSON.stringify(value), { msgID: `event-${value}`, timeout: 2_000 });
    return true;
  } catch {
    // No leader during the election, or the connection moving to another node.
    await sleep(50);
    return false;
  }
}

async function readAll(nc: NatsConnection, stream: string): Promise<number[]> {
  const consumer = await untilAccepted(() => jetstream(nc).consumers.get(stream));
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  const values: number[] = [];
  while (values.length < info.state.messages) {
    const message = await consumer.next({ expires: 5_000 });
    if (!message)
      throw new Error(`stream ${stream} delivered ${values.length} of ${info.state.messages} messages`);
    values.push(message.json<number>());
  }
  return values;
}

/** The restarted node's replica, asked through a connection to it, reports the stream's messages. */
async function waitForReplicaCurrent(nc: NatsConnection, stream: string, expected: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const info = await jsm.streams.info(stream).catch(() => undefined);
    const replicas = info?.cluster?.replicas ?? [];
    if (info && info.state.messages === expected && replicas.every((replica) => replica.current)) {
      return info.state.messages;
    }
    if (Date.now() > deadline)
      throw new Error(`replicas of ${stream} not current: ${JSON.stringify(info?.cluster)}`);
    await sleep(200);
  }
}

/**
 * Creating a consumer needs the cluster's meta leader; when the killed node held that role too,
 * the request times out until the others have elected a new one.
 */
async function untilAccepted<T>(attempt: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}
