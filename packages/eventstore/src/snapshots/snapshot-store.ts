import { Objm, type ObjectStore } from '@nats-io/obj';
import { type NatsConnection } from '@nats-io/transport-node';
import { snapshotBucket, type ContextName } from '@tessera/contracts';
import { type StreamPosition } from '../event-store.js';
import { type Namespace } from '../namespace.js';

/** A stored snapshot: the aggregate's encoded state as of `position`. */
export interface Snapshot {
  /** The encoding's version; a snapshot of another version is ignored and rebuilt. */
  readonly schemaVersion: number;
  readonly position: StreamPosition;
  readonly state: unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Aggregate snapshots in a JetStream object store, one bucket per context (`snapshots_billing`).
 * An object store rather than KV because a busy aggregate's state can outgrow one message;
 * JetStream chunks objects. A snapshot is only ever a shortcut: losing the bucket costs one
 * full replay per aggregate, never data.
 */
export class SnapshotStore {
  private readonly buckets = new Map<string, Promise<ObjectStore>>();

  constructor(
    private readonly connection: NatsConnection,
    private readonly namespace: Namespace,
    private readonly options: { replicas?: number } = {},
  ) {}

  /** The bucket name a context's snapshots live in (namespaced in tests). */
  bucketName(context: ContextName): string {
    return this.namespace.consumerName(snapshotBucket(context));
  }

  /** The snapshot of an aggregate, or undefined when there is none (or it cannot be read). */
  async load(context: ContextName, streamId: string): Promise<Snapshot | undefined> {
    const bucket = await this.bucket(context);
    const data = await bucket.getBlob(streamId);
    if (data === null) return undefined;
    const parsed = JSON.parse(decoder.decode(data)) as Partial<Snapshot>;
    if (
      typeof parsed.schemaVersion !== 'number' ||
      typeof parsed.position?.sequence !== 'number' ||
      typeof parsed.position.version !== 'number'
    ) {
      return undefined;
    }
    return parsed as Snapshot;
  }

  /** Replaces an aggregate's snapshot. */
  async save(context: ContextName, streamId: string, snapshot: Snapshot): Promise<void> {
    const bucket = await this.bucket(context);
    await bucket.putBlob({ name: streamId }, encoder.encode(JSON.stringify(snapshot)));
  }

  /** Drops an aggregate's snapshot (tests; an operator who suspects a bad encoding). */
  async remove(context: ContextName, streamId: string): Promise<void> {
    const bucket = await this.bucket(context);
    await bucket.delete(streamId).catch(() => undefined);
  }

  private bucket(context: ContextName): Promise<ObjectStore> {
    const name = this.bucketName(context);
    let bucket = this.buckets.get(name);
    if (!bucket) {
      bucket = new Objm(this.connection).create(name, { replicas: this.options.replicas ?? 1 });
      // A failed open (NATS down) must not be remembered: the next call tries again.
      bucket.catch(() => this.buckets.delete(name));
      this.buckets.set(name, bucket);
    }
    return bucket;
  }
}
