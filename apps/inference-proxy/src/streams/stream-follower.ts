import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { type Event, type EventContract, type StreamDeclaration } from '@tessera/contracts';
import { EVENT_TYPES_HEADER, envelopesIn, type EventStore } from '@tessera/eventstore';
import { ExponentialBackoff, handleAll, isTaskCancelledError, retry } from 'cockatiel';
import { type Logger } from 'pino';

/** Options for {@link StreamFollower}. */
export interface StreamFollowerOptions {
  store: EventStore;
  stream: StreamDeclaration;
  /** Event types applied; commits holding none of them are skipped without parsing. */
  handles: readonly EventContract[];
  /** Applies one event to the in-memory view; must not throw for events it does not know. */
  apply(event: Event): void;
  logger: Logger;
}

/**
 * Keeps an in-memory view of one stream in every replica: an ordered JetStream consumer from the
 * first message, then live. Unlike the platform's projections (one active replica, Postgres
 * checkpoint), every proxy replica needs the whole view itself — keys, prices, the routing table —
 * so the request path never calls anyone. `caughtUp()` resolves once the view holds everything
 * the stream had when the follower started; until then the proxy is not ready.
 */
export class StreamFollower {
  private readonly abort = new AbortController();
  private readonly handledTypes: ReadonlySet<string>;
  private messages: ConsumerMessages | undefined;
  private lastSeen = 0;
  private target: number | undefined;
  private resolveCaughtUp!: () => void;
  private readonly caughtUpPromise = new Promise<void>((resolve) => (this.resolveCaughtUp = resolve));
  private loop: Promise<void> | undefined;

  constructor(private readonly options: StreamFollowerOptions) {
    this.handledTypes = new Set(options.handles.map((contract) => contract.type));
  }

  start(): void {
    // A stream not created yet (its owner has not started) or NATS down: keep trying, from where we are.
    const policy = retry(handleAll, {
      maxAttempts: Infinity,
      backoff: new ExponentialBackoff({ maxDelay: 5_000 }),
    });
    policy.onRetry(({ delay, ...reason }) =>
      this.options.logger.warn(
        { stream: this.options.stream.name, delay, err: 'error' in reason ? reason.error : undefined },
        'stream follower retrying',
      ),
    );
    this.loop = policy
      .execute(() => this.follow(), this.abort.signal)
      .catch((err: unknown) => {
        if (!isTaskCancelledError(err) && !this.abort.signal.aborted) {
          this.options.logger.error({ err, stream: this.options.stream.name }, 'stream follower stopped');
        }
      });
  }

  /** Resolves once everything the stream held at start has been applied. */
  caughtUp(): Promise<void> {
    return this.caughtUpPromise;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.messages?.stop();
    await this.loop;
  }

  private async follow(): Promise<void> {
    const { store, stream } = this.options;
    this.target ??= await store.lastSequence(stream);
    if (this.lastSeen >= this.target) this.resolveCaughtUp();
    const consumer = await store.jetstream.consumers.get(store.namespace.streamName(stream), {
      filter_subjects: stream.subjects.map((subject) => store.namespace.subject(subject)),
      ...(this.lastSeen > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeen + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    if (this.abort.signal.aborted) return;
    const messages = await consumer.consume();
    this.messages = messages;
    for await (const message of messages) {
      if (message.seq <= this.lastSeen) continue;
      this.lastSeen = message.seq;
      this.applyMessage(message.data, message.headers?.get(EVENT_TYPES_HEADER));
      if (this.lastSeen >= (this.target ?? 0)) this.resolveCaughtUp();
    }
    if (!this.abort.signal.aborted) throw new Error(`consumer of ${stream.name} ended`);
  }

  private applyMessage(data: Uint8Array, typesHeader: string | undefined): void {
    if (typesHeader && !typesHeader.split(',').some((type) => this.handledTypes.has(type))) return;
    try {
      for (const raw of envelopesIn(data)) {
        const type = (raw as { type?: unknown }).type;
        if (typeof type !== 'string' || !this.handledTypes.has(type)) continue;
        this.options.apply(this.options.store.decoder.decode(raw));
      }
    } catch (err) {
      // A malformed event cannot be fixed by reading it again; the view goes on without it.
      this.options.logger.error({ err, stream: this.options.stream.name }, 'skipped an undecodable event');
    }
  }
}
