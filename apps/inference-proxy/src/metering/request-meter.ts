import { RequestCompleted, requestStreamId, type EventDataOf } from '@tessera/contracts';
import { NO_STREAM, classifyFailure, isConcurrencyConflict, type EventStore } from '@tessera/eventstore';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { type Logger } from 'pino';

export type CompletedRequest = EventDataOf<typeof RequestCompleted>;

/**
 * Publishes `inference.RequestCompleted` off the request path, once per request id: each request
 * is its own aggregate appended with "no stream yet" expected, so a retried publish (or a second
 * report of the same id) is refused by JetStream instead of being charged twice. Failures that
 * may pass (NATS blips) are retried with backoff; `flush` waits for what is still in flight.
 */
export class RequestMeter {
  private readonly inFlight = new Set<Promise<void>>();
  // A NATS outage must not lose a charge: transient failures are retried until the append lands
  // (or the process stops; the grant's settlement then still carries the usage).
  private readonly policy = retry(
    handleWhen((err) => !isConcurrencyConflict(err) && classifyFailure(err) === 'transient'),
    { maxAttempts: Infinity, backoff: new ExponentialBackoff({ maxDelay: 5_000 }) },
  );
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
  ) {}

  record(completed: CompletedRequest): void {
    const event = RequestCompleted.create(completed);
    const publish = this.policy
      .execute(() =>
        this.store.append(requestStreamId(completed.requestId), [event], { expected: NO_STREAM }),
      )
      .then(
        () => undefined,
        (err: unknown) => {
          if (isConcurrencyConflict(err)) return; // already recorded
          this.logger.error({ err, requestId: completed.requestId }, 'could not record a completed request');
        },
      )
      .finally(() => this.inFlight.delete(publish));
    this.inFlight.add(publish);
  }

  /** Waits for what is in flight; `deadline` gives up on appends still retrying (the service is stopping). */
  async flush(deadline?: AbortSignal): Promise<void> {
    const onDeadline = () => this.stopping.abort();
    deadline?.addEventListener('abort', onDeadline, { once: true });
    try {
      await Promise.allSettled([...this.inFlight]);
    } finally {
      deadline?.removeEventListener('abort', onDeadline);
    }
  }
}
