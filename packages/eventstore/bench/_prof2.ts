import { performance } from 'node:perf_hooks';
import { Streams } from '@tessera/contracts';
import { startNatsServer } from '@tessera/devservers';
import { connect, headers } from '@nats-io/transport-node';
import { v7 } from 'uuid';
import { EventStore, NO_STREAM, type StreamPosition } from '../src/index.js';
import { CounterIncremented, counterRegistry, counterStreamId } from '../src/__tests__/counter.fixture.js';
const nats = await startNatsServer();
const nc = await connect({ servers: nats.url, noAsyncTraces: true });
const store = new EventStore({ connection: nc, registry: counterRegistry });
await store.ensureStreams([Streams.BILLING, Streams.SCORING]);
async function tp(total: number, workers: number, op: (i: number) => Promise<unknown>) {
  const s = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = w; i < total; i += workers) await op(i);
    }),
  );
  return Math.round(total / ((performance.now() - s) / 1000));
}
const pos = new Map<string, StreamPosition>();
const seqs = new Map<string, number>();
for (let round = 0; round < 3; round++) {
  const raw = await tp(20000, 250, async (i) => {
    const subj = `scoring.raw${round}.b${i % 500}`;
    const id = v7();
    const env = JSON.stringify({
      id,
      type: 'billing.CounterIncremented',
      version: 2,
      streamId: subj,
      sequence: 1,
      occurredAt: new Date().toISOString(),
      correlationId: id,
      causationId: null,
      traceparent: null,
      actor: 'service:bench',
      data: { counterId: 'a1', by: 1, note: 'bench' },
    });
    const a = await store.jetstream.publish(subj, env, {
      headers: headers(),
      msgID: id,
      expect: { lastSubjectSequence: seqs.get(subj) ?? 0 },
    });
    seqs.set(subj, a.seq);
  });
  const st = await tp(20000, 250, async (i) => {
    const id = counterStreamId(`r${round}c${i % 500}`);
    const r = await store.append(id, [CounterIncremented.create({ counterId: 'x', by: 1, note: 'bench' })], {
      expected: pos.get(id) ?? NO_STREAM,
    });
    pos.set(id, r.position);
  });
  console.log('raw', raw, 'store', st, (st / raw).toFixed(2));
}
await nc.drain();
await nats.stop();
