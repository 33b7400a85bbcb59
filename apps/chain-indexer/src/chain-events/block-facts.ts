import { type ApiPromise } from '@polkadot/api';
import {
  AxonServed,
  NeuronRegistered,
  NeuronReplaced,
  StakeAdded,
  StakeRemoved,
  SubnetAdded,
  SubnetRemoved,
  TransferObserved,
  WeightsSet,
  type PendingEvent,
} from '@tessera/contracts';
import { SubtensorStorage } from '@tessera/bittensor';
import { chainEventId } from '../chain/event-id.js';
import { axonOf } from '../chain/neuron-info.js';
import { type FetchedBlock } from '../follower/block-source.js';
import { type SelectedFact } from './select-facts.js';

/**
 * Turns the selected facts of a block into contract events. What the runtime event leaves out
 * is read from state at that block (or its parent, for a uid's previous holder), so a replay
 * produces exactly the same events, with ids derived from (block hash, event index, type).
 */
export class BlockFactBuilder {
  constructor(private readonly api: ApiPromise) {}

  async build(block: FetchedBlock, facts: readonly SelectedFact[]): Promise<PendingEvent[]> {
    const events: PendingEvent[] = [];
    const atBlock = new SubtensorStorage(block.at);
    let parentAt: SubtensorStorage | undefined;
    const parent = async (): Promise<SubtensorStorage> =>
      (parentAt ??= new SubtensorStorage(await this.api.at(block.parentHash)));
    for (const fact of facts) {
      const position = {
        blockNumber: block.number,
        blockHash: block.hash,
        extrinsicIndex: fact.extrinsicIndex,
        eventIndex: fact.eventIndex,
      };
      const id = (type: string): { id: string } => ({ id: chainEventId(block.hash, fact.eventIndex, type) });
      switch (fact.kind) {
        case 'transfer':
          events.push(
            TransferObserved.create(
              { from: fact.from, to: fact.to, amount: fact.amount, ...position },
              id(TransferObserved.type),
            ),
          );
          break;
        case 'neuronRegistered': {
          const coldkey = await atBlock.coldkeyOf(fact.hotkey);
          const before = await parent();
          if (fact.uid < (await before.subnetSize(fact.netuid))) {
            const previousHotkey = await before.hotkeyAt(fact.netuid, fact.uid);
            events.push(
              NeuronReplaced.create(
                {
                  netuid: fact.netuid,
                  uid: fact.uid,
                  hotkey: fact.hotkey,
                  coldkey,
                  previousHotkey,
                  ...position,
                },
                id(NeuronReplaced.type),
              ),
            );
          } else {
            events.push(
              NeuronRegistered.create(
                { netuid: fact.netuid, uid: fact.uid, hotkey: fact.hotkey, coldkey, ...position },
                id(NeuronRegistered.type),
              ),
            );
          }
          break;
        }
        case 'axonServed': {
          const stored = await atBlock.axon(fact.netuid, fact.hotkey);
          const axon = stored === null ? null : axonOf(stored);
          if (axon === null) break; // an axon served as 0.0.0.0 carries nothing to connect to
          events.push(
            AxonServed.create(
              { netuid: fact.netuid, hotkey: fact.hotkey, ...axon, ...position },
              id(AxonServed.type),
            ),
          );
          break;
        }
        case 'stakeAdded':
        case 'stakeRemoved': {
          const contract = fact.kind === 'stakeAdded' ? StakeAdded : StakeRemoved;
          events.push(
            contract.create(
              {
                coldkey: fact.coldkey,
                hotkey: fact.hotkey,
                netuid: fact.netuid,
                amount: fact.amount,
                alpha: fact.alpha,
                ...position,
              },
              id(contract.type),
            ),
          );
          break;
        }
        case 'weightsSet': {
          const hotkey = await atBlock.hotkeyAt(fact.netuid, fact.uid);
          events.push(
            WeightsSet.create(
              { netuid: fact.netuid, uid: fact.uid, hotkey, ...position },
              id(WeightsSet.type),
            ),
          );
          break;
        }
        case 'subnetAdded':
        case 'subnetRemoved': {
          const contract = fact.kind === 'subnetAdded' ? SubnetAdded : SubnetRemoved;
          events.push(contract.create({ netuid: fact.netuid, ...position }, id(contract.type)));
          break;
        }
        default: {
          const unhandled: never = fact;
          throw new Error(`unhandled fact ${JSON.stringify(unhandled)}`);
        }
      }
    }
    return events;
  }
}
