/** Follows a namespaced stream from its start and keeps every decoded event, for assertions. */
import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { type Event, type StreamDeclaration } from '@tessera/contracts';
import { envelopesIn, type EventStore } from '@tessera/eventstore';
import { eventually } from '@tessera/testkit';

export class EventTail {
  readonly events: Event[] = [];
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  private constructor(
    private readonly store: EventStore,
    private readonly stream: StreamDeclaration,
  ) {}

  static async follow(store: EventStore, stream: StreamDeclaration): Promise<EventTail> {
    const tail = new EventTail(store, stream);
    const consumer = await store.jetstream.consumers.get(store.namespace.streamName(stream), {
      deliver_policy: DeliverPolicy.All,
    });
    tail.messages = await consumer.consume();
    tail.loop = (async () => {
      for await (const message of tail.messages!) {
        for (const raw of envelopesIn(message.data)) tail.events.push(store.decoder.decode(raw));
      }
    })();
    return tail;
  }

  /** Events matching a contract (and a predicate on them). */
  of<E extends Event>(
    contract: { is(event: Event): event is E },
    match: (event: E) => boolean = () => true,
  ): E[] {
    return this.events.filter((event): event is E => contract.is(event) && match(event));
  }

  /** Waits until at least `count` events match, then returns them. */
  async waitFor<E extends Event>(
    contract: { is(event: Event): event is E; type: string },
    match: (event: E) => boolean = () => true,
    options: { count?: number; timeoutMs?: number } = {},
  ): Promise<E[]> {
    const count = options.count ?? 1;
    return eventually(
      async () => {
        const found = this.of(contract, match);
        return found.length >= count ? found : undefined;
      },
      `${count} × ${contract.type} on ${this.stream.name}`,
      { timeoutMs: options.timeoutMs ?? 60_000 },
    );
  }

  async close(): Promise<void> {
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
  }
}
