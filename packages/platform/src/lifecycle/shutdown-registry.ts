import { Global, Injectable, Module, type BeforeApplicationShutdown } from '@nestjs/common';
import { PlatformConfig } from '../config/define-config.js';
import { HealthRegistry } from '../health/health-registry.js';
import { InjectLogger, type PlatformLogger } from '../logging/index.js';
import { TransportRegistry } from './transport-registry.js';

/**
 * Drain order on shutdown. Readiness turns false before any of them, then:
 * `rpc` (stop taking requests, let in-flight ones answer), `consumers` (stop pulling, finish the
 * current message), `connections` (drain NATS, close the database).
 */
export const SHUTDOWN_PHASES = ['rpc', 'consumers', 'connections'] as const;
/** One of {@link SHUTDOWN_PHASES}. */
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

/**
 * A drain step. `deadline` aborts when the grace period is spent: a step should then give up
 * waiting (e.g. close instead of drain) and return quickly.
 */
export type DrainHook = (deadline: AbortSignal) => Promise<void>;

/**
 * Runs shutdown in a fixed order within `SHUTDOWN_GRACE_MS`, so a rolling deploy loses no request:
 * modules register their drain steps here instead of each tearing itself down in its own hook,
 * whose order Nest does not guarantee across modules.
 */
@Injectable()
export class ShutdownRegistry implements BeforeApplicationShutdown {
  private readonly hooks = new Map<ShutdownPhase, { name: string; hook: DrainHook }[]>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly health: HealthRegistry,
    private readonly config: PlatformConfig,
    @InjectLogger() private readonly logger: PlatformLogger,
  ) {}

  /** Registers a drain step for a phase; steps of one phase run concurrently. */
  onDrain(phase: ShutdownPhase, name: string, hook: DrainHook): void {
    const list = this.hooks.get(phase) ?? [];
    list.push({ name, hook });
    this.hooks.set(phase, list);
  }

  /** Nest calls this on `app.close()` (and on SIGTERM/SIGINT with shutdown hooks enabled). */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    await this.drain(signal);
  }

  /** Runs the drain once; later calls wait for the same run. */
  drain(signal?: string): Promise<void> {
    this.running ??= this.runDrain(signal);
    return this.running;
  }

  private async runDrain(signal: string | undefined): Promise<void> {
    const graceMs = this.config.SHUTDOWN_GRACE_MS;
    const started = Date.now();
    this.logger.info({ signal, graceMs }, 'shutting down: readiness off, draining');
    this.health.markShuttingDown();

    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error(`shutdown grace of ${graceMs} ms spent`)),
      graceMs,
    );
    timer.unref();
    try {
      for (const phase of SHUTDOWN_PHASES) {
        await this.runPhase(phase, deadline.signal);
      }
    } finally {
      clearTimeout(timer);
    }
    this.logger.info({ elapsedMs: Date.now() - started, forced: deadline.signal.aborted }, 'drained');
  }

  private async runPhase(phase: ShutdownPhase, deadline: AbortSignal): Promise<void> {
    const steps = this.hooks.get(phase) ?? [];
    if (steps.length === 0) return;
    // Connection teardown runs even when the grace period is spent: it is what releases resources.
    const bounded = phase !== 'connections';
    const results = await Promise.allSettled(
      steps.map(({ name, hook }) =>
        bounded ? untilAborted(hook(deadline), deadline, `${phase}:${name}`) : hook(deadline),
      ),
    );
    results.forEach((result, index) => {
      if (result.status === 'rejected') {
        this.logger.warn({ err: result.reason, phase, step: steps[index]?.name }, 'drain step failed');
      }
    });
  }
}

/** Resolves with `work`, or rejects when the deadline aborts first (the step keeps running, unawaited). */
function untilAborted(work: Promise<void>, deadline: AbortSignal, what: string): Promise<void> {
  if (deadline.aborted) return Promise.reject(new Error(`${what}: skipped, grace period spent`));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new Error(`${what}: grace period spent before it finished`));
    deadline.addEventListener('abort', onAbort, { once: true });
    work.then(
      () => {
        deadline.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        deadline.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Provides the {@link ShutdownRegistry} and the {@link TransportRegistry} to every module. */
@Global()
@Module({ providers: [ShutdownRegistry, TransportRegistry], exports: [ShutdownRegistry, TransportRegistry] })
export class LifecycleModule {}
