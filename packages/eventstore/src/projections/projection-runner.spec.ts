import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Streams } from '@tessera/contracts';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DataSource } from 'typeorm';
import { NO_STREAM } from '../event-store.js';
import {
  CounterIncremented,
  CounterReset,
  counterStreamId,
  counterTotalsChecksum,
  counterTotalsProjection,
} from '../__tests__/counter.fixture.js';
import { openDataSource, openHarness, type Harness } from '../__tests__/harness.fixture.js';
import { DeadLetterEntity } from './dead-letter.entity.js';
import { ProjectionRunner } from './projection-runner.js';

let h: Harness;
const runners: ProjectionRunner[] = [];
const extraDataSources: DataSource[] = [];

beforeAll(async () => {
  h = await openHarness();
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  await h.dataSource.query('DELETE FROM counter_totals');
  await h.dataSource.query('DELETE FROM projection_checkpoints');
  await h.dataSource.query('DELETE FROM projection_dead_letters');
  const jsm = await h.store.manager();
  await jsm.streams.purge(h.store.namespace.streamName(Streams.BILLING));
  for await (const consumer of jsm.consumers.list(h.store.namespace.streamName(Streams.BILLING))) {
    await jsm.consumers.delete(h.store.namespace.streamName(Streams.BILLING), consumer.name);
  }
});
afterAll(async () => {
  await Promise.all(extraDataSources.map((dataSource) => dataSource.destroy()));
  await h.close();
});

function runner(
  options: { dataSource?: DataSource; name?: string; batchSize?: number } = {},
): ProjectionRunner {
  const created = new ProjectionRunner({
    store: h.store,
    dataSource: options.dataSource ?? h.dataSource,
    projection: counterTotalsProjection(options.name),
    batchSize: options.batchSize ?? 100,
  });
  runners.push(created);
  return created;
}

/** Appends `count` increments spread over `counters` aggregates; returns the last stream sequence. */
async function appendIncrements(count: number, counters = 7): Promise<number> {
  const positions = new Map<string, { sequence: number; version: number }>();
  let last = 0;
  for (let index = 0; index < count; index += 1) {
    const counterId = `c${index % counters}`;
    const streamId = counterStreamId(counterId);
    const result = await h.store.append(
      streamId,
      [CounterIncremented.create({ counterId, by: (index % 5) + 1, note: '' })],
      {
        expected: positions.get(streamId) ?? NO_STREAM,
      },
    );
    positions.set(streamId, result.position);
    last = result.position.sequence;
  }
  return last;
}

async function rowCount(dataSource: DataSource = h.dataSource): Promise<number> {
  const [row] = (await dataSource.query('SELECT count(*)::int AS n FROM counter_totals')) as { n: number }[];
  return row?.n ?? 0;
}

async function otherSchema(): Promise<DataSource> {
  const schema = `${h.env.schema}_b${extraDataSources.length}`;
  await h.dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  const dataSource = await openDataSource(h.env.databaseUrl, schema);
  extraDataSources.push(dataSource);
  return dataSource;
}

