import { Kvm, type KV } from '@nats-io/kv';
import { type NatsConnection } from '@nats-io/transport-node';
import { leaseBucket } from '@tessera/contracts';

/** Options of a {@link Lease}. */
export interface LeaseOptions {
  /** What the lease guards, e.g. `chain-writer`. Letters, digits, '-' and '_'. */
  name: string;
  /**
   * Who asks. Stable per instance (e.g. `<service>@<hostname>`), so an instance restarted on the
   * same host takes its own lease back at once instead of waiting for it to expire.
   */
  holder: string;
  /** A lease not renewed for this long lapses and another holder may take it. Default 15 s. */
  ttlMs?: number;
  /** Test isolation prefix, as for the event store; empty in production. */
  namespace?: string;
}

/**
 * A singleton guard in NATS KV (ARCHITECTURE.md, "singletons"): whoever creates the key holds
 * the lease and renews it every third of the TTL with a compare-and-set on the key's revision;
 * the bucket's max age removes a key its holder stopped renewing (a crashed process), so another
 * instance takes over within one TTL.
 */
export class Lease {
  private revision = 0;
  private held = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;

  private constructor(
    private readonly kv: KV,
    private readonly options: Required<Omit<LeaseOptions, 'namespace'>>,
  ) {}

  /** Opens (creating if needed) the lease bucket. Call {@link start} to compete for the lease. */
  static async open(connection: NatsConnection, options: LeaseOptions): Promise<Lease> {
    if (!/^[A-Za-z0-9_-]+$/.test(options.name))
      throw new RangeError(`lease name "${options.name}" is not a KV key`);
    const ttlMs = options.ttlMs ?? 15_000;
    // One bucket per lease: the TTL is the bucket's max age, so it belongs to the lease.
    const bucket = options.namespace
      ? `${options.namespace}_${leaseBucket(options.name)}`
      : leaseBucket(options.name);
    const kv = await new Kvm(connection).create(bucket, { ttl: ttlMs, history: 1 });
    return new Lease(kv, { name: options.name, holder: options.holder, ttlMs });
  }

  /** Whether this instance holds the lease as of its last renewal. */
  get isHeld(): boolean {
    return this.held;
  }

  /** Tries to take the lease now, then keeps renewing (or trying) every third of the TTL. */
  async start(): Promise<boolean> {
    await this.tick();
    this.timer ??= setInterval(() => void this.tick(), Math.max(100, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
    return this.held;
  }

  /** Stops renewing and hands the lease back, so another instance need not wait for it to lapse. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.held) return;
    this.held = false;
    await this.kv.delete(this.options.name, { previousSeq: this.revision }).catch(() => undefined);
  }

  /** Stops renewing without handing back: what a crash looks like to the others (tests). */
  abandon(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.held = false;
  }

  private async tick(): Promise<void> {
    // A slow round trip must not let two ticks interleave their compare-and-sets.
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.renewOrAcquire();
    } finally {
      this.ticking = false;
    }
  }

  private async renewOrAcquire(): Promise<void> {
    try {
      if (this.held) {
        this.revision = await this.kv.update(this.options.name, this.options.holder, this.revision);
        return;
      }
      this.revision = await this.kv.create(this.options.name, this.options.holder);
      this.held = true;
    } catch {
      // Someone else holds it — unless it is this holder from before a restart.
      this.held = false;
      const entry = await this.kv.get(this.options.name).catch(() => null);
      if (entry?.operation === 'PUT' && entry.string() === this.options.holder) {
        this.revision = await this.kv
          .update(this.options.name, this.options.holder, entry.revision)
          .catch(() => 0);
        this.held = this.revision > 0;
      }
    }
  }
}
