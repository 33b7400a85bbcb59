import { createHash, timingSafeEqual } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Clock, EngineName, InstanceStatus, LaunchInstance } from '@tessera/contracts';
import type { Logger } from 'pino';
import type { GpuInventory } from '../capacity/gpu-inventory.js';
import { EngineFailure, type Engine, type EngineHandle } from '../engines/engine.js';
import { ModelUnavailableError, type ModelStore } from '../models/model-store.js';
import { minerErrors } from '../shared/miner-errors.js';

/** Options for {@link InstanceManager}. */
export interface InstanceManagerOptions {
  inventory: GpuInventory;
  engines: readonly Engine[];
  models: ModelStore;
  /** Instances holding GPUs at once (starting or ready). */
  maxInstances: number;
  clock: Clock;
  logger: Logger;
  /** Failed and stopped instances kept for status queries; the oldest go first. */
  keepEnded?: number;
}

/** Where the data plane may send a request, or why not. */
export type DataPlaneRoute =
  | { kind: 'ready'; baseUrl: string }
  | { kind: 'not-found' }
  | { kind: 'unauthorized' }
  | { kind: 'not-ready'; state: InstanceStatus['state'] };

interface InstanceRecord {
  request: LaunchInstance;
  /** sha256 of the data-plane token: compared in constant time, the token itself is not kept. */
  tokenDigest: Buffer;
  status: InstanceStatus;
  handle: EngineHandle | undefined;
  baseUrl: string | undefined;
  stopping: AbortController;
}

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * The instances on this host and their lifecycle: `starting` (model fetched and hashed, engine
 * started) → `ready` (health check answered) → `stopped` on request, or `failed` with the reason.
 * GPUs are reserved when a launch is accepted and released when it ends, so a launch beyond free
 * capacity is refused, never over-committed. State lives in memory: engines are children of this
 * process and end with it, so after a restart there is nothing to resume.
 */
export class InstanceManager {
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly engines: ReadonlyMap<EngineName, Engine>;

  constructor(private readonly options: InstanceManagerOptions) {
    this.engines = new Map(options.engines.map((engine) => [engine.name, engine]));
  }

  get maxInstances(): number {
    return this.options.maxInstances;
  }

  get engineNames(): EngineName[] {
    return [...this.engines.keys()];
  }

  get running(): number {
    return [...this.instances.values()].filter((record) => isRunning(record.status.state)).length;
  }

  /**
   * Accepts a launch and starts it in the background; returns its status (`starting`). The same
   * request again returns the current status (a retried launch is a no-op); the same id with
   * another request is refused.
   */
  launch(request: LaunchInstance): InstanceStatus {
    const existing = this.instances.get(request.instanceId);
    if (existing) {
      if (!isDeepStrictEqual(existing.request, request))
        throw minerErrors.instanceConflict(request.instanceId);
      return { ...existing.status };
    }
    const engine = this.engines.get(request.engine.name);
    if (!engine) throw minerErrors.engineUnavailable(request.engine.name, this.engineNames);
    if (this.running >= this.options.maxInstances) {
      throw minerErrors.capacityExceeded(`this miner runs at most ${this.options.maxInstances} instances`, {
        running: this.running,
        maxInstances: this.options.maxInstances,
      });
    }
    this.options.inventory.reserve(request.instanceId, request.gpus);

    const record: InstanceRecord = {
      request,
      tokenDigest: digestOf(request.dataPlaneToken),
      status: {
        instanceId: request.instanceId,
        deploymentId: request.deploymentId,
        model: { name: request.model.name, uri: request.model.uri },
        engine: request.engine.name,
        gpus: [...request.gpus],
        concurrency: request.concurrency,
        state: 'starting',
        reason: null,
        modelSha256: null,
        createdAt: this.now(),
        readyAt: null,
        endedAt: null,
      },
      handle: undefined,
      baseUrl: undefined,
      stopping: new AbortController(),
    };
    this.instances.set(request.instanceId, record);
    void this.start(record, engine);
    return { ...record.status };
  }