describe('ProjectionRunner', () => {
  it('applies every event and commits the checkpoint with the rows', async () => {
    const last = await appendIncrements(200);
    const projection = runner();
    await projection.start();
    await projection.waitForSequence(last);
    const totals = (await h.dataSource.query(
      'SELECT sum(total)::int AS total, sum(applied)::int AS applied FROM counter_totals',
    )) as {
      total: number;
      applied: number;
    }[];
    // by cycles 1..5 over 200 events: 40 × 15
    expect(totals[0]).toEqual({ total: 600, applied: 200 });
    const [checkpoint] = (await h.dataSource.query('SELECT sequence FROM projection_checkpoints')) as {
      sequence: string;
    }[];
    expect(Number(checkpoint?.sequence)).toBe(last);
    expect(projection.health()).toMatchObject({ running: true, stalled: false, checkpoint: last });
  });

  it('re-publishing every event adds no stream entries and no projection rows', async () => {
    const streamId = counterStreamId('republished');
    const events = Array.from({ length: 10 }, () =>
      CounterIncremented.create({ counterId: 'republished', by: 1, note: '' }),
    );
    const appended = await h.store.append(streamId, events, { expected: NO_STREAM });
    const projection = runner();
    await projection.start();
    await projection.waitForSequence(appended.position.sequence);
    const before = await counterTotalsChecksum(h.dataSource.manager);

    // Publish every stored envelope again, exactly as stored, with its id as Nats-Msg-Id.
    for (const envelope of appended.events) {
      const ack = await h.store.jetstream.publish(
        h.store.namespace.subject(streamId),
        JSON.stringify(envelope),
        {
          msgID: envelope.id,
        },
      );
      expect(ack.duplicate).toBe(true);
    }
    const jsm = await h.store.manager();
    const info = await jsm.streams.info(h.store.namespace.streamName(Streams.BILLING));
    expect(info.state.last_seq).toBe(appended.position.sequence);
    // A marker event after the re-publish proves the runner has seen everything before it.
    const marker = await h.store.append(streamId, [CounterReset.create({ counterId: 'republished' })], {
      expected: appended.position,
    });
    await projection.waitForSequence(marker.position.sequence);
    const [row] = (await h.dataSource.query('SELECT applied FROM counter_totals')) as { applied: number }[];
    expect(row?.applied).toBe(11);
    expect(before).toMatch(/^1:/);
  });

  it('skips redelivered events at or below the checkpoint', async () => {
    const last = await appendIncrements(50);
    const projection = runner();
    await projection.start();
    await projection.waitForSequence(last);
    const before = await counterTotalsChecksum(h.dataSource.manager);
    await projection.stop();

    // Replace the durable consumer by one that delivers the whole stream again.
    const jsm = await h.store.manager();
    const streamName = h.store.namespace.streamName(Streams.BILLING);
    const consumerName = h.store.namespace.consumerName('projection_counter-totals');
    await jsm.consumers.delete(streamName, consumerName);
    await jsm.consumers.add(streamName, {
      durable_name: consumerName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: h.store.namespace.subject('billing.counter.>'),
    });
    const again = runner();
    await again.start();
    const marker = await h.store.append(counterStreamId('c0'), [
      CounterIncremented.create({ counterId: 'c0', by: 1, note: '' }),
    ]);
    await again.waitForSequence(marker.position.sequence);
    const [row] = (await h.dataSource.query(
      `SELECT applied FROM counter_totals WHERE counter_id = 'c0'`,
    )) as { applied: number }[];
    expect(row?.applied).toBe(8 + 1);
    expect(before).not.toBe(await counterTotalsChecksum(h.dataSource.manager));
    expect(await rowCount()).toBe(7);
  });

  it('parks poison events in the dead letter and applies the ones after them', async () => {
    const subject = h.store.namespace.subject(counterStreamId('bad'));
    await h.store.jetstream.publish(subject, 'this is not json');
    await h.store.jetstream.publish(
      subject,
      JSON.stringify({
        id: '01936b2e-0000-7000-8000-00000000bad1',
        type: 'billing.CounterIncremented',
        version: 2,
        data: {},
      }),
    );
    const poisoned = await h.store.append(counterStreamId('poison-1'), [
      CounterIncremented.create({ counterId: 'poison-1', by: 1, note: '' }),
    ]);
    const last = await appendIncrements(20);
    const projection = runner({ batchSize: 50 });
    await projection.start();
    await projection.waitForSequence(last);

    const parked = await h.dataSource.getRepository(DeadLetterEntity).find({ order: { sequence: 'ASC' } });
    expect(parked.map((letter) => [letter.errorCode, letter.eventType])).toEqual([
      ['VALIDATION_FAILED', null],
      ['VALIDATION_FAILED', null],
      ['INTERNAL', 'billing.CounterIncremented'],
    ]);
    expect(parked[2]?.reason).toMatch(/poison-1 is poisoned/);
    expect(parked[2]?.eventId).toBe(poisoned.events[0]?.id);
    expect(parked[0]?.payload).toBe('this is not json');
    const [sum] = (await h.dataSource.query('SELECT sum(applied)::int AS applied FROM counter_totals')) as {
      applied: number;
    }[];
    expect(sum?.applied).toBe(20);
  });

  it('a rebuild from sequence 1 gives identical tables, twice', async () => {
    const last = await appendIncrements(300);
    const projection = runner();
    await projection.start();
    await projection.waitForSequence(last);
    const original = await counterTotalsChecksum(h.dataSource.manager);

    await projection.rebuild();
    await projection.waitForSequence(last);
    const first = await counterTotalsChecksum(h.dataSource.manager);
    await projection.rebuild();
    await projection.waitForSequence(last);
    const second = await counterTotalsChecksum(h.dataSource.manager);

    expect(first).toBe(original);
    expect(second).toBe(original);
    expect(original).toMatch(/^7:/);
  });

  it('a runner killed between apply and commit resumes to rows identical to an uninterrupted run', async () => {
    const last = await appendIncrements(400);

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('../__tests__/crash-runner.child.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          NATS_URL: h.env.natsUrl,
          DATABASE_URL: h.env.databaseUrl,
          SCHEMA: h.env.schema,
          NAMESPACE: h.env.namespace,
          BATCH_SIZE: '50',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, sig) => resolve(sig)),
    );
    expect(signal).toBe('SIGKILL');
    expect(output).toContain('dying before commit');
    // Two batches committed before the crash; the third died with its transaction.
    const [checkpoint] = (await h.dataSource.query('SELECT sequence FROM projection_checkpoints')) as {
      sequence: string;
    }[];
    expect(Number(checkpoint?.sequence)).toBeLessThan(last);

    const resumed = runner({ batchSize: 50 });
    await resumed.start();
    await resumed.waitForSequence(last, 30_000);

    const reference = await otherSchema();
    const uninterrupted = runner({ dataSource: reference, name: 'counter-totals-reference' });
    await uninterrupted.start();
    await uninterrupted.waitForSequence(last);

    expect(await counterTotalsChecksum(h.dataSource.manager)).toBe(
      await counterTotalsChecksum(reference.manager),
    );
    expect(await rowCount()).toBe(7);
  });
});
