import { type Event, type EventContract, type StreamDeclaration } from '@tessera/contracts';
import { type EntityManager } from 'typeorm';

/**
 * A read model built from one stream. `apply` writes rows through the given transaction's
 * manager only; the runner commits them together with the checkpoint. It receives a batch of
 * events in stream order so it can write them in few statements; when a batch fails, the runner
 * calls it again one event at a time to find and park the failing ones.
 */
export interface Projection {
  /** Unique, stable name: it names the durable consumer and the checkpoint row. Letters, digits, '-' and '_'. */
  readonly name: string;
  /** The stream it reads. */
  readonly stream: StreamDeclaration;
  /** Narrows the stream to one subject pattern (logical, e.g. `billing.account.>`). */
  readonly filterSubject?: string;
  /** Event contracts it applies; other types are skipped without parsing. Omit to receive all. */
  readonly handles?: readonly EventContract[];
  /** Applies events in stream order. Throwing on a single-event call parks that event in the dead-letter table. */
  apply(events: readonly Event[], manager: EntityManager): Promise<void>;
  /** Deletes every row the projection owns, before a rebuild from sequence 1. */
  reset(manager: EntityManager): Promise<void>;
}
