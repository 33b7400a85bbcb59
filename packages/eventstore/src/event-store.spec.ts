import { ErrorCode, isValidationError, streamIdOf, Streams } from '@tessera/contracts';
import { FakeClock } from '@tessera/testkit';
import { headers } from '@nats-io/transport-node';
import { StorageType } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AggregateCache } from './aggregate-cache.js';
import { isConcurrencyConflict, isConcurrencyExhausted } from './errors.js';
import { NO_STREAM } from './event-store.js';
import { driftOf } from './streams/ensure-streams.js';
import { CounterIncremented, counterDecider, counterStreamId } from './__tests__/counter.fixture.js';
import { openHarness, type Harness } from './__tests__/harness.fixture.js';

let h: Harness;
const clock = new FakeClock(new Date('2026-11-25T12:00:00.000Z'));

beforeAll(async () => {
  h = await openHarness({ clock, withDatabase: false });
});
afterAll(() => h.close());

async function storedCount(): Promise<number> {
  const jsm = await h.store.manager();
  const info = await jsm.streams.info(h.store.namespace.streamName(Streams.BILLING));
  return info.state.messages;
}

const increment = (counterId: string, by = 1) => CounterIncremented.create({ counterId, by, note: '' });

describe('EventStore.append and readStream', () => {
  it('stores events in order with a full envelope and reads them back', async () => {
    const streamId = counterStreamId('read-back');
    const result = await h.store.append(streamId, [increment('read-back', 1), increment('read-back', 2)], {
      expected: NO_STREAM,
      correlationId: 'corr-1',
      actor: 'operator:cli',
    });
    expect(result.position.version).toBe(2);

    const state = await h.store.readStream(streamId);
    expect(state.position).toEqual(result.position);
    expect(state.events.map((event) => [event.sequence, (event.data as { by: number }).by])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(state.events[0]).toMatchObject({
      type: 'billing.CounterIncremented',
      version: 2,
      streamId,
      occurredAt: '2026-11-25T12:00:00.000Z',
      correlationId: 'corr-1',
      causationId: null,
      actor: 'operator:cli',
    });
    expect(state.events[0]?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('reads an aggregate with no events as empty at position zero', async () => {
    expect(await h.store.readStream(counterStreamId('never-written'))).toEqual({
      events: [],
      position: NO_STREAM,
    });
  });

  it('refuses an invalid event with a ValidationError and writes nothing of the batch', async () => {
    const before = await storedCount();
    const invalid = {
      type: 'billing.CounterIncremented',
      version: 2,
      data: { counterId: 'x', by: -1, note: '' },
    };
    let caught: unknown;
    try {
      await h.store.append(counterStreamId('invalid'), [increment('invalid'), invalid], {
        expected: NO_STREAM,
      });
    } catch (err) {
      caught = err;
    }
    expect(isValidationError(caught)).toBe(true);
    expect(await storedCount()).toBe(before);
  });

  it('refuses an event type no contract declares', async () => {
    const unknown = { type: 'billing.Unheard', version: 1, data: {} };
    await expect(h.store.append(counterStreamId('unknown'), [unknown])).rejects.toMatchObject({
      code: ErrorCode.UnknownEventType,
    });
  });

  it('refuses a malformed stream id', async () => {
    await expect(h.store.append('billing.counter.*', [increment('x')])).rejects.toMatchObject({
      code: ErrorCode.ValidationFailed,
    });
  });

  it('raises a typed conflict when the stream moved since it was read', async () => {
    const streamId = counterStreamId('stale');
    const { position } = await h.store.append(streamId, [increment('stale')], { expected: NO_STREAM });
    await h.store.append(streamId, [increment('stale')], { expected: position });
    let caught: unknown;
    try {
      await h.store.append(streamId, [increment('stale')], { expected: position });
    } catch (err) {
      caught = err;
    }
    expect(isConcurrencyConflict(caught)).toBe(true);
    expect((await h.store.readStream(streamId)).events).toHaveLength(2);
  });

  it('treats a retried append (same event ids) as a no-op', async () => {
    const streamId = counterStreamId('retried');
    const events = [
      CounterIncremented.create(
        { counterId: 'retried', by: 1, note: '' },
        { id: '01936b2e-0000-7000-8000-000000000001' },
      ),
      CounterIncremented.create(
        { counterId: 'retried', by: 2, note: '' },
        { id: '01936b2e-0000-7000-8000-000000000002' },
      ),
    ];
    const first = await h.store.append(streamId, events, { expected: NO_STREAM });
    const before = await storedCount();
    const again = await h.store.append(streamId, events, { expected: NO_STREAM });
    expect(again.duplicate).toBe(true);
    expect(again.position.sequence).toBe(first.position.sequence);
    expect(await storedCount()).toBe(before);
    expect((await h.store.readStream(streamId)).events).toHaveLength(2);
  });

  it('upcasts a stored v1 event to the current version when reading', async () => {
    const streamId = counterStreamId('old-version');
    const v1 = {
      id: '01936b2e-0000-7000-8000-0000000000a1',
      type: 'billing.CounterIncremented',
      version: 1,
      streamId,
      sequence: 1,
      occurredAt: '2025-01-01T00:00:00.000Z',
      correlationId: 'c',
      causationId: null,
      traceparent: null,
      actor: 'service:legacy',
      data: { counterId: 'old-version', by: 5 },
    };
    await h.store.jetstream.publish(h.store.namespace.subject(streamId), JSON.stringify(v1), {
      headers: headers(),
      msgID: v1.id,
    });
    const [event] = (await h.store.readStream(streamId)).events;
    expect(event).toMatchObject({ version: 2, data: { counterId: 'old-version', by: 5, note: '' } });
  });
});

describe('optimistic concurrency under contention', () => {
  it('20 writers racing on one aggregate: exactly one wins each round', async () => {
    const streamId = counterStreamId('race');
    for (let round = 0; round < 5; round += 1) {
      const { position } = await h.store.readStream(streamId);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, () =>
          h.store.append(streamId, [increment('race')], { expected: position }),
        ),
      );
      const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const conflicts = outcomes.filter(
        (outcome) => outcome.status === 'rejected' && isConcurrencyConflict(outcome.reason),
      );
      expect(won).toHaveLength(1);
      expect(conflicts).toHaveLength(19);
    }
    expect((await h.store.readStream(streamId)).events).toHaveLength(5);
  });

  it('20 command handlers in separate caches (replicas) converge with no lost update', async () => {
    const streamId = counterStreamId('converge');
    // One cache per writer: each is a replica that only learns of the others through conflicts.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, writer) =>
        new AggregateCache(h.store, counterDecider).execute(streamId, {
          kind: 'increment',
          counterId: 'converge',
          by: writer + 1,
        }),
      ),
    );
    const state = await h.store.readStream(streamId);
    expect(state.events).toHaveLength(20);
    const total = state.events.reduce((sum, event) => sum + (event.data as { by: number }).by, 0);
    expect(total).toBe((20 * 21) / 2);
    expect(Math.max(...results.map((result) => result.state.total))).toBe(total);
  });

  it('gives up with a typed error after the allowed attempts', async () => {
    const streamId = counterStreamId('exhaust');
    await h.store.append(streamId, [increment('exhaust')], { expected: NO_STREAM });
    // A store whose every append conflicts: another writer always gets there first.
    const racing = Object.create(h.store) as typeof h.store;
    let appends = 0;
    racing.append = async (id, events, options) => {
      appends += 1;
      await h.store.append(id, [increment('exhaust')]);
      return h.store.append(id, events, options);
    };
    let caught: unknown;
    try {
      await new AggregateCache(racing, counterDecider, { maxAttempts: 3 }).execute(streamId, {
        kind: 'increment',
        counterId: 'exhaust',
        by: 1,
      });
    } catch (err) {
      caught = err;
    }
    expect(isConcurrencyExhausted(caught)).toBe(true);
    expect(caught).toMatchObject({ attempts: 3 });
    expect(appends).toBe(3);
  });

  it('a decision that produces no events appends nothing', async () => {
    const streamId = counterStreamId('no-op');
    const result = await new AggregateCache(h.store, counterDecider).execute(streamId, {
      kind: 'reset',
      counterId: 'no-op',
    });
    expect(result.events).toEqual([]);
    expect((await h.store.readStream(streamId)).events).toHaveLength(0);
  });
});

