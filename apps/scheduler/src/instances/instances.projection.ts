import {
  InstanceDraining,
  InstanceFailed,
  InstanceLaunching,
  InstanceLost,
  InstancePlaced,
  InstanceReady,
  InstanceStopped,
  Streams,
  type Event,
  type InstanceView,
} from '@tessera/contracts';
import { type Projection } from '@tessera/eventstore';
import { type EntityManager } from 'typeorm';
import { type SchedulerTables } from '../database/tables.js';

/** Every instance and where it stands: the operator view, the GPU charger's list and a new leader's start. */
export function instancesProjection(tables: SchedulerTables): Projection {
  return {
    name: 'scheduler-instances',
    stream: Streams.SCHEDULER,
    filterSubject: 'scheduler.instance.>',
    handles: [
      InstancePlaced,
      InstanceLaunching,
      InstanceReady,
      InstanceDraining,
      InstanceStopped,
      InstanceFailed,
      InstanceLost,
    ],
    async apply(events: readonly Event[], manager: EntityManager) {
      const set = (instanceId: string, assignments: string, values: unknown[]) =>
        manager.query(`update ${tables.instances} set ${assignments} where instance_id = $1`, [
          instanceId,
          ...values,
        ]);
      for (const event of events) {
        if (InstancePlaced.is(event)) {
          const data = event.data;
          await manager.query(
            `insert into ${tables.instances} (instance_id, deployment_id, generation, miner_hotkey, state, gpu_type,
               gpu_count, gpus, placed_at)
             values ($1, $2, $3, $4, 'placed', $5, $6, $7, $8) on conflict (instance_id) do nothing`,
            [
              data.instanceId,
              data.deploymentId,
              data.generation,
              data.minerHotkey,
              data.gpuType,
              data.gpuCount,
              JSON.stringify(data.gpus),
              data.at,
            ],
          );
        } else if (InstanceLaunching.is(event)) {
          await set(event.data.instanceId, `state = 'launching'`, []);
        } else if (InstanceReady.is(event)) {
          await set(event.data.instanceId, `state = 'ready', ready_at = $2, endpoint = $3`, [
            event.data.at,
            event.data.endpoint,
          ]);
        } else if (InstanceDraining.is(event)) {
          await set(event.data.instanceId, `state = 'draining', draining_at = $2, reason = $3`, [
            event.data.at,
            event.data.reason,
          ]);
        } else if (InstanceStopped.is(event)) {
          await set(event.data.instanceId, `state = 'stopped', ended_at = $2, reason = $3`, [
            event.data.at,
            event.data.reason,
          ]);
        } else if (InstanceFailed.is(event)) {
          await set(event.data.instanceId, `state = 'failed', ended_at = $2, reason = $3`, [
            event.data.at,
            `${event.data.cause}: ${event.data.reason}`,
          ]);
        } else if (InstanceLost.is(event)) {
          await set(event.data.instanceId, `state = 'lost', ended_at = $2, reason = $3`, [
            event.data.at,
            event.data.cause,
          ]);
        }
      }
    },
    async reset(manager: EntityManager) {
      await manager.query(`delete from ${tables.instances}`);
    },
  };
}

interface InstanceRow {
  instance_id: string;
  deployment_id: string;
  generation: number;
  miner_hotkey: string;
  state: InstanceView['state'];
  gpu_type: string;
  gpu_count: number;
  gpus: number[];
  endpoint: string | null;
  placed_at: Date;
  ready_at: Date | null;
  ended_at: Date | null;
  reason: string | null;
}

const toView = (row: InstanceRow): InstanceView => ({
  instanceId: row.instance_id,
  deploymentId: row.deployment_id,
  generation: row.generation,
  minerHotkey: row.miner_hotkey,
  state: row.state,
  gpuType: row.gpu_type,
  gpuCount: row.gpu_count,
  gpus: row.gpus,
  endpoint: row.endpoint,
  placedAt: row.placed_at.toISOString(),
  readyAt: row.ready_at?.toISOString() ?? null,
  endedAt: row.ended_at?.toISOString() ?? null,
  reason: row.reason,
});

/** Queries over the instances projection. */
export async function listInstances(
  manager: Pick<EntityManager, 'query'>,
  tables: SchedulerTables,
  filter: { deploymentId?: string; minerHotkey?: string; includeEnded?: boolean; limit?: number } = {},
): Promise<InstanceView[]> {
  const rows = (await manager.query(
    `select * from ${tables.instances}
      where ($1::text is null or deployment_id = $1) and ($2::text is null or miner_hotkey = $2)
        and ($3::boolean or ended_at is null)
      order by placed_at desc, instance_id limit $4`,
    [
      filter.deploymentId ?? null,
      filter.minerHotkey ?? null,
      filter.includeEnded ?? false,
      filter.limit ?? 10_000,
    ],
  )) as InstanceRow[];
  return rows.map(toView);
}
