import { Injectable } from '@nestjs/common';

/** Result of one readiness check. */
export interface HealthCheckResult {
  up: boolean;
  detail?: string;
}

/** Something readiness depends on: a connection, a database, a projection that must not stall. */
export interface HealthIndicator {
  readonly name: string;
  check(): Promise<HealthCheckResult>;
}

/** The readiness report served at `/health/ready`. */
export interface ReadinessReport {
  ready: boolean;
  /** True once shutdown began: the instance stops taking work before it drains. */
  shuttingDown: boolean;
  indicators: Record<string, HealthCheckResult>;
}

/** How long one indicator may take before it counts as down; a hung check must not hang the probe. */
const CHECK_TIMEOUT_MS = 2_000;

/**
 * Where modules register what readiness depends on. Ready means: not shutting down and every
 * indicator up.
 */
@Injectable()
export class HealthRegistry {
  private readonly indicators = new Map<string, HealthIndicator>();
  private shuttingDown = false;

  /** Adds an indicator; names are unique so the report stays readable. */
  register(indicator: HealthIndicator): void {
    if (this.indicators.has(indicator.name)) {
      throw new Error(`health indicator "${indicator.name}" is already registered`);
    }
    this.indicators.set(indicator.name, indicator);
  }

  /** Removes an indicator (a consumer that was stopped on purpose). */
  unregister(name: string): void {
    this.indicators.delete(name);
  }

  /** Readiness turns false for good: load balancers stop sending work while we drain. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Runs every indicator concurrently; a throwing or slow check counts as down. */
  async readiness(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.indicators.values()].map(
        async (indicator) => [indicator.name, await runCheck(indicator)] as const,
      ),
    );
    const indicators = Object.fromEntries(entries);
    const ready = !this.shuttingDown && entries.every(([, result]) => result.up);
    return { ready, shuttingDown: this.shuttingDown, indicators };
  }
}

async function runCheck(indicator: HealthIndicator): Promise<HealthCheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthCheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ up: false, detail: `check timed out after ${CHECK_TIMEOUT_MS} ms` }),
      CHECK_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([indicator.check(), timeout]);
  } catch (err) {
    return { up: false, detail: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Readiness indicator for anything with an eventstore-style `health()` (a `ProjectionRunner`, a
 * consumer): down while it is stalled. Structural, so the health code does not depend on the runner.
 */
export function stalledConsumerIndicator(consumer: {
  health(): { name: string; stalled: boolean; lastError?: string | undefined };
}): HealthIndicator {
  return {
    name: `consumer:${consumer.health().name}`,
    check: () => {
      const health = consumer.health();
      if (!health.stalled) return Promise.resolve({ up: true });
      return Promise.resolve({
        up: false,
        detail: health.lastError === undefined ? 'stalled' : `stalled: ${health.lastError}`,
      });
    },
  };
}
