import { connect, type NatsConnection } from '@nats-io/transport-node';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lease } from './lease.js';

let env: TestEnvironment;
let nc: NatsConnection;
const opened: Lease[] = [];

beforeAll(async () => {
  env = await useTestEnvironment();
  nc = await connect({ servers: env.natsUrl });
});
afterAll(async () => {
  for (const lease of opened) lease.abandon();
  await nc.drain();
  await env.cleanup();
});

async function lease(name: string, holder: string, ttlMs = 1_000): Promise<Lease> {
  const created = await Lease.open(nc, { name, holder, ttlMs, namespace: env.namespace });
  opened.push(created);
  return created;
}

const until = async (condition: () => boolean, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('Lease', () => {
  it('is held by exactly one of several instances competing at once', async () => {
    const contenders = await Promise.all(['a', 'b', 'c', 'd'].map((holder) => lease('race', holder)));
    const results = await Promise.all(contenders.map((contender) => contender.start()));
    expect(results.filter(Boolean)).toHaveLength(1);
    // Renewals keep it with the same holder.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(contenders.filter((contender) => contender.isHeld)).toHaveLength(1);
    expect(contenders.findIndex((contender) => contender.isHeld)).toBe(results.indexOf(true));
  });

  it('passes to another instance once the holder stops renewing (a crash)', async () => {
    const first = await lease('crash', 'first');
    const second = await lease('crash', 'second');
    expect(await first.start()).toBe(true);
    expect(await second.start()).toBe(false);
    first.abandon();
    await until(() => second.isHeld, 5_000);
    expect(first.isHeld).toBe(false);
  });

  it('passes at the next renewal when the holder releases it, well before the TTL', async () => {
    const first = await lease('handover', 'first', 6_000);
    const second = await lease('handover', 'second', 6_000);
    expect(await first.start()).toBe(true);
    expect(await second.start()).toBe(false);
    await first.release();
    await until(() => second.isHeld, 4_000);
  });

  it('a restarted holder takes its own lease back while the key is still alive', async () => {
    const before = await lease('restart', 'indexer@host-1', 30_000);
    const other = await lease('restart', 'indexer@host-2', 30_000);
    expect(await before.start()).toBe(true);
    before.abandon();
    const restarted = await lease('restart', 'indexer@host-1', 30_000);
    expect(await restarted.start()).toBe(true);
    expect(await other.start()).toBe(false);
  });
});
