import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AggregateCache } from './aggregate-cache.js';
import { SnapshotStore } from './snapshots/snapshot-store.js';
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

describe('AggregateCache reads', () => {
  it('answers a read of a cached aggregate at once, even while its write is stuck', async () => {
    const streamId = counterStreamId('stuck-write');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = Object.create(h.store) as typeof h.store;
    slow.append = async (...args) => {
      await gate;
      return h.store.append(...args);
    };
    const cache = new AggregateCache(slow, counterDecider);
    await cache.read(streamId);
    const write = cache.execute(streamId, { kind: 'increment', counterId: 'stuck-write', by: 1 });
    // The write waits on NATS (the gate); the read must not wait behind it.
    const read = await Promise.race([
      cache.read(streamId),
      new Promise((resolve) => setTimeout(() => resolve('blocked'), 1_000)),
    ]);
    expect(read).toEqual({ total: 0 });
    release();
    await expect(write).resolves.toMatchObject({ state: { total: 1 } });
  });
});

describe('AggregateCache snapshots', () => {
  const snapshotOptions = (store: SnapshotStore, schemaVersion = 1) => ({
    store,
    every: 10,
    schemaVersion,
    encode: (state: { total: number }) => ({ total: state.total }),
    decode: (encoded: unknown) => ({ total: (encoded as { total: number }).total }),
  });

  it('loads from the newest snapshot plus the events after it, to the same state as a full replay', async () => {
    const snapshots = new SnapshotStore(h.nc, h.store.namespace);
    const streamId = counterStreamId('snapshotted');
    const writer = new AggregateCache(h.store, counterDecider, { snapshots: snapshotOptions(snapshots) });
    for (let index = 1; index <= 25; index += 1)
      await writer.execute(streamId, { kind: 'increment', counterId: 'snapshotted', by: index });
    // Snapshots are written in the background.
    let stored = await snapshots.load('billing', streamId);
    for (let attempt = 0; attempt < 50 && stored?.position.version !== 20; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stored = await snapshots.load('billing', streamId);
    }
    expect(stored).toMatchObject({ schemaVersion: 1, position: { version: 20 }, state: { total: 210 } });

    const reads = vi.spyOn(h.store, 'readStream');
    const fresh = new AggregateCache(h.store, counterDecider, { snapshots: snapshotOptions(snapshots) });
    expect(await fresh.read(streamId)).toEqual({ total: 325 });
    expect(reads).toHaveBeenCalledWith(streamId, { after: stored?.position });
    reads.mockRestore();
    const replayed = await new AggregateCache(h.store, counterDecider).read(streamId);
    expect(replayed).toEqual({ total: 325 });
    // And it keeps deciding from there.
    await fresh.execute(streamId, { kind: 'increment', counterId: 'snapshotted', by: 1 });
    expect((await h.store.readStream(streamId)).events).toHaveLength(26);
  });

  it('ignores a snapshot of another schema version and one it cannot read, replaying the stream instead', async () => {
    const snapshots = new SnapshotStore(h.nc, h.store.namespace);
    const streamId = counterStreamId('snapshot-versions');
    const writer = new AggregateCache(h.store, counterDecider, { snapshots: snapshotOptions(snapshots, 1) });
    for (let index = 0; index < 12; index += 1)
      await writer.execute(streamId, { kind: 'increment', counterId: 'snapshot-versions', by: 1 });
    const newer = new AggregateCache(h.store, counterDecider, {
      snapshots: { ...snapshotOptions(snapshots, 2), decode: () => ({ total: -1 }) },
    });
    expect(await newer.read(streamId)).toEqual({ total: 12 });
    await snapshots.save('billing', streamId, {
      schemaVersion: 1,
      position: { sequence: 1, version: 1 },
      state: null,
    });
    const broken = new AggregateCache(h.store, counterDecider, {
      snapshots: {
        ...snapshotOptions(snapshots, 1),
        decode: () => {
          throw new Error('bad snapshot');
        },
      },
    });
    expect(await broken.read(streamId)).toEqual({ total: 12 });
  });
});
