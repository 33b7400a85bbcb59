import {
  AxonServed,
  MetagraphSynced,
  NeuronRegistered,
  NeuronReplaced,
  Streams,
  type Event,
} from '@tessera/contracts';
import { type Projection } from '@tessera/eventstore';
import { type EntityManager } from 'typeorm';
import { type SchedulerTables } from '../database/tables.js';

/**
 * The subnet's miners from the chain: registrations (a replaced hotkey leaves), axons, and the
 * indexer's full metagraph syncs — which also cover miners registered before the indexer's
 * first block.
 */
export function minersProjection(tables: SchedulerTables, netuid: number): Projection {
  const register = (
    manager: EntityManager,
    row: { hotkey: string; uid: number; coldkey: string; block: number },
  ) =>
    manager.query(
      `insert into ${tables.miners} (hotkey, netuid, uid, coldkey, registered, updated_block)
       values ($1, $2, $3, $4, true, $5)
       on conflict (hotkey) do update set uid = excluded.uid, coldkey = excluded.coldkey, registered = true,
         updated_block = excluded.updated_block`,
      [row.hotkey, netuid, row.uid, row.coldkey, row.block],
    );
  const serve = (manager: EntityManager, row: { hotkey: string; ip: string; port: number; block: number }) =>
    manager.query(
      `insert into ${tables.miners} (hotkey, netuid, axon_ip, axon_port, registered, updated_block)
       values ($1, $2, $3, $4, false, $5)
       on conflict (hotkey) do update set axon_ip = excluded.axon_ip, axon_port = excluded.axon_port,
         updated_block = excluded.updated_block`,
      [row.hotkey, netuid, row.ip, row.port, row.block],
    );

  return {
    name: 'scheduler-miners',
    stream: Streams.CHAIN,
    handles: [NeuronRegistered, NeuronReplaced, AxonServed, MetagraphSynced],
    async apply(events: readonly Event[], manager: EntityManager) {
      for (const event of events) {
        if (NeuronRegistered.is(event) && event.data.netuid === netuid) {
          const { hotkey, uid, coldkey, blockNumber } = event.data;
          await register(manager, { hotkey, uid, coldkey, block: blockNumber });
        } else if (NeuronReplaced.is(event) && event.data.netuid === netuid) {
          const { hotkey, uid, coldkey, previousHotkey, blockNumber } = event.data;
          await manager.query(
            `update ${tables.miners} set registered = false, updated_block = $2 where hotkey = $1`,
            [previousHotkey, blockNumber],
          );
          await register(manager, { hotkey, uid, coldkey, block: blockNumber });
        } else if (AxonServed.is(event) && event.data.netuid === netuid) {
          const { hotkey, ip, port, blockNumber } = event.data;
          await serve(manager, { hotkey, ip, port, block: blockNumber });
        } else if (MetagraphSynced.is(event) && event.data.netuid === netuid) {
          const { neurons, blockNumber } = event.data;
          // A full view at a block: whoever is not in it has left the subnet.
          await manager.query(`update ${tables.miners} set registered = false where netuid = $1`, [netuid]);
          for (const neuron of neurons) {
            await register(manager, {
              hotkey: neuron.hotkey,
              uid: neuron.uid,
              coldkey: neuron.coldkey,
              block: blockNumber,
            });
            if (neuron.axon) {
              await serve(manager, {
                hotkey: neuron.hotkey,
                ip: neuron.axon.ip,
                port: neuron.axon.port,
                block: blockNumber,
              });
            }
          }
        }
      }
    },
    async reset(manager: EntityManager) {
      await manager.query(`delete from ${tables.miners}`);
    },
  };
}

/** A miner of the subnet as the chain says (a hotkey that left stays, with `registered` false). */
export interface ChainMiner {
  hotkey: string;
  registered: boolean;
  uid: number | null;
  coldkey: string | null;
  axon: { ip: string; port: number } | null;
}

/** Every miner the projection knows, for the fleet monitor and the operator view. */
export async function chainMiners(
  manager: Pick<EntityManager, 'query'>,
  tables: SchedulerTables,
): Promise<ChainMiner[]> {
  const rows = (await manager.query(
    `select hotkey, registered, uid, coldkey, axon_ip, axon_port from ${tables.miners} order by uid, hotkey`,
  )) as {
    hotkey: string;
    registered: boolean;
    uid: number | null;
    coldkey: string | null;
    axon_ip: string | null;
    axon_port: number | null;
  }[];
  return rows.map((row) => ({
    hotkey: row.hotkey,
    registered: row.registered,
    uid: row.uid,
    coldkey: row.coldkey,
    axon: row.axon_ip !== null && row.axon_port !== null ? { ip: row.axon_ip, port: row.axon_port } : null,
  }));
}
