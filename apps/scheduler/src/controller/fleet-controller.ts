import type { KeyringPair } from '@polkadot/keyring/types';
import {
  ErrorCode,
  MinerErrorCode,
  instanceStreamId,
  instanceToken,
  isTesseraError,
  minerDataPlaneBasePath,
  normalizeGpuType,
  type Clock,
  type DeploymentSpec,
  type DrainReason,
  type FailureCause,
  type InstanceStatus,
  type LaunchInstance,
} from '@tessera/contracts';
import { AggregateCache, type EventStore } from '@tessera/eventstore';
import { type RpcClient } from '@tessera/platform/messaging';
import { SignedRequestErrorCode } from '@tessera/bittensor';
import { type Logger } from 'pino';
import { type DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { decideScale, type AutoscalerSettings } from '../autoscaling/autoscaler.js';
import { DemandBook } from '../autoscaling/demand-book.js';
import { DemandFeed } from '../autoscaling/demand-feed.js';
import { GpuCharger, type KnownBillablePeriod } from '../billing/gpu-charger.js';
import { type SchedulerConfig } from '../config.js';
import { type SchedulerTables } from '../database/tables.js';
import { type CatalogState, type DeploymentRecord } from '../deployments/deployment-catalog.decider.js';
import { type DeploymentCatalog } from '../deployments/deployment-catalog.service.js';
import { FleetMonitor, runBounded, type MinerRecord } from '../fleet/fleet-monitor.js';
import {
  MinerClient,
  isConnectionRefused,
  isMinerUnreachable,
  type MinerAddress,
} from '../fleet/miner-client.js';
import {
  instanceDecider,
  isLive,
  type InstanceCommand,
  type InstanceFacts,
  type InstanceState,
} from '../instances/instance.decider.js';
import { FleetIndex, placeReplicas, type FleetMiner } from '../placement/fleet-index.js';

const ACTOR = 'service:scheduler';
/** How often a starting instance is asked whether it is ready. */
const STARTING_POLL_MS = 200;
/** Ended instances are remembered this long for the GPU charger (the projection catches up meanwhile). */
const REMEMBER_ENDED_MS = 10 * 60_000;

/** Miner answers that mean "not here": place the replica elsewhere. */
const REFUSALS: ReadonlySet<string> = new Set([
  MinerErrorCode.CapacityExceeded,
  MinerErrorCode.EngineUnavailable,
  MinerErrorCode.InstanceConflict,
  SignedRequestErrorCode.HotkeyNotAllowed,
  SignedRequestErrorCode.WrongAddressee,
]);

/** An instance this scheduler runs, with what only the running scheduler needs. */
interface LiveInstance {
  /** The aggregate's state (evolved in place by later commands). */
  readonly state: InstanceState;
  /** The spec it is launched with; undefined when its generation is no longer the deployment's. */
  launchSpec: DeploymentSpec | undefined;
  launchAttempts: number;
  nextLaunchAt: number;
  nextStartingPollAt: number;
  healthFailures: number;
  nextHealthCheckAt: number;
}

/**
 * What the holder of the placement lease does, pass after pass: poll the fleet, turn what miners
 * report into lifecycle events, check ready instances, move replica targets with demand, place
 * and launch missing replicas, drain and stop extra ones, and charge private deployments'
 * GPU-seconds. Built when the lease is taken, thrown away when it is lost.
 */
export class FleetController {
  private readonly instances: AggregateCache<InstanceCommand, InstanceState>;
  private readonly live = new Map<string, LiveInstance>();
  private readonly ended = new Map<string, { period: KnownBillablePeriod; forgetAt: number }>();
  private readonly fleet: FleetMonitor;
  private readonly client: MinerClient;
  private readonly demand: DemandBook;
  private readonly demandFeed: DemandFeed;
  private readonly charger: GpuCharger;
  private readonly refusedUntil = new Map<string, number>();
  private readonly replacements = new Map<string, string[]>();
  private readonly lastScaledAt = new Map<string, number>();
  private readonly settings: AutoscalerSettings;
  private readonly activatedAt: number;
  private nextPollAt = 0;
  private nextChargeAt = 0;

  constructor(
    private readonly deps: {
      store: EventStore;
      dataSource: DataSource;
      tables: SchedulerTables;
      catalog: DeploymentCatalog;
      rpc: RpcClient;
      config: SchedulerConfig;
      validator: KeyringPair;
      instanceTokenSecret: string;
      clock: Clock;
      logger: Logger;
      /** Asks the loop for a pass now (demand for a deployment at zero). */
      wake: () => void;
    },
  ) {
    const { config, clock, logger } = deps;
    this.instances = new AggregateCache(deps.store, instanceDecider, { logger });
    this.client = new MinerClient(deps.validator, { timeoutMs: config.MINER_REQUEST_TIMEOUT_MS });
    this.fleet = new FleetMonitor(
      deps.dataSource,
      deps.tables,
      this.client,
      clock,
      {
        addressMap: config.AXON_ADDRESS_MAP,
        unreachableAfter: config.MINER_UNREACHABLE_POLLS,
        concurrency: config.POLL_CONCURRENCY,
        validatorHotkey: deps.validator.address,
      },
      logger.child({ component: 'fleet' }),
    );
    this.demand = new DemandBook(config.DEMAND_STALE_MS);
    this.demandFeed = new DemandFeed(
      deps.store,
      this.demand,
      clock,
      { lookBackMs: config.DEMAND_STALE_MS, onActivity: () => deps.wake() },
      logger.child({ component: 'demand' }),
    );
    this.charger = new GpuCharger(
      deps.dataSource,
      deps.tables,
      deps.rpc,
      clock,
      { intervalMs: config.GPU_CHARGE_INTERVAL_MS },
      logger.child({ component: 'gpu-charger' }),
    );
    this.settings = {
      scaleUpUtilisation: config.SCALE_UP_UTILISATION,
      scaleDownUtilisation: config.SCALE_DOWN_UTILISATION,
      maxScaleUpStep: config.MAX_SCALE_UP_STEP,
      minInstanceAgeMs: config.MIN_INSTANCE_AGE_MS,
      scaleDownCooldownMs: config.SCALE_DOWN_COOLDOWN_MS,
    };
    this.activatedAt = clock.now().getTime();
  }

  /** Loads the live instances (ids from the caught-up projection, state from their streams) and starts the demand feed. */
  async start(liveInstanceIds: readonly string[]): Promise<void> {
    const catalog = await this.deps.catalog.current();
    await runBounded(liveInstanceIds, 16, (instanceId) => this.adopt(instanceId, catalog));
    await this.fleet.refreshRegistry();
    await this.charger.adoptUntracked(catalog);
    this.demandFeed.start();
    this.deps.logger.info(
      { instances: this.live.size, miners: this.fleet.miners.size },
      'placement loop active',
    );
  }

  async stop(): Promise<void> {
    await this.demandFeed.stop();
  }

  /** Whether an instance is starting (then the loop comes back sooner, to see it ready at once). */
  get hasStartingInstances(): boolean {
    for (const instance of this.live.values()) if (instance.state.status === 'launching') return true;
    return false;
  }

  /** One pass of the loop. */
  async pass(): Promise<void> {
    const now = this.now();
    const catalog = await this.deps.catalog.current();
    if (now >= this.nextPollAt) {
      this.nextPollAt = now + this.deps.config.POLL_INTERVAL_MS;
      await this.fleet.refreshRegistry();
      await this.fleet.pollAll();
      await this.adoptReportedInstances(catalog);
      await this.observeFleet(catalog);
    }
    await this.followStarting(catalog);
    await this.checkHealth();
    await this.autoscale(catalog);
    await this.reconcile(catalog);
    await this.launchPending();
    await this.stopDrained();
    await this.fleet.persistStatus();
    if (now >= this.nextChargeAt) {
      this.nextChargeAt = now + Math.min(10_000, this.deps.config.GPU_CHARGE_INTERVAL_MS / 2);
      await this.charger.charge(catalog, this.billablePeriods(now));
    }
  }

  // ---- lifecycle from what miners report ----------------------------------------------------

  private async observeFleet(catalog: CatalogState): Promise<void> {
    for (const instance of [...this.live.values()]) {
      const { facts } = instance.state;
      if (!facts) continue;
      const miner = this.fleet.miners.get(facts.minerHotkey);
      if (this.fleet.departed.has(facts.minerHotkey)) {
        await this.transition(instance, {
          kind: 'lose',
          cause: 'deregistered',
          lastSeenAt: null,
          at: this.iso(),
        });
        continue;
      }
      if (!miner) continue;
      if (miner.status === 'unreachable') {
        await this.transition(instance, {
          kind: 'lose',
          cause: 'unreachable',
          lastSeenAt: miner.lastSeenAt?.toISOString() ?? null,
          at: this.iso(),
        });
        continue;
      }
      if (miner.instances === null || miner.polledAt === null) continue;
      const report = miner.instances.find((candidate) => candidate.instanceId === facts.instanceId);
      await this.applyReport(instance, miner, report, miner.polledAt.getTime(), catalog);
    }
  }

  /** Starting instances are asked directly, often, so readiness is seen within ~200 ms. */
  private async followStarting(catalog: CatalogState): Promise<void> {
    const now = this.now();
    const starting = [...this.live.values()].filter(
      (instance) => instance.state.status === 'launching' && instance.nextStartingPollAt <= now,
    );
    await runBounded(starting, 16, async (instance) => {
      const facts = instance.state.facts as InstanceFacts;
      const miner = this.fleet.miners.get(facts.minerHotkey);
      if (!miner?.baseUrl) return;
      instance.nextStartingPollAt = now + STARTING_POLL_MS;
      const sentAt = this.now();
      try {
        const report = await this.client.instance(address(miner), facts.instanceId);
        await this.applyReport(instance, miner, report, sentAt, catalog);
      } catch (err) {
        if (isTesseraError(err, ErrorCode.NotFound))
          await this.applyReport(instance, miner, undefined, sentAt, catalog);
        // Unreachable: the regular polls decide when the miner counts as lost.
      }
    });
  }

  private async applyReport(
    instance: LiveInstance,
    miner: MinerRecord,
    report: InstanceStatus | undefined,
    reportedAt: number,
    catalog: CatalogState,
  ): Promise<void> {
    const state = instance.state;
    const facts = state.facts as InstanceFacts;
    const at = this.iso();
    const since = (time: string | null) => (time === null ? Number.POSITIVE_INFINITY : Date.parse(time));
    switch (state.status) {
      case 'placed':
        // The launch landed though its answer was lost (or a crash came between): it is launching.
        if (report) await this.transition(instance, { kind: 'launching', at });
        return;
      case 'launching':
      case 'ready': {
        const settledAt = state.status === 'ready' ? state.readyAt : state.launchedAt;
        if (!report) {
          if (reportedAt > since(settledAt)) {
            await this.transition(instance, { kind: 'lose', cause: 'missing-on-miner', lastSeenAt: at, at });
          }
          return;
        }
        if (report.state === 'failed' || report.state === 'stopped') {
          await this.fail(
            instance,
            'engine-failed',
            report.reason ?? `the miner reports it ${report.state}`,
            false,
          );
          return;
        }
        if (state.status === 'ready') return;
        if (report.state === 'ready') {
          const expected = catalog.deployments.get(facts.deploymentId)?.spec.model.sha256;
          if (!report.modelSha256 || report.modelSha256 !== expected) {
            await this.fail(
              instance,
              'model-mismatch',
              `serves sha256 ${report.modelSha256 ?? 'unknown'}, expected ${expected ?? 'unknown'}`,
            );
            return;
          }
          const endpoint = `${miner.baseUrl}${minerDataPlaneBasePath(facts.instanceId)}`;
          await this.transition(instance, { kind: 'ready', endpoint, modelSha256: report.modelSha256, at });
          const deployment = catalog.deployments.get(facts.deploymentId);
          if (deployment) {
            await this.charger.track([
              {
                instanceId: facts.instanceId,
                deploymentId: facts.deploymentId,
                accountId: deployment.spec.ownerAccountId,
                gpuType: facts.gpuType,
              },
            ]);
          }
          instance.nextHealthCheckAt = this.now() + this.deps.config.HEALTH_CHECK_INTERVAL_MS;
          return;
        }
        if (this.now() - since(state.launchedAt) > this.deps.config.STARTUP_TIMEOUT_MS) {
          await this.fail(
            instance,
            'startup-timeout',
            `not ready after ${this.deps.config.STARTUP_TIMEOUT_MS} ms`,
          );
        }
        return;
      }
      case 'draining':
        if (!report || report.state === 'stopped' || report.state === 'failed') {
          if (!report && reportedAt <= since(state.drainingSince)) return;
          await this.transition(instance, { kind: 'stopped', at });
        }
        return;
      default:
        return;
    }
  }

  /**
   * Instances a miner runs for one of our deployments that this scheduler does not run: one the
   * previous lease holder placed after the projection was read is taken over; one that already
   * ended here (failed while its miner did not answer, say) is stopped, so its GPUs come free.
   */
  private async adoptReportedInstances(catalog: CatalogState): Promise<void> {
    for (const miner of this.fleet.miners.values()) {
      // A miner whose last poll failed is reported as of an older poll: wait until it answers again.
      if (miner.consecutiveFailures > 0) continue;
      for (const report of miner.instances ?? []) {
        if (this.live.has(report.instanceId) || !catalog.deployments.has(report.deploymentId)) continue;
        if (report.state === 'failed' || report.state === 'stopped') continue;
        await this.adopt(report.instanceId, catalog);
        if (this.live.has(report.instanceId)) continue;
        const state = await this.instances.read(instanceStreamId(report.instanceId));
        this.instances.invalidate(instanceStreamId(report.instanceId));
        if (state.status === 'absent') continue;
        this.deps.logger.info(
          { instanceId: report.instanceId, miner: miner.hotkey },
          'stopping an instance that ended here',
        );
        await this.client.stop(address(miner), report.instanceId).catch(() => undefined);
      }
    }
  }

  private async adopt(instanceId: string, catalog: CatalogState): Promise<void> {
    const state = await this.instances.read(instanceStreamId(instanceId));
    if (!isLive(state) || !state.facts || this.live.has(instanceId)) return;
    const deployment = catalog.deployments.get(state.facts.deploymentId);
    this.live.set(instanceId, {
      state,
      launchSpec:
        deployment && deployment.generation === state.facts.generation ? deployment.spec : undefined,
      launchAttempts: 0,
      nextLaunchAt: 0,
      nextStartingPollAt: 0,
      healthFailures: 0,
      nextHealthCheckAt: this.now(),
    });
  }

  // ---- health checks of ready instances -------------------------------------------------------

  private async checkHealth(): Promise<void> {
    const now = this.now();
    const due = [...this.live.values()].filter(
      (instance) =>
        instance.state.status === 'ready' && instance.nextHealthCheckAt <= now && instance.state.endpoint,
    );
    await runBounded(due, this.deps.config.POLL_CONCURRENCY, async (instance) => {
      instance.nextHealthCheckAt = now + this.deps.config.HEALTH_CHECK_INTERVAL_MS;
      const facts = instance.state.facts as InstanceFacts;
      try {
        await this.client.checkDataPlane(
          instance.state.endpoint as string,
          instanceToken(this.deps.instanceTokenSecret, facts.instanceId),
        );
        instance.healthFailures = 0;
      } catch (err) {
        instance.healthFailures += 1;
        if (
          instance.healthFailures >= this.deps.config.HEALTH_FAILURE_THRESHOLD &&
          instance.state.status === 'ready'
        ) {
          if (isConnectionRefused(err)) {
            // The miner-agent itself serves the data plane: nothing listening there means the
            // miner is gone (killed, crashed), not this instance. Its polls would say so next.
            await this.transition(instance, {
              kind: 'lose',
              cause: 'unreachable',
              lastSeenAt: this.fleet.miners.get(facts.minerHotkey)?.lastSeenAt?.toISOString() ?? null,
              at: this.iso(),
            });
            return;
          }
          const reason = `${instance.healthFailures} health checks in a row failed, last: ${err instanceof Error ? err.message : String(err)}`;
          await this.fail(instance, 'health-checks', reason);
        }
      }
    });
  }

  // ---- autoscaling ----------------------------------------------------------------------------

  private async autoscale(catalog: CatalogState): Promise<void> {
    const now = this.now();
    for (const record of activeDeployments(catalog)) {
      const ready = this.liveOf(record.deploymentId).filter(
        (instance) =>
          instance.state.status === 'ready' && instance.state.facts?.generation === record.generation,
      );
      const youngestReadyAt = Math.max(
        ...ready.map((instance) => Date.parse(instance.state.readyAt as string)),
      );
      const decision = decideScale(
        {
          targetReplicas: record.targetReplicas,
          minReplicas: record.spec.minReplicas,
          maxReplicas: record.spec.maxReplicas,
          concurrency: record.spec.concurrency,
          scaleToZeroAfterMs: record.spec.scaleToZeroAfterSeconds * 1_000,
          demand: this.demand.totals(record.deploymentId, now),
          lastActiveAt: Math.max(
            this.demand.lastActiveAt(record.deploymentId) ?? 0,
            this.activatedAt,
            Date.parse(record.createdAt),
          ),
          youngestReadyAgeMs: ready.length > 0 ? now - youngestReadyAt : undefined,
          lastScaledAt: this.lastScaledAt.get(record.deploymentId),
          now,
        },
        this.settings,
      );
      if (!decision) continue;
      const { events } = await this.deps.catalog.execute(
        {
          kind: 'scale',
          deploymentId: record.deploymentId,
          toReplicas: decision.toReplicas,
          reason: decision.reason,
        },
        ACTOR,
      );
      if (events.length > 0) {
        this.lastScaledAt.set(record.deploymentId, now);
        this.deps.logger.info(
          {
            deploymentId: record.deploymentId,
            from: record.targetReplicas,
            to: decision.toReplicas,
            reason: decision.reason,
          },
          'deployment scaled',
        );
      }
    }
  }

  // ---- reconciling replicas with targets --------------------------------------------------------

  private async reconcile(catalog: CatalogState): Promise<void> {
    let index: FleetIndex | undefined;
    let budget = this.deps.config.MAX_PLACEMENTS_PER_PASS;
    for (const record of catalog.deployments.values()) {
      const instances = this.liveOf(record.deploymentId).filter(
        (instance) => instance.state.status !== 'draining',
      );
      if (record.status === 'deleted') {
        for (const instance of instances) await this.drain(instance, 'deployment-deleted');
        continue;
      }
      const current = instances.filter((instance) => instance.state.facts?.generation === record.generation);
      const older = instances.filter((instance) => instance.state.facts?.generation !== record.generation);
      const readyCurrent = current.filter((instance) => instance.state.status === 'ready').length;
      // Older generations keep serving until enough replicas of the new one are ready.
      const keepOlder = Math.max(0, record.targetReplicas - readyCurrent);
      for (const instance of drainOrder(older).slice(0, Math.max(0, older.length - keepOlder))) {
        await this.drain(instance, 'superseded');
      }
      if (current.length > record.targetReplicas) {
        for (const instance of drainOrder(current).slice(0, current.length - record.targetReplicas)) {
          await this.drain(instance, 'scale-down');
        }
      } else if (current.length < record.targetReplicas && budget > 0) {
        index ??= FleetIndex.from(this.placeableMiners());
        const wanted = Math.min(budget, record.targetReplicas - current.length);
        budget -= await this.place(record, current, wanted, index);
      }
    }
  }

  private async place(
    record: DeploymentRecord,
    siblings: readonly LiveInstance[],
    count: number,
    index: FleetIndex,
  ): Promise<number> {
    const siblingMiners = siblings.map((instance) => (instance.state.facts as InstanceFacts).minerHotkey);
    const now = this.now();
    const placements = placeReplicas(
      index,
      {
        engine: record.spec.engine.name,
        gpu: record.spec.gpu,
        replicaMiners: new Set(siblingMiners),
        replicaColdkeys: new Set(
          siblingMiners.flatMap((hotkey) => this.fleet.miners.get(hotkey)?.coldkey ?? []),
        ),
        excludedMiners: new Set(
          [...this.refusedUntil].filter(([, until]) => until > now).map(([hotkey]) => hotkey),
        ),
      },
      count,
      Math.random,
    );
    if (placements.length < count) {
      this.deps.logger.warn(
        { deploymentId: record.deploymentId, wanted: count, placed: placements.length },
        'not enough capacity for every replica',
      );
    }
    for (const placement of placements) {
      const facts: InstanceFacts = {
        instanceId: uuidv7(),
        deploymentId: record.deploymentId,
        generation: record.generation,
        minerHotkey: placement.minerHotkey,
        gpuType: placement.gpuType,
        gpuCount: placement.gpus.length,
        gpus: placement.gpus,
        model: record.spec.name,
        engine: record.spec.engine.name,
        concurrency: record.spec.concurrency,
        replacesInstanceId: this.replacements.get(record.deploymentId)?.shift() ?? null,
      };
      const { state } = await this.instances.execute(
        instanceStreamId(facts.instanceId),
        { kind: 'place', facts, at: this.iso() },
        { actor: ACTOR },
      );
      this.live.set(facts.instanceId, {
        state,
        launchSpec: record.spec,
        launchAttempts: 0,
        nextLaunchAt: 0,
        nextStartingPollAt: 0,
        healthFailures: 0,
        nextHealthCheckAt: 0,
      });
    }
    return placements.length;
  }

  /** Miners placement may use: healthy, polled, with GPUs and slots not taken by anyone. */
  private placeableMiners(): FleetMiner[] {
    const ours = new Map<string, LiveInstance[]>();
    for (const instance of this.live.values()) {
      const hotkey = instance.state.facts?.minerHotkey;
      if (hotkey) ours.set(hotkey, [...(ours.get(hotkey) ?? []), instance]);
    }
    const miners: FleetMiner[] = [];
    for (const miner of this.fleet.miners.values()) {
      if (miner.status !== 'healthy' || !miner.capacity || !miner.baseUrl) continue;
      const mine = ours.get(miner.hotkey) ?? [];
      const held = new Set(mine.flatMap((instance) => instance.state.facts?.gpus ?? []));
      const running = new Set(
        miner.capacity.gpus.flatMap((gpu) => (gpu.instanceId === null ? [] : [gpu.instanceId])),
      );
      for (const instance of mine) running.add((instance.state.facts as InstanceFacts).instanceId);
      miners.push({
        hotkey: miner.hotkey,
        coldkey: miner.coldkey,
        engines: miner.capacity.engines,
        slotsFree: miner.capacity.maxInstances - running.size,
        gpus: miner.capacity.gpus.map((gpu) => ({
          index: gpu.index,
          gpuType: normalizeGpuType(gpu.name),
          memoryMiB: gpu.memoryTotalMiB,
          free: gpu.instanceId === null && !held.has(gpu.index),
        })),
      });
    }
    return miners;
  }

  /** Sends the signed launch of every placed instance that is due (new, or retrying). */
  private async launchPending(): Promise<void> {
    const now = this.now();
    const due = [...this.live.values()].filter(
      (instance) => instance.state.status === 'placed' && instance.launchSpec && instance.nextLaunchAt <= now,
    );
    await runBounded(due, 16, (instance) => this.launch(instance));
  }

  private async launch(instance: LiveInstance): Promise<void> {
    const facts = instance.state.facts as InstanceFacts;
    const spec = instance.launchSpec as DeploymentSpec;
    const miner = this.fleet.miners.get(facts.minerHotkey);
    if (!miner?.baseUrl) return;
    const launch: LaunchInstance = {
      instanceId: facts.instanceId,
      deploymentId: facts.deploymentId,
      model: { name: spec.name, uri: spec.model.uri, sha256: spec.model.sha256 },
      engine: spec.engine,
      gpus: [...facts.gpus],
      concurrency: facts.concurrency,
      // Derived, never stored: the proxy derives the same token from the same secret.
      dataPlaneToken: instanceToken(this.deps.instanceTokenSecret, facts.instanceId),
    };
    instance.launchAttempts += 1;
    try {
      await this.client.launch(address(miner), launch);
      await this.transition(instance, { kind: 'launching', at: this.iso() });
      instance.nextStartingPollAt = this.now() + STARTING_POLL_MS;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (isTesseraError(err) && REFUSALS.has(err.code)) {
        this.refusedUntil.set(facts.minerHotkey, this.now() + this.deps.config.REFUSAL_COOLDOWN_MS);
        await this.fail(instance, 'launch-refused', message, false);
        // Its capacity report was stale: look again before placing anything else there.
        await this.fleet.poll(miner);
        return;
      }
      if (instance.launchAttempts >= this.deps.config.LAUNCH_MAX_ATTEMPTS) {
        await this.fail(instance, 'launch-error', `${instance.launchAttempts} attempts, last: ${message}`);
        return;
      }
      instance.nextLaunchAt = this.now() + Math.min(10_000, 250 * 2 ** instance.launchAttempts);
      this.deps.logger.warn(
        { instanceId: facts.instanceId, miner: facts.minerHotkey, err: message },
        'launch failed; retrying',
      );
    }
  }

  private async drain(instance: LiveInstance, reason: DrainReason): Promise<void> {
    await this.transition(instance, { kind: 'drain', reason, at: this.iso() });
  }

  /** Stops draining instances once their grace period is over. */
  private async stopDrained(): Promise<void> {
    const now = this.now();
    const due = [...this.live.values()].filter(
      (instance) =>
        instance.state.status === 'draining' &&
        now - Date.parse(instance.state.drainingSince as string) >= this.deps.config.DRAIN_GRACE_MS,
    );
    await runBounded(due, 16, async (instance) => {
      const facts = instance.state.facts as InstanceFacts;
      const miner = this.fleet.miners.get(facts.minerHotkey);
      if (!miner?.baseUrl) return;
      try {
        await this.client.stop(address(miner), facts.instanceId);
      } catch (err) {
        // Gone already is stopped; unreachable is for the polls to judge.
        if (!isTesseraError(err, ErrorCode.NotFound)) return;
      }
      await this.transition(instance, { kind: 'stopped', at: this.iso() });
    });
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /**
   * Fails an instance: it is replaced (the next placement of its deployment names it), and,
   * unless the miner already let it go, stopped on the miner to free its GPUs.
   */
  private async fail(
    instance: LiveInstance,
    cause: FailureCause,
    reason: string,
    stopOnMiner = true,
  ): Promise<void> {
    const facts = instance.state.facts as InstanceFacts;
    await this.transition(instance, { kind: 'fail', cause, reason, at: this.iso() });
    this.deps.logger.warn(
      { instanceId: facts.instanceId, miner: facts.minerHotkey, cause, reason },
      'instance failed',
    );
    const miner = this.fleet.miners.get(facts.minerHotkey);
    if (stopOnMiner && miner?.baseUrl) {
      await this.client.stop(address(miner), facts.instanceId).catch((err: unknown) => {
        if (!isMinerUnreachable(err) && !isTesseraError(err, ErrorCode.NotFound)) {
          this.deps.logger.warn(
            { err, instanceId: facts.instanceId },
            'failed instance not stopped on its miner',
          );
        }
      });
    }
  }

  /** Runs a lifecycle command; an instance that ended leaves the live set (and, unless drained, is replaced). */
  private async transition(instance: LiveInstance, command: InstanceCommand): Promise<void> {
    const facts = instance.state.facts as InstanceFacts;
    const { events } = await this.instances.execute(instanceStreamId(facts.instanceId), command, {
      actor: ACTOR,
    });
    if (events.length === 0 || isLive(instance.state)) return;
    this.live.delete(facts.instanceId);
    const state = instance.state;
    // Ended for good: nothing decides on it again, so it need not stay cached.
    this.instances.invalidate(instanceStreamId(facts.instanceId));
    this.ended.set(facts.instanceId, {
      period: { readyAt: state.readyAt, endAt: state.drainingSince ?? state.endedAt },
      forgetAt: this.now() + REMEMBER_ENDED_MS,
    });
    if (state.status === 'failed' || state.status === 'lost') {
      const queue = this.replacements.get(facts.deploymentId) ?? [];
      queue.push(facts.instanceId);
      this.replacements.set(facts.deploymentId, queue);
      if (state.status === 'lost') {
        this.deps.logger.warn(
          { instanceId: facts.instanceId, miner: facts.minerHotkey, reason: state.reason },
          'instance lost',
        );
      }
    }
  }

  /** What the GPU charger needs to know of instances this scheduler ran. */
  private billablePeriods(now: number): Map<string, KnownBillablePeriod> {
    const periods = new Map<string, KnownBillablePeriod>();
    for (const [instanceId, { period, forgetAt }] of this.ended) {
      if (forgetAt <= now) this.ended.delete(instanceId);
      else periods.set(instanceId, period);
    }
    for (const [instanceId, instance] of this.live) {
      const state = instance.state;
      periods.set(instanceId, { readyAt: state.readyAt, endAt: state.drainingSince ?? state.endedAt });
    }
    return periods;
  }

  private liveOf(deploymentId: string): LiveInstance[] {
    return [...this.live.values()].filter((instance) => instance.state.facts?.deploymentId === deploymentId);
  }

  private now(): number {
    return this.deps.clock.now().getTime();
  }

  private iso(): string {
    return this.deps.clock.now().toISOString();
  }
}

function address(miner: MinerRecord): MinerAddress {
  return { hotkey: miner.hotkey, baseUrl: miner.baseUrl as string };
}

function activeDeployments(catalog: CatalogState): DeploymentRecord[] {
  return [...catalog.deployments.values()].filter((record) => record.status === 'active');
}

/** Which replicas go first when some must: not ready yet (newest first), then ready ones (youngest first). */
function drainOrder(instances: readonly LiveInstance[]): LiveInstance[] {
  const rank = (instance: LiveInstance): [number, number] =>
    instance.state.status === 'ready'
      ? [1, -Date.parse(instance.state.readyAt as string)]
      : [0, -Date.parse(instance.state.placedAt as string)];
  return [...instances].sort((a, b) => {
    const [ra, ta] = rank(a);
    const [rb, tb] = rank(b);
    return ra - rb || ta - tb;
  });
}
