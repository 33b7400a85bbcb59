import type { ApiDecoration } from '@polkadot/api/types';
import type { Codec } from '@polkadot/types/types';
import { SubtensorStorage, chainErrors } from '@tessera/bittensor';
import { type EventDataOf, type MetagraphSynced } from '@tessera/contracts';
import { decodeNeuronsLite, neuronsFromMetagraphJson, toNeuron, type Neuron } from '../chain/neuron-info.js';

/** A subnet's metagraph at a block, with the subnet's tempo at that block. */
export interface MetagraphSnapshot {
  readonly metagraph: EventDataOf<typeof MetagraphSynced>;
  readonly tempo: number;
}

type RuntimeCall = (...args: unknown[]) => Promise<Codec>;

function runtimeCall(at: ApiDecoration<'promise'>, api: string, method: string): RuntimeCall | undefined {
  const calls = (
    at as unknown as { call?: Record<string, Record<string, RuntimeCall | undefined> | undefined> }
  ).call;
  return calls?.[api]?.[method];
}

/**
 * Reads a subnet's neurons through the runtime API the block's runtime offers:
 * `subnetInfoRuntimeApi.getMetagraph` where present (one call), else
 * `neuronInfoRuntimeApi.getNeuronsLite` plus `BlockAtRegistration` (which the lite info lacks).
 */
export class MetagraphReader {
  constructor(private readonly ss58Format: number) {}

  async read(
    at: ApiDecoration<'promise'>,
    block: { number: number; hash: string },
    netuid: number,
  ): Promise<MetagraphSnapshot> {
    const storage = new SubtensorStorage(at);
    const tempoPromise = storage.tempo(netuid);
    tempoPromise.catch(() => undefined);
    let neurons: Neuron[];
    const getMetagraph = runtimeCall(at, 'subnetInfoRuntimeApi', 'getMetagraph');
    if (getMetagraph) {
      const result = (await getMetagraph(netuid)).toJSON();
      neurons = neuronsFromMetagraphJson(result);
    } else {
      const getNeuronsLite = runtimeCall(at, 'neuronInfoRuntimeApi', 'getNeuronsLite');
      if (!getNeuronsLite) {
        throw chainErrors.runtimeItemMissing(
          'runtime api',
          'neuronInfoRuntimeApi.getNeuronsLite (or getMetagraph)',
        );
      }
      const infos = decodeNeuronsLite(await getNeuronsLite(netuid), this.ss58Format);
      const registered = await storage.registrationBlocks(
        netuid,
        infos.map((info) => info.uid),
      );
      neurons = infos.map((info, index) => toNeuron(info, registered[index] ?? 0));
    }
    neurons.sort((a, b) => a.uid - b.uid);
    const tempo = await tempoPromise;
    return {
      metagraph: { netuid, blockNumber: block.number, blockHash: block.hash, neurons },
      tempo,
    };
  }
}
