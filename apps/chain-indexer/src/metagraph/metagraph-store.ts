import { type EventDataOf, type MetagraphSynced } from '@tessera/contracts';
import { type DataSource, type EntityManager } from 'typeorm';
import { type Neuron } from '../chain/neuron-info.js';
import { type Tables } from '../database/tables.js';

type Metagraph = EventDataOf<typeof MetagraphSynced>;

interface NeuronRow {
  uid: number;
  hotkey: string;
  coldkey: string;
  stake: string;
  axon: Neuron['axon'];
  validator_permit: boolean;
  incentive: number;
  dividends: number;
  emission: string;
  last_update: string;
  active: boolean;
  registration_block: string;
}

function toNeuron(row: NeuronRow): Neuron {
  return {
    uid: row.uid,
    hotkey: row.hotkey,
    coldkey: row.coldkey,
    stake: row.stake,
    axon: row.axon,
    validatorPermit: row.validator_permit,
    incentive: row.incentive,
    dividends: row.dividends,
    emission: row.emission,
    lastUpdate: Number(row.last_update),
    active: row.active,
    registrationBlock: Number(row.registration_block),
  };
}

const COLUMNS =
  'netuid, uid, hotkey, coldkey, stake, axon, validator_permit, incentive, dividends, emission, last_update, active, registration_block';

/** The metagraph projection: one row per neuron of each watched subnet, replaced at each sync. */
export class MetagraphStore {
  constructor(private readonly tables: Tables) {}

  /** Replaces a subnet's rows; runs inside the follower's block transaction (with the cursor). */
  async write(manager: EntityManager, metagraph: Metagraph, tempo: number): Promise<void> {
    const { neurons: table, metagraphSyncs } = this.tables;
    await manager.query(`delete from ${table} where netuid = $1`, [metagraph.netuid]);
    // Chunks of 400 rows keep the statement under Postgres' 65535 parameters.
    for (let start = 0; start < metagraph.neurons.length; start += 400) {
      const chunk = metagraph.neurons.slice(start, start + 400);
      const params: unknown[] = [];
      const rows = chunk.map((neuron) => {
        const values = [
          metagraph.netuid,
          neuron.uid,
          neuron.hotkey,
          neuron.coldkey,
          neuron.stake,
          neuron.axon === null ? null : JSON.stringify(neuron.axon),
          neuron.validatorPermit,
          neuron.incentive,
          neuron.dividends,
          neuron.emission,
          neuron.lastUpdate,
          neuron.active,
          neuron.registrationBlock,
        ];
        const placeholders = values.map((value) => {
          params.push(value);
          return `$${params.length}`;
        });
        return `(${placeholders.join(', ')})`;
      });
      await manager.query(`insert into ${table} (${COLUMNS}) values ${rows.join(', ')}`, params);
    }
    await manager.query(
      `insert into ${metagraphSyncs} (netuid, block_number, block_hash, tempo, synced_at) values ($1, $2, $3, $4, now())
       on conflict (netuid) do update set block_number = excluded.block_number, block_hash = excluded.block_hash,
         tempo = excluded.tempo, synced_at = now()`,
      [metagraph.netuid, metagraph.blockNumber, metagraph.blockHash, tempo],
    );
  }

  /** Tempo of every subnet synced so far. */
  async tempos(manager: EntityManager | DataSource): Promise<Map<number, number>> {
    const rows: { netuid: number; tempo: number }[] = await manager.query(
      `select netuid, tempo from ${this.tables.metagraphSyncs}`,
    );
    return new Map(rows.map((row) => [row.netuid, row.tempo]));
  }

  /** The last synced metagraph of a subnet, or undefined when it was never synced. */
  async metagraph(source: DataSource | EntityManager, netuid: number): Promise<Metagraph | undefined> {
    const syncs: { block_number: string; block_hash: string }[] = await source.query(
      `select block_number, block_hash from ${this.tables.metagraphSyncs} where netuid = $1`,
      [netuid],
    );
    const sync = syncs[0];
    if (!sync) return undefined;
    const rows: NeuronRow[] = await source.query(
      `select ${COLUMNS} from ${this.tables.neurons} where netuid = $1 order by uid`,
      [netuid],
    );
    return {
      netuid,
      blockNumber: Number(sync.block_number),
      blockHash: sync.block_hash,
      neurons: rows.map(toNeuron),
    };
  }

  /** One neuron by hotkey, with the block of the sync it comes from. */
  async neuron(
    source: DataSource | EntityManager,
    netuid: number,
    hotkey: string,
  ): Promise<{ blockNumber: number; neuron: Neuron } | undefined> {
    const rows: (NeuronRow & { block_number: string })[] = await source.query(
      `select n.uid, n.hotkey, n.coldkey, n.stake, n.axon, n.validator_permit, n.incentive, n.dividends, n.emission,
              n.last_update, n.active, n.registration_block, s.block_number
         from ${this.tables.neurons} n join ${this.tables.metagraphSyncs} s on s.netuid = n.netuid
        where n.netuid = $1 and n.hotkey = $2`,
      [netuid, hotkey],
    );
    const row = rows[0];
    return row ? { blockNumber: Number(row.block_number), neuron: toNeuron(row) } : undefined;
  }
}
