import { type Event, type EventContract, type StreamDeclaration } from '@tessera/contracts';
import { type EntityManager } from 'typeorm';

/** What every consumer of a stream declares. */
export interface ConsumerDefinition {
  /**
   * Unique, stable, kebab-case `<service>-<what>` (e.g. `billing-ledger`): it names the
   * checkpoint row, the dead letters and the lease, so renaming one means migrating them.
   */
  readonly name: string;
  /** The stream it reads. */
  readonly stream: StreamDeclaration;
  /** Narrows the stream to one subject pattern (logical, e.g. `billing.account.>`). */
  readonly filterSubject?: string;
  /** Event contracts it handles; other types are skipped without parsing. Omit to receive all. */
  readonly handles?: readonly EventContract[];
}

/**
 * A read model built from one stream. `apply` writes rows through the given transaction's
 * manager only; the runner commits them together with the checkpoint, so a read model is exact
 * and can be rebuilt from sequence 1 with identical results. It receives a batch of events in
 * stream order so it can write them in few statements; when a batch fails, the runner calls it
 * again one event at a time to find and park the failing ones.
 */
export interface Projection extends ConsumerDefinition {
  /** Applies events in stream order. A poison failure on a single-event call parks that event. */
  apply(events: readonly Event[], manager: EntityManager): Promise<void>;
  /** Deletes every row the projection owns, before a rebuild from sequence 1. */
  reset(manager: EntityManager): Promise<void>;
}

/**
 * Turns events into commands (a deposit observed → credit the account). Unlike a projection it
 * writes nothing in the checkpoint's transaction: the checkpoint moves after `react` resolved,
 * so an event can be delivered again after a crash — every command it issues must be
 * idempotent (an idempotency key derived from the event). Never rebuilt: replaying would
 * re-issue commands.
 */
export interface Reactor extends ConsumerDefinition {
  /** Reacts to events in stream order. A transient failure is retried; a poison one parks the event. */
  react(events: readonly Event[]): Promise<void>;
}

/** The role a consumer plays; the runner's behaviour differs only where the role demands. */
export type ConsumerRole =
  { kind: 'projection'; projection: Projection } | { kind: 'reactor'; reactor: Reactor };

/** Consumer names: kebab-case, as durable names and KV keys allow. */
export const CONSUMER_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