describe('atomic decisions', () => {
  it('stores a decision of several events as one message, whole', async () => {
    const streamId = counterStreamId('atomic');
    const before = await storedCount();
    const result = await h.store.append(
      streamId,
      [increment('atomic', 1), increment('atomic', 2), increment('atomic', 3)],
      {
        expected: NO_STREAM,
      },
    );
    expect(await storedCount()).toBe(before + 1);
    expect(result.position.version).toBe(3);
    const read = await h.store.readStream(streamId);
    expect(read.events.map((event) => event.sequence)).toEqual([1, 2, 3]);
    expect(read.position).toEqual(result.position);
    expect(await h.store.currentPosition(streamId)).toEqual(result.position);
  });

  // The child appends a two-event decision and SIGKILLs itself either inside the event store,
  // right before the publish that would complete the decision (with one message per event that
  // is the second publish, after the first event was stored), or right after the append returned.
  for (const [killAt, expected] of [
    ['before-last-publish', 0],
    ['after-append', 2],
  ] as const) {
    it(`kill -9 ${killAt} of a two-event decision leaves ${expected === 0 ? 'nothing' : 'everything'}`, async () => {
      const counterId = `crash-${killAt}`;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(new URL('./__tests__/crash-append.child.ts', import.meta.url))],
        {
          env: {
            ...process.env,
            NATS_URL: h.env.natsUrl,
            NAMESPACE: h.env.namespace,
            COUNTER_ID: counterId,
            KILL_AT: killAt,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, exitSignal) => resolve(exitSignal)),
      );
      expect(signal, output).toBe('SIGKILL');
      const stored = (await h.store.readStream(counterStreamId(counterId))).events;
      expect(stored.map((event) => (event.data as { note: string }).note)).toEqual(
        ['first', 'second'].slice(0, expected),
      );
    });
  }

  it('reads only what came after a given position', async () => {
    const streamId = counterStreamId('after');
    const first = await h.store.append(streamId, [increment('after', 1), increment('after', 2)], {
      expected: NO_STREAM,
    });
    const second = await h.store.append(streamId, [increment('after', 3)], { expected: first.position });
    const tail = await h.store.readStream(streamId, { after: first.position });
    expect(tail.events.map((event) => (event.data as { by: number }).by)).toEqual([3]);
    expect(tail.position).toEqual(second.position);
    expect(await h.store.readStream(streamId, { after: second.position })).toEqual({
      events: [],
      position: second.position,
    });
  });

  it('knows the last sequence a filtered consumer has to reach', async () => {
    const a = await h.store.append(counterStreamId('last-a'), [increment('last-a')]);
    await h.store.append(streamIdOf('billing', 'other', 'x'), [
      CounterIncremented.create({ counterId: 'x', by: 1, note: '' }),
    ]);
    expect(await h.store.lastSequence(Streams.BILLING, 'billing.counter.>')).toBe(a.position.sequence);
    expect(await h.store.lastSequence(Streams.BILLING)).toBe(a.position.sequence + 1);
    expect(await h.store.lastSequence(Streams.BILLING, 'billing.nothing.>')).toBe(0);
  });
});