  list(): InstanceStatus[] {
    return [...this.instances.values()].map((record) => ({ ...record.status }));
  }

  get(instanceId: string): InstanceStatus {
    return { ...this.record(instanceId).status };
  }

  /** Stops an instance (whatever its state) and frees its GPUs; stopping a stopped one is a no-op. */
  async stop(instanceId: string): Promise<InstanceStatus> {
    const record = this.record(instanceId);
    if (isRunning(record.status.state)) {
      record.stopping.abort();
      this.end(record, 'stopped', 'stopped on request');
      await record.handle?.stop();
    }
    return { ...record.status };
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.instances.keys()].map((instanceId) => this.stop(instanceId)));
  }

  /** The data plane's check: the token must be this instance's, and the instance ready. */
  route(instanceId: string, presentedToken: string | undefined): DataPlaneRoute {
    const record = this.instances.get(instanceId);
    if (!record) return { kind: 'not-found' };
    // Digests have one length, so the comparison takes the same time whatever was presented.
    if (presentedToken === undefined || !timingSafeEqual(digestOf(presentedToken), record.tokenDigest)) {
      return { kind: 'unauthorized' };
    }
    if (record.status.state !== 'ready' || record.baseUrl === undefined) {
      return { kind: 'not-ready', state: record.status.state };
    }
    return { kind: 'ready', baseUrl: record.baseUrl };
  }

  private async start(record: InstanceRecord, engine: Engine): Promise<void> {
    const { request } = record;
    const logger = this.options.logger.child({ instanceId: request.instanceId });
    try {
      const model = await this.options.models.resolve(request.model.uri, {
        expectedSha256: request.model.sha256,
        signal: record.stopping.signal,
      });
      if (record.status.state !== 'starting') return;
      record.status.modelSha256 = model.sha256;
      record.handle = engine.launch({
        instanceId: request.instanceId,
        model: { name: request.model.name, path: model.path },
        spec: request.engine,
        gpus: request.gpus,
        concurrency: request.concurrency,
      });
      const baseUrl = await record.handle.ready;
      if (record.status.state !== 'starting') return;
      record.baseUrl = baseUrl;
      record.status.state = 'ready';
      record.status.readyAt = this.now();
      logger.info({ engine: request.engine.name, modelSha256: model.sha256 }, 'instance ready');
      void record.handle.failed.then((reason) => {
        if (record.status.state === 'ready') {
          logger.warn({ reason }, 'instance engine failed');
          this.end(record, 'failed', reason);
        }
      });
    } catch (err) {
      if (record.status.state !== 'starting') return;
      const known = err instanceof EngineFailure || err instanceof ModelUnavailableError;
      const reason = known
        ? err.message
        : `unexpected failure: ${err instanceof Error ? err.message : String(err)}`;
      logger.warn({ reason, ...(known ? {} : { err }) }, 'instance failed to start');
      this.end(record, 'failed', reason);
      await record.handle?.stop();
    }
  }

  private end(record: InstanceRecord, state: 'failed' | 'stopped', reason: string): void {
    record.status.state = state;
    record.status.reason = reason;
    record.status.endedAt = this.now();
    record.baseUrl = undefined;
    this.options.inventory.release(record.request.instanceId);
    this.forgetOldEnded();
  }

  private forgetOldEnded(): void {
    const keep = this.options.keepEnded ?? 100;
    const ended = [...this.instances.values()].filter((record) => !isRunning(record.status.state));
    for (const record of ended.slice(0, Math.max(0, ended.length - keep))) {
      this.instances.delete(record.request.instanceId);
    }
  }

  private record(instanceId: string): InstanceRecord {
    const record = this.instances.get(instanceId);
    if (!record) throw minerErrors.instanceNotFound(instanceId);
    return record;
  }

  private now(): string {
    return this.options.clock.now().toISOString();
  }
}

function isRunning(state: InstanceStatus['state']): boolean {
  return state === 'starting' || state === 'ready';
}
