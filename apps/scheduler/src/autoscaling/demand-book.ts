import { type DemandObserved, type EventDataOf } from '@tessera/contracts';
import { type DemandTotals } from './autoscaler.js';

type DemandReport = EventDataOf<typeof DemandObserved>;

/**
 * The latest demand report of each proxy replica per deployment, and when each deployment last
 * showed activity. Reports older than `staleMs` after their window ended no longer count (a
 * replica that stopped reporting is gone, not busy).
 */
export class DemandBook {
  private readonly latest = new Map<string, Map<string, { endsAt: number; report: DemandReport }>>();
  private readonly lastActive = new Map<string, number>();

  constructor(private readonly staleMs: number) {}

  /** Records a report; returns true when it shows activity (requests, in flight, queued or refused). */
  record(report: DemandReport): boolean {
    const endsAt = Date.parse(report.windowStart) + report.windowMs;
    const bySource = this.latest.get(report.deploymentId) ?? new Map();
    const previous = bySource.get(report.source);
    if (!previous || previous.endsAt <= endsAt) bySource.set(report.source, { endsAt, report });
    this.latest.set(report.deploymentId, bySource);
    const active = report.inFlight + report.queued + report.requests + report.rejectedForCapacity > 0;
    if (active)
      this.lastActive.set(
        report.deploymentId,
        Math.max(this.lastActive.get(report.deploymentId) ?? 0, endsAt),
      );
    return active;
  }

  /** The fresh reports of a deployment, summed; undefined when none is fresh. */
  totals(deploymentId: string, now: number): DemandTotals | undefined {
    const bySource = this.latest.get(deploymentId);
    if (!bySource) return undefined;
    let totals: DemandTotals | undefined;
    for (const [source, { endsAt, report }] of bySource) {
      if (now - endsAt > this.staleMs) {
        bySource.delete(source);
        continue;
      }
      totals ??= { inFlight: 0, queued: 0, requests: 0, rejectedForCapacity: 0 };
      totals.inFlight += report.inFlight;
      totals.queued += report.queued;
      totals.requests += report.requests;
      totals.rejectedForCapacity += report.rejectedForCapacity;
    }
    return totals;
  }

  /** When the deployment last showed activity, if it did since the book started. */
  lastActiveAt(deploymentId: string): number | undefined {
    return this.lastActive.get(deploymentId);
  }
}
