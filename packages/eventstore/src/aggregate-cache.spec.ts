import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AggregateCache } from './aggregate-cache.js';
import { counterDecider, counterStreamId } from './__tests__/counter.fixture.js';
import { openHarness, type Harness } from './__tests__/harness.fixture.js';

let h: Harness;
beforeAll(async () => {
  h = await openHarness({ withDatabase: false });
});
afterAll(() => h.close());

describe('AggregateCache', () => {
  it('reads an aggregate once, then decides on the cached state', async () => {
    const cache = new AggregateCache(h.store, counterDecider);
    const reads = vi.spyOn(h.store, 'readStream');
    const streamId = counterStreamId('cached');
    for (let index = 0; index < 5; index += 1) {
      await cache.execute(streamId, { kind: 'increment', counterId: 'cached', by: 2 });
    }
    expect(reads).toHaveBeenCalledTimes(1);
    reads.mockRestore();
    expect(await cache.read(streamId)).toEqual({ total: 10 });
  });

  it('queues commands on one aggregate in-process instead of racing itself', async () => {
    const cache = new AggregateCache(h.store, counterDecider);
    const streamId = counterStreamId('queued');
    const appends = vi.spyOn(h.store, 'append');
    await Promise.all(
      Array.from({ length: 20 }, () =>
        cache.execute(streamId, { kind: 'increment', counterId: 'queued', by: 1 }),
      ),
    );
    // One append per command: none of them lost a race against a sibling in this process.
    expect(appends).toHaveBeenCalledTimes(20);
    appends.mockRestore();
    expect((await h.store.readStream(streamId)).events).toHaveLength(20);
  });

  it('a write by another process makes the stale cache reload and decide again, losing nothing', async () => {
    const streamId = counterStreamId('stale-cache');
    const replicaA = new AggregateCache(h.store, counterDecider);
    const replicaB = new AggregateCache(h.store, counterDecider);
    await replicaA.execute(streamId, { kind: 'increment', counterId: 'stale-cache', by: 1 });
    await replicaB.execute(streamId, { kind: 'increment', counterId: 'stale-cache', by: 10 });
    // replicaA's cache still says total 1 at the old position; its append conflicts, it reloads.
    const result = await replicaA.execute(streamId, { kind: 'increment', counterId: 'stale-cache', by: 100 });
    expect(result.state).toEqual({ total: 111 });
    const stored = await h.store.readStream(streamId);
    expect(stored.events.map((event) => (event.data as { by: number }).by)).toEqual([1, 10, 100]);
  });

  it('a decision with no events appends nothing and keeps the state', async () => {
    const cache = new AggregateCache(h.store, counterDecider);
    const streamId = counterStreamId('cache-no-op');
    const result = await cache.execute(streamId, { kind: 'reset', counterId: 'cache-no-op' });
    expect(result).toEqual({ state: { total: 0 }, events: [] });
    expect((await h.store.readStream(streamId)).events).toHaveLength(0);
  });

  it('propagates a domain refusal unchanged', async () => {
    const cache = new AggregateCache(h.store, {
      ...counterDecider,
      decide: () => {
        throw new RangeError('refused');
      },
    });
    await expect(
      cache.execute(counterStreamId('refused'), { kind: 'reset', counterId: 'refused' }),
    ).rejects.toThrow('refused');
  });
});
