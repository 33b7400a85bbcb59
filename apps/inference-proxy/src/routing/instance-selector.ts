import {
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { proxyErrors } from '../openai/openai-errors.js';
import { type RoutedInstance, type RoutingTable } from './routing-table.js';

/** Options for {@link InstanceSelector}. */
export interface InstanceSelectorOptions {
  breakerFailures: number;
  halfOpenAfterMs: number;
  capacityWaitMs: number;
  queueLimit: number;
  /** Called once each time an instance's breaker opens. */
  onBreakerOpened(
    instance: RoutedInstance,
    consecutiveFailures: number,
    lastFailure: string,
    retryAt: Date,
  ): void;
  /** Called when a request finds no ready instance of its deployment (scale from zero). */
  onColdDemand(deploymentId: string): void;
}

/** A slot on an instance, held for one attempt; `release` frees it (once). */
export interface InstanceLease {
  instance: RoutedInstance;
  breaker: CircuitBreakerPolicy;
  release(): void;
}

interface Waiter {
  deploymentId: string;
  affinityKey: string | undefined;
  excluded: ReadonlySet<string>;
  resolve(lease: InstanceLease): void;
  timer: NodeJS.Timeout;
}

/** Prefix affinity may pick an instance this much busier than the least loaded one. */
const AFFINITY_SLACK = 2;
/** Prefixes remembered for affinity (oldest forgotten first). */
const AFFINITY_ENTRIES = 10_000;

/**
 * Picks the instance for each attempt: least connections within each instance's concurrency,
 * random among equals, preferring the instance that last served the same prompt prefix while it
 * is within {@link AFFINITY_SLACK} of the least loaded (its KV cache may still hold the prefix).
 * Instances whose breaker is open are skipped. A request that finds no free slot waits in a
 * bounded queue for one, up to `capacityWaitMs`; then it gets `NO_CAPACITY` (503 + retry-after).
 */
export class InstanceSelector {
  private readonly breakers = new Map<string, { policy: CircuitBreakerPolicy; failures: number }>();
  private readonly affinity = new Map<string, string>();
  private readonly waiters: Waiter[] = [];
  private readonly queuedByDeployment = new Map<string, number>();

  constructor(
    private readonly table: RoutingTable,
    private readonly options: InstanceSelectorOptions,
  ) {
    table.onInstanceReady(() => this.serveWaiters());
  }

  /** Requests of a deployment waiting for capacity right now. */
  queued(deploymentId: string): number {
    return this.queuedByDeployment.get(deploymentId) ?? 0;
  }

  /** A free slot now, or after waiting; `excluded` are instances this request already tried. */
  acquire(
    deploymentId: string,
    affinityKey: string | undefined,
    excluded: ReadonlySet<string>,
  ): Promise<InstanceLease> {
    const now = this.tryAcquire(deploymentId, affinityKey, excluded);
    if (now) return Promise.resolve(now);
    const ready = this.table
      .instancesOf(deploymentId)
      .filter((instance) => !excluded.has(instance.instanceId));
    if (ready.length === 0) this.options.onColdDemand(deploymentId);
    const retryAfterSeconds = Math.ceil(this.options.capacityWaitMs / 1000);
    if (this.waiters.length >= this.options.queueLimit)
      return Promise.reject(proxyErrors.noCapacity(retryAfterSeconds));
    return new Promise<InstanceLease>((resolve, reject) => {
      const waiter: Waiter = {
        deploymentId,
        affinityKey,
        excluded,
        resolve,
        timer: setTimeout(() => {
          this.removeWaiter(waiter);
          reject(proxyErrors.noCapacity(retryAfterSeconds));
        }, this.options.capacityWaitMs),
      };
      this.waiters.push(waiter);
      this.queuedByDeployment.set(deploymentId, this.queued(deploymentId) + 1);
    });
  }

  /** Remembers which instance served a prefix (after a successful answer). */
  rememberAffinity(affinityKey: string | undefined, instanceId: string): void {
    if (affinityKey === undefined) return;
    this.affinity.delete(affinityKey);
    this.affinity.set(affinityKey, instanceId);
    if (this.affinity.size > AFFINITY_ENTRIES) {
      const oldest = this.affinity.keys().next();
      if (!oldest.done) this.affinity.delete(oldest.value);
    }
  }

  private tryAcquire(
    deploymentId: string,
    affinityKey: string | undefined,
    excluded: ReadonlySet<string>,
  ): InstanceLease | undefined {
    const candidates = this.table
      .instancesOf(deploymentId)
      .filter(
        (instance) =>
          !excluded.has(instance.instanceId) &&
          instance.inFlight < instance.concurrency &&
          this.breakerOf(instance).policy.state !== CircuitState.Open,
      );
    if (candidates.length === 0) return undefined;
    let least = Infinity;
    for (const candidate of candidates) least = Math.min(least, candidate.inFlight);
    const preferredId = affinityKey === undefined ? undefined : this.affinity.get(affinityKey);
    const preferred = candidates.find(
      (candidate) => candidate.instanceId === preferredId && candidate.inFlight <= least + AFFINITY_SLACK,
    );
    const leastLoaded = candidates.filter((candidate) => candidate.inFlight === least);
    const chosen = preferred ?? leastLoaded[Math.floor(Math.random() * leastLoaded.length)];
    if (!chosen) return undefined;
    return this.lease(chosen);
  }

  private lease(instance: RoutedInstance): InstanceLease {
    instance.inFlight++;
    let released = false;
    return {
      instance,
      breaker: this.breakerOf(instance).policy,
      release: () => {
        if (released) return;
        released = true;
        instance.inFlight--;
        this.serveWaiters();
      },
    };
  }

  private breakerOf(instance: RoutedInstance): { policy: CircuitBreakerPolicy; failures: number } {
    let entry = this.breakers.get(instance.instanceId);
    if (!entry) {
      const policy = circuitBreaker(handleAll, {
        halfOpenAfter: this.options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.options.breakerFailures),
      });
      const created = { policy, failures: 0 };
      let lastFailure = '';
      policy.onFailure(({ reason }) => {
        created.failures++;
        lastFailure = 'error' in reason ? describe(reason.error) : 'failed';
      });
      policy.onSuccess(() => (created.failures = 0));
      policy.onBreak(() => {
        this.options.onBreakerOpened(
          instance,
          Math.max(created.failures, 1),
          lastFailure,
          new Date(Date.now() + this.options.halfOpenAfterMs),
        );
      });
      // A half-open breaker admits a trial request: wake whoever waits for that deployment.
      policy.onHalfOpen(() => this.serveWaiters());
      entry = created;
      this.breakers.set(instance.instanceId, entry);
    }
    return entry;
  }

  private serveWaiters(): void {
    for (let index = 0; index < this.waiters.length;) {
      const waiter = this.waiters[index]!;
      const lease = this.tryAcquire(waiter.deploymentId, waiter.affinityKey, waiter.excluded);
      if (lease) {
        this.removeWaiter(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(lease);
      } else {
        index++;
      }
    }
  }

  private removeWaiter(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter);
    if (index < 0) return;
    this.waiters.splice(index, 1);
    this.queuedByDeployment.set(waiter.deploymentId, Math.max(0, this.queued(waiter.deploymentId) - 1));
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 2000);
  return String(err).slice(0, 2000);
}
