import { type Event, type EventContract, type StreamDeclaration } from '@tessera/contracts';
import { DeliverPolicy } from '@nats-io/jetstream';
import {
  EVENT_TYPES_HEADER,
  LEGACY_EVENT_TYPE_HEADER,
  envelopesIn,
  type EventStore,
} from '@tessera/eventstore';

/**
 * Reads a whole stream from sequence 1 up to `upTo` (inclusive) with an ordered consumer, and hands
 * each event of the given types, decoded and upcast, to `onEvent` with its message's sequence.
 * For audits, not for the hot path: it reads everything.
 */
export async function scanStream(
  store: EventStore,
  stream: StreamDeclaration,
  upTo: number,
  types: readonly EventContract[],
  onEvent: (event: Event, sequence: number) => void,
): Promise<void> {
  if (upTo <= 0) return;
  const wanted = new Set(types.map((contract) => contract.type));
  const consumer = await store.jetstream.consumers.get(store.namespace.streamName(stream), {
    filter_subjects: [store.namespace.subject(`${stream.context}.>`)],
    deliver_policy: DeliverPolicy.All,
  });
  let last = 0;
  while (last < upTo) {
    // Ask for no more than is left: a fetch for more than the stream holds waits out its expiry.
    const batch = await consumer.fetch({ max_messages: Math.min(1_000, upTo - last), expires: 5_000 });
    let got = 0;
    for await (const message of batch) {
      got += 1;
      last = message.seq;
      if (message.seq > upTo) break;
      const header =
        message.headers?.get(EVENT_TYPES_HEADER) || message.headers?.get(LEGACY_EVENT_TYPE_HEADER);
      if (header && !header.split(',').some((type) => wanted.has(type))) continue;
      for (const envelope of envelopesIn(message.data)) {
        const type = (envelope as { type?: unknown } | null)?.type;
        if (typeof type === 'string' && wanted.has(type))
          onEvent(store.decoder.decode(envelope), message.seq);
      }
    }
    if (got === 0)
      throw new Error(`${stream.name}: no message after sequence ${last}, expected up to ${upTo}`);
  }
}