describe('stream bootstrap', () => {
  it('is idempotent when every replica runs it at once, and declares file storage and the duplicate window', async () => {
    await Promise.all([h.store.ensureStreams(), h.store.ensureStreams(), h.store.ensureStreams()]);
    const jsm = await h.store.manager();
    const info = await jsm.streams.info(h.store.namespace.streamName(Streams.CHAIN));
    expect(info.config.storage).toBe(StorageType.File);
    expect(info.config.subjects).toEqual([h.store.namespace.subject('chain.>')]);
    expect(info.config.duplicate_window).toBe(10 * 60 * 1_000_000_000);
  });

  it('reconciles a stream created with another duplicate window', async () => {
    await h.store.ensureStreams([Streams.SCORING], { duplicateWindowMs: 60_000 });
    await h.store.ensureStreams([Streams.SCORING], { duplicateWindowMs: 120_000 });
    const jsm = await h.store.manager();
    const info = await jsm.streams.info(h.store.namespace.streamName(Streams.SCORING));
    expect(info.config.duplicate_window).toBe(120_000 * 1_000_000);
  });
});

describe('stream reconciliation', () => {
  it('sees every setting that differs, the replica count included', () => {
    const base = { subjects: ['a.>'], duplicate_window: 1, num_replicas: 1, allow_direct: true };
    expect(driftOf(base, { ...base })).toEqual([]);
    expect(driftOf(base, { ...base, num_replicas: 3 })).toEqual(['num_replicas']);
    expect(driftOf(base, { ...base, subjects: ['b.>'], duplicate_window: 2 })).toEqual([
      'subjects',
      'duplicate_window',
    ]);
    expect(driftOf({ ...base, allow_direct: false }, base)).toEqual(['allow_direct']);
  });
});
