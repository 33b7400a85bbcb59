import { Controller } from '@nestjs/common';
import {
  ListInstances,
  ListMiners,
  minerViewSchema,
  type MinerView,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { SchedulerConfig } from '../config.js';
import { schedulerTables, type SchedulerTables } from '../database/tables.js';
import { minerBaseUrl } from '../fleet/axon-address-map.js';
import { chainMiners } from '../fleet/miners.projection.js';
import { listInstances } from '../instances/instances.projection.js';

interface StatusRow {
  hotkey: string;
  status: MinerView['status'];
  last_seen_at: Date | null;
  consecutive_failures: number;
  capacity: unknown;
  last_error: string | null;
  observed_at: Date;
}

/** The operator's view of the fleet and the instances, from Postgres: any replica answers. */
@Controller()
export class FleetViewHandler {
  private readonly tables: SchedulerTables;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: SchedulerConfig,
  ) {
    this.tables = schedulerTables(config.DATABASE_SCHEMA);
  }

  @RpcHandler(ListInstances)
  async instances(
    request: RpcParsedRequestOf<typeof ListInstances>,
  ): Promise<RpcResponseOf<typeof ListInstances>> {
    return { instances: await listInstances(this.dataSource.manager, this.tables, request) };
  }

  @RpcHandler(ListMiners)
  async miners(): Promise<RpcResponseOf<typeof ListMiners>> {
    const [miners, statuses] = await Promise.all([
      chainMiners(this.dataSource.manager, this.tables),
      this.dataSource.query(`select * from ${this.tables.minerStatus}`) as Promise<StatusRow[]>,
    ]);
    const byHotkey = new Map(statuses.map((row) => [row.hotkey, row]));
    let observedAt: Date | null = null;
    for (const row of statuses) if (!observedAt || row.observed_at > observedAt) observedAt = row.observed_at;
    return {
      netuid: this.config.NETUID,
      observedAt: observedAt?.toISOString() ?? null,
      miners: miners
        .filter((miner) => miner.registered && miner.uid !== null && miner.coldkey !== null)
        .map((miner) => {
          const status = byHotkey.get(miner.hotkey);
          return minerViewSchema.parse({
            hotkey: miner.hotkey,
            coldkey: miner.coldkey,
            uid: miner.uid,
            axon: miner.axon,
            baseUrl: miner.axon ? minerBaseUrl(miner.axon, this.config.AXON_ADDRESS_MAP) : null,
            status: status?.status ?? 'unknown',
            lastSeenAt: status?.last_seen_at?.toISOString() ?? null,
            consecutiveFailures: status?.consecutive_failures ?? 0,
            capacity: status?.capacity ?? null,
            lastError: status?.last_error ?? null,
          });
        }),
    };
  }
}
