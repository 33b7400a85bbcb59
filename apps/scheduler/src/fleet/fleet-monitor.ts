import {
  normalizeGpuType,
  type CapacityResponse,
  type Clock,
  type InstanceStatus,
  type MinerView,
} from '@tessera/contracts';
import { type Logger } from 'pino';
import { type DataSource } from 'typeorm';
import { type SchedulerTables } from '../database/tables.js';
import { minerBaseUrl, type AddressMap } from './axon-address-map.js';
import { type MinerClient } from './miner-client.js';
import { chainMiners } from './miners.projection.js';

/** What the scheduler knows of one miner: the chain's view plus its last signed polls. */
export interface MinerRecord {
  readonly hotkey: string;
  uid: number;
  coldkey: string;
  axon: { ip: string; port: number } | null;
  /** Null without an axon: such a miner is never polled nor placed on. */
  baseUrl: string | null;
  status: MinerView['status'];
  consecutiveFailures: number;
  lastSeenAt: Date | null;
  /** From the last poll that answered. */
  capacity: CapacityResponse | null;
  instances: readonly InstanceStatus[] | null;
  /** When the last poll that answered was sent: instance reports are as of then. */
  polledAt: Date | null;
  lastError: string | null;
  /** Changed since the status table was last written. */
  dirty: boolean;
}

export interface FleetMonitorOptions {
  addressMap: AddressMap;
  /** Polls in a row a miner may miss before it counts as unreachable. */
  unreachableAfter: number;
  concurrency: number;
  /** The validator's own hotkey: never a miner to place on. */
  validatorHotkey: string;
}

/**
 * The fleet: registered miners of the subnet (the `scheduler-miners` projection) and what their
 * signed `/capacity` and `/instances` answer. Miners need no channel to the platform: it pulls.
 */
export class FleetMonitor {
  readonly miners = new Map<string, MinerRecord>();
  /** Hotkeys that were miners and left the subnet (deregistered). */
  readonly departed = new Set<string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly tables: SchedulerTables,
    private readonly client: MinerClient,
    private readonly clock: Clock,
    private readonly options: FleetMonitorOptions,
    private readonly logger: Logger,
  ) {}

  /** Brings the miner list in line with the chain projection. */
  async refreshRegistry(): Promise<void> {
    const rows = await chainMiners(this.dataSource.manager, this.tables);
    const seen = new Set<string>();
    for (const row of rows) {
      if (row.hotkey === this.options.validatorHotkey) continue;
      if (!row.registered || row.uid === null || row.coldkey === null) {
        if (!row.registered && this.miners.delete(row.hotkey))
          this.logger.info({ miner: row.hotkey }, 'miner left the subnet');
        if (!row.registered) this.departed.add(row.hotkey);
        continue;
      }
      seen.add(row.hotkey);
      this.departed.delete(row.hotkey);
      const baseUrl = row.axon ? minerBaseUrl(row.axon, this.options.addressMap) : null;
      const known = this.miners.get(row.hotkey);
      if (known) {
        if (known.baseUrl !== baseUrl) known.dirty = true;
        Object.assign(known, { uid: row.uid, coldkey: row.coldkey, axon: row.axon, baseUrl });
        continue;
      }
      this.miners.set(row.hotkey, {
        hotkey: row.hotkey,
        uid: row.uid,
        coldkey: row.coldkey,
        axon: row.axon,
        baseUrl,
        status: 'unknown',
        consecutiveFailures: 0,
        lastSeenAt: null,
        capacity: null,
        instances: null,
        polledAt: null,
        lastError: null,
        dirty: true,
      });
    }
    for (const hotkey of this.miners.keys()) if (!seen.has(hotkey)) this.miners.delete(hotkey);
  }

  /** Polls every miner with an axon, a bounded number at a time. */
  async pollAll(): Promise<void> {
    const polled = [...this.miners.values()].filter((miner) => miner.baseUrl !== null);
    await runBounded(polled, this.options.concurrency, (miner) => this.poll(miner));
  }

  /** Polls one miner now (e.g. right after it refused a launch, to see its real capacity). */
  async poll(miner: MinerRecord): Promise<void> {
    if (miner.baseUrl === null) return;
    const sentAt = this.clock.now();
    const address = { hotkey: miner.hotkey, baseUrl: miner.baseUrl };
    try {
      const [capacity, instances] = await Promise.all([
        this.client.capacity(address),
        this.client.instances(address),
      ]);
      if (capacity.minerHotkey !== miner.hotkey) throw new Error(`capacity names ${capacity.minerHotkey}`);
      if (miner.status !== 'healthy') this.logger.info({ miner: miner.hotkey }, 'miner answers');
      Object.assign(miner, {
        status: 'healthy',
        consecutiveFailures: 0,
        lastSeenAt: this.clock.now(),
        capacity,
        instances: instances.instances,
        polledAt: sentAt,
        lastError: null,
        dirty: true,
      });
    } catch (err) {
      miner.consecutiveFailures += 1;
      miner.lastError = err instanceof Error ? err.message : String(err);
      miner.dirty = true;
      if (miner.consecutiveFailures >= this.options.unreachableAfter && miner.status !== 'unreachable') {
        miner.status = 'unreachable';
        this.logger.warn({ miner: miner.hotkey, err: miner.lastError }, 'miner unreachable');
      }
    }
  }

  /** Writes what changed to the status table, for the operator view on any replica. */
  async persistStatus(): Promise<void> {
    const changed = [...this.miners.values()].filter((miner) => miner.dirty);
    if (changed.length === 0) return;
    const observedAt = this.clock.now().toISOString();
    await this.dataSource.query(
      `insert into ${this.tables.minerStatus} (hotkey, status, last_seen_at, consecutive_failures, capacity, last_error, observed_at)
       select * from jsonb_to_recordset($1::jsonb) as r(hotkey text, status text, last_seen_at timestamptz,
         consecutive_failures int, capacity jsonb, last_error text, observed_at timestamptz)
       on conflict (hotkey) do update set status = excluded.status, last_seen_at = excluded.last_seen_at,
         consecutive_failures = excluded.consecutive_failures, capacity = excluded.capacity,
         last_error = excluded.last_error, observed_at = excluded.observed_at`,
      [
        JSON.stringify(
          changed.map((miner) => ({
            hotkey: miner.hotkey,
            status: miner.status,
            last_seen_at: miner.lastSeenAt?.toISOString() ?? null,
            consecutive_failures: miner.consecutiveFailures,
            capacity: miner.capacity ? capacityView(miner.capacity) : null,
            last_error: miner.lastError,
            observed_at: observedAt,
          })),
        ),
      ],
    );
    for (const miner of changed) miner.dirty = false;
  }
}

/** The capacity part of the operator's miner view. */
export function capacityView(capacity: CapacityResponse): NonNullable<MinerView['capacity']> {
  return {
    gpus: capacity.gpus.map((gpu) => ({
      index: gpu.index,
      gpuType: normalizeGpuType(gpu.name),
      memoryTotalMiB: gpu.memoryTotalMiB,
      instanceId: gpu.instanceId,
    })),
    engines: capacity.engines,
    maxInstances: capacity.maxInstances,
  };
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function runBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
