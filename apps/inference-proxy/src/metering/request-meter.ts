import { randomUUID } from 'node:crypto';
import { RequestCompleted, requestBatchStreamId, type EventDataOf } from '@tessera/contracts';
import { NO_STREAM, classifyFailure, isConcurrencyConflict, type EventStore } from '@tessera/eventstore';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { type Logger } from 'pino';

export type CompletedRequest = EventDataOf<typeof RequestCompleted>;

/** Options for {@link RequestMeter}. */
export interface RequestMeterOptions {
  /** How long a completed request may wait for others to share its append. Default 20 ms. */
  lingerMs?: number;
  /** Most requests in one append. Default 100 (well under NATS' max payload). */
  maxBatch?: number;
}

/**
 * Publishes `inference.RequestCompleted` off the request path, in batches: the requests that
 * complete within `lingerMs` of each other go out as one commit on a fresh batch aggregate,
 * appended with "no stream yet" expected, so a retried append (its first attempt landed after
 * all) is refused by JetStream instead of being charged twice. One append per batch rather than
 * per request is what keeps NATS and billing in step with the request rate. Failures that may
 * pass (NATS blips) are retried with backoff; `flush` sends what waits and waits for what is in
 * flight.
 */
export class RequestMeter {
  private readonly inFlight = new Set<Promise<void>>();
  private waiting: ReturnType<typeof RequestCompleted.create>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly lingerMs: number;
  private readonly maxBatch: number;
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
    options: RequestMeterOptions = {},
  ) {
    this.lingerMs = options.lingerMs ?? 20;
    this.maxBatch = options.maxBatch ?? 100;
  }

  /** Validates the record now (a bad one throws to its own caller) and queues it for the next batch. */
  record(completed: CompletedRequest): void {
    this.waiting.push(RequestCompleted.create(completed));
    if (this.waiting.length >= this.maxBatch) this.send();
    else this.timer ??= setTimeout(() => this.send(), this.lingerMs);
  }

  /** Sends what waits, then waits for what is in flight; `deadline` gives up on appends still retrying. */
  async flush(deadline?: AbortSignal): Promise<void> {
    this.send();
    const onDeadline = () => this.stopping.abort();
    deadline?.addEventListener('abort', onDeadline, { once: true });
    try {
      await Promise.allSettled([...this.inFlight]);
    } finally {
      deadline?.removeEventListener('abort', onDeadline);
    }
  }

  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    const events = this.waiting;
    this.waiting = [];
    const streamId = requestBatchStreamId(randomUUID());
    const publish = this.policy
      .execute(() => this.store.append(streamId, events, { expected: NO_STREAM }), this.stopping.signal)
      .then(
        () => undefined,
        (err: unknown) => {
          if (isConcurrencyConflict(err)) return; // already recorded
          this.logger.error(
            { err, requestIds: events.map((event) => event.data.requestId) },
            'could not record completed requests',
          );
        },
      )
      .finally(() => this.inFlight.delete(publish));
    this.inFlight.add(publish);
  }
}
