import { type Event, type EventContract, type StreamDeclaration } from '@tessera/contracts';
import { type EntityManager } from 'typeorm';

/**
 * A read model built from one stream. `apply` writes rows through the given transaction's
 * manager only; the runner commits them together with the checkpoint.
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
  /** Applies one event. Throwing parks the event in the dead-letter table. */
  apply(event: Event, manager: EntityManager): Promise<void>;
  /** Deletes every row the projection owns, before a rebuild from sequence 1. */
  reset(manager: EntityManager): Promise<void>;
}
