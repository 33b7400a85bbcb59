import { ListMiners, type MinerView } from '@tessera/contracts';
import { defineCommand } from '../command/define-command.js';
import { record, table } from '../command/output.js';

/** `2/4 free (h100-80gb-hbm3)`: free GPUs of the miner's last capacity report, and their types. */
function gpusText(miner: MinerView): string | undefined {
  if (miner.capacity === null) return undefined;
  const { gpus } = miner.capacity;
  const free = gpus.filter((gpu) => gpu.instanceId === null).length;
  const types = [...new Set(gpus.map((gpu) => gpu.gpuType))].join(',');
  return `${free}/${gpus.length} free${types ? ` (${types})` : ''}`;
}

const list = defineCommand({
  path: ['miners', 'list'],
  summary: 'the fleet: every registered miner of the subnet, as the scheduler last saw it',
  examples: ['tessera miners list', 'tessera --json miners list'],
  options: {},
  async run(_values, { call }) {
    const fleet = await call(ListMiners, {});
    const miners = table(
      fleet.miners,
      [
        ['UID', (miner) => miner.uid],
        ['HOTKEY', (miner) => miner.hotkey],
        ['STATUS', (miner) => miner.status],
        ['AXON', (miner) => (miner.axon === null ? undefined : `${miner.axon.ip}:${miner.axon.port}`)],
        ['GPUS', gpusText],
        ['ENGINES', (miner) => miner.capacity?.engines.join(',')],
        ['LAST SEEN', (miner) => miner.lastSeenAt],
        ['FAILURES', (miner) => miner.consecutiveFailures],
        ['LAST ERROR', (miner) => miner.lastError],
      ],
      'no miners registered',
    );
    const header = record([
      ['netuid', fleet.netuid],
      ['observed at', fleet.observedAt ?? 'never'],
    ]);
    return { json: fleet, text: `${header}\n\n${miners}` };
  },
});

export const minerCommands = [list];
