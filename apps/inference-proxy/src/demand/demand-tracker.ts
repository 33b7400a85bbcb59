import { DemandObserved, demandStreamId, type Clock } from '@tessera/contracts';
import { type EventStore } from '@tessera/eventstore';
import { type Logger } from 'pino';

interface Window {
  requests: number;
  rejectedForCapacity: number;
  inFlight: number;
}

/**
 * What this replica sees of each deployment, reported to the autoscaler as
 * `inference.DemandObserved`: every interval for deployments with traffic, and at once when a
 * request finds no ready instance (that report is what scales a deployment up from zero).
 */
export class DemandTracker {
  private readonly windows = new Map<string, Window>();
  private windowStart: Date;
  /** Cold reports sent recently, so a burst of requests to a cold model makes one report a second. */
  private readonly coldReportedAt = new Map<string, number>();

  constructor(
    private readonly store: EventStore,
    private readonly source: string,
    private readonly queuedOf: (deploymentId: string) => number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.windowStart = clock.now();
  }

  arrived(deploymentId: string): void {
    this.window(deploymentId).requests++;
  }

  started(deploymentId: string): void {
    this.window(deploymentId).inFlight++;
  }

  ended(deploymentId: string): void {
    const window = this.window(deploymentId);
    window.inFlight = Math.max(0, window.inFlight - 1);
  }

  rejectedForCapacity(deploymentId: string): void {
    this.window(deploymentId).rejectedForCapacity++;
  }

  /** A request found no ready instance: report at once (at most once a second per deployment). */
  cold(deploymentId: string): void {
    const now = this.clock.now();
    if (now.getTime() - (this.coldReportedAt.get(deploymentId) ?? 0) < 1_000) return;
    this.coldReportedAt.set(deploymentId, now.getTime());
    const window = this.window(deploymentId);
    this.publish(deploymentId, {
      windowStart: this.windowStart,
      windowMs: Math.max(1, now.getTime() - this.windowStart.getTime()),
      inFlight: window.inFlight,
      queued: Math.max(1, this.queuedOf(deploymentId)),
      requests: Math.max(1, window.requests),
      rejectedForCapacity: window.rejectedForCapacity,
    });
  }

  /** Reports every deployment with traffic in the window that ends now, and starts the next window. */
  report(): void {
    const now = this.clock.now();
    const windowMs = Math.max(1, now.getTime() - this.windowStart.getTime());
    for (const [deploymentId, window] of this.windows) {
      const queued = this.queuedOf(deploymentId);
      if (
        window.requests === 0 &&
        window.inFlight === 0 &&
        queued === 0 &&
        window.rejectedForCapacity === 0
      ) {
        this.windows.delete(deploymentId);
        continue;
      }
      this.publish(deploymentId, {
        windowStart: this.windowStart,
        windowMs,
        inFlight: window.inFlight,
        queued,
        requests: window.requests,
        rejectedForCapacity: window.rejectedForCapacity,
      });
      window.requests = 0;
      window.rejectedForCapacity = 0;
    }
    this.windowStart = now;
  }

  private publish(
    deploymentId: string,
    figures: {
      windowStart: Date;
      windowMs: number;
      inFlight: number;
      queued: number;
      requests: number;
      rejectedForCapacity: number;
    },
  ): void {
    const event = DemandObserved.create({
      deploymentId,
      source: this.source,
      windowStart: figures.windowStart.toISOString(),
      windowMs: Math.min(figures.windowMs, 3_600_000),
      inFlight: figures.inFlight,
      queued: figures.queued,
      requests: figures.requests,
      rejectedForCapacity: figures.rejectedForCapacity,
    });
    // Demand is advisory and repeated every interval: a lost report is replaced by the next one.
    this.store.append(demandStreamId(deploymentId, this.source), [event]).catch((err: unknown) => {
      this.logger.warn({ err, deploymentId }, 'could not report demand');
    });
  }

  private window(deploymentId: string): Window {
    let window = this.windows.get(deploymentId);
    if (!window) {
      window = { requests: 0, rejectedForCapacity: 0, inFlight: 0 };
      this.windows.set(deploymentId, window);
    }
    return window;
  }
}
