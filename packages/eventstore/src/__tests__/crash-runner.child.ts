/**
 * Child process for the runner crash tests: runs the counter projection and SIGKILLs itself
 * inside a batch's transaction, after the rows and checkpoint are written but before commit —
 * the worst moment to die — either in its DIE_IN_BATCH-th batch or in the first batch that
 * reaches DIE_AT_SEQUENCE. SLOW_MS slows every apply down (so a standby can be waiting);
 * LEASE_TTL_MS sets its lease's TTL.
 */
import { connect } from '@nats-io/transport-node';
import { type Event } from '@tessera/contracts';
import { type EntityManager } from 'typeorm';
import { EventStore } from '../event-store.js';
import { ConsumerRunner } from '../consumers/consumer-runner.js';
import { counterRegistry, counterTotalsProjection } from './counter.fixture.js';
import { openDataSource } from './harness.fixture.js';

const env = (name: string): string | undefined => process.env[name] || undefined;
const required = (name: string): string => {
  const value = env(name);
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const nc = await connect({ servers: required('NATS_URL') });
const store = new EventStore({ connection: nc, registry: counterRegistry, namespace: required('NAMESPACE') });
const dataSource = await openDataSource(required('DATABASE_URL'), required('SCHEMA'));
const dieInBatch = Number(env('DIE_IN_BATCH') ?? 0);
const dieAtSequence = Number(env('DIE_AT_SEQUENCE') ?? 0);
const slowMs = Number(env('SLOW_MS') ?? 0);
const projection = counterTotalsProjection();
let batches = 0;
const runner = new ConsumerRunner({
  store,
  dataSource,
  role: {
    kind: 'projection',
    projection: {
      ...projection,
      async apply(events: readonly Event[], manager: EntityManager) {
        if (slowMs > 0) await new Promise((resolve) => setTimeout(resolve, slowMs));
        await projection.apply(events, manager);
      },
    },
  },
  batchSize: Number(required('BATCH_SIZE')),
  lease: { ttlMs: Number(env('LEASE_TTL_MS') ?? 1_500) },
  beforeCommit: (lastSequence) => {
    batches += 1;
    if ((dieInBatch > 0 && batches === dieInBatch) || (dieAtSequence > 0 && lastSequence >= dieAtSequence)) {
      process.stdout.write('dying before commit\n');
      process.kill(process.pid, 'SIGKILL');
    }
  },
});
await runner.start();
// Tell the parent once this process is the active one (holds the lease).
const announce = setInterval(() => {
  if (runner.health().active) {
    process.stdout.write('active\n');
    clearInterval(announce);
  }
}, 20);
