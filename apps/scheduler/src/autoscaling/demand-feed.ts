import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { DemandObserved, Streams, type Clock } from '@tessera/contracts';
import { envelopesIn, type EventStore } from '@tessera/eventstore';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import { type Logger } from 'pino';
import { type DemandBook } from './demand-book.js';

/**
 * Feeds `inference.DemandObserved` into a {@link DemandBook} while this scheduler holds the
 * placement lease. Demand is a signal about now, not state: the feed needs no checkpoint and
 * starts from a short look-back (the reports that still count), through an ordered consumer
 * (no durable state on the server, recreated by the client after a gap or a reconnect).
 */
export class DemandFeed {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private abort = new AbortController();

  constructor(
    private readonly store: EventStore,
    private readonly book: DemandBook,
    private readonly clock: Clock,
    private readonly options: { lookBackMs: number; onActivity: (deploymentId: string) => void },
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.messages?.stop();
    await this.loop;
    this.loop = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    // The INFERENCE stream is created by the inference proxy: until it exists, keep trying.
    const subscribe = retry(handleAll, {
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 5_000 }),
    });
    subscribe.onRetry(({ delay }) =>
      this.logger.debug({ retryInMs: Math.round(delay) }, 'demand feed not subscribed yet'),
    );
    while (!signal.aborted) {
      try {
        await subscribe.execute(async ({ signal: attemptSignal }) => {
          if (attemptSignal.aborted) return;
          const consumer = await this.store.jetstream.consumers.get(
            this.store.namespace.streamName(Streams.INFERENCE),
            {
              filter_subjects: [this.store.namespace.subject('inference.demand.>')],
              deliver_policy: DeliverPolicy.StartTime,
              opt_start_time: new Date(this.clock.now().getTime() - this.options.lookBackMs).toISOString(),
            },
          );
          this.messages = await consumer.consume({ max_messages: 256 });
        }, signal);
        if (signal.aborted || !this.messages) return;
        for await (const message of this.messages) {
          for (const raw of envelopesIn(message.data)) {
            try {
              const event = this.store.decoder.decode(raw);
              if (DemandObserved.is(event) && this.book.record(event.data))
                this.options.onActivity(event.data.deploymentId);
            } catch (err) {
              // One malformed report must not stop the feed; demand is advisory.
              this.logger.warn({ err, subject: message.subject }, 'demand report skipped');
            }
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        this.logger.warn({ err }, 'demand feed interrupted; resubscribing');
      }
    }
  }
}
