/** Reads what the indexer published, straight from JetStream. */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection } from '@nats-io/transport-node';
import { eventEnvelopeSchema, type EventEnvelope } from '@tessera/contracts';
import { envelopesIn } from '@tessera/eventstore';

/** Every event on the namespace's CHAIN stream, in stream order. */
export async function readChainStream(nc: NatsConnection, namespace: string): Promise<EventEnvelope[]> {
  const jsm = await jetstreamManager(nc);
  const stream = `${namespace}_CHAIN`;
  const info = await jsm.streams.info(stream).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const consumer = await jsm.consumers.add(stream, {
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    mem_storage: true,
  });
  try {
    const js = jetstream(nc);
    const c = await js.consumers.get(stream, consumer.name);
    const events: EventEnvelope[] = [];
    let messages = 0;
    while (messages < consumer.num_pending) {
      const batch = await c.fetch({ max_messages: consumer.num_pending - messages, expires: 2_000 });
      let received = 0;
      for await (const message of batch) {
        // One message holds the events of one commit (a block's facts).
        for (const envelope of envelopesIn(message.data)) events.push(eventEnvelopeSchema.parse(envelope));
        received += 1;
      }
      if (received === 0) break;
      messages += received;
    }
    return events;
  } finally {
    await jsm.consumers.delete(stream, consumer.name).catch(() => undefined);
  }
}
