/**
 * Child process for the atomic-append crash test: appends one two-event decision and SIGKILLs
 * itself (KILL_AT) right before the publish that completes the decision, or right after the
 * append returned.
 */
import { connect } from '@nats-io/transport-node';
import { NO_STREAM, EventStore } from '../event-store.js';
import { CounterIncremented, counterRegistry, counterStreamId } from './counter.fixture.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const counterId = env('COUNTER_ID');
const killAt = env('KILL_AT');
const nc = await connect({ servers: env('NATS_URL') });
let eventsPublished = 0;
const store = new EventStore({
  connection: nc,
  registry: counterRegistry,
  namespace: env('NAMESPACE'),
  faults: {
    beforePublish: (_streamId, eventsInMessage) => {
      eventsPublished += eventsInMessage;
      // This publish would complete the two-event decision: die just before it.
      if (killAt === 'before-last-publish' && eventsPublished === 2) process.kill(process.pid, 'SIGKILL');
    },
  },
});
await store.append(
  counterStreamId(counterId),
  [
    CounterIncremented.create({ counterId, by: 1, note: 'first' }),
    CounterIncremented.create({ counterId, by: 2, note: 'second' }),
  ],
  { expected: NO_STREAM },
);
if (killAt === 'after-append') process.kill(process.pid, 'SIGKILL');
process.stdout.write('append returned without being killed\n');
await nc.close();
