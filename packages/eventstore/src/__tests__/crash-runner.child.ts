/**
 * Child process for the crash test: runs the counter projection and SIGKILLs itself inside
 * the transaction of its third batch, after the rows and checkpoint are written but before
 * commit — the worst moment to die.
 */
import { connect } from '@nats-io/transport-node';
import { EventStore } from '../event-store.js';
import { ProjectionRunner } from '../projections/projection-runner.js';
import { counterRegistry, counterTotalsProjection } from './counter.fixture.js';
import { openDataSource } from './harness.fixture.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const nc = await connect({ servers: env('NATS_URL') });
const store = new EventStore({ connection: nc, registry: counterRegistry, namespace: env('NAMESPACE') });
const dataSource = await openDataSource(env('DATABASE_URL'), env('SCHEMA'));
let batches = 0;
const runner = new ProjectionRunner({
  store,
  dataSource,
  projection: counterTotalsProjection(),
  batchSize: Number(env('BATCH_SIZE')),
  beforeCommit: () => {
    batches += 1;
    if (batches === 3) {
      process.stdout.write('dying before commit\n');
      process.kill(process.pid, 'SIGKILL');
    }
  },
});
await runner.start();
