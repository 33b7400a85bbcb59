/**
 * Pure selection of the runtime events the indexer reports. Runtime events arrive here already
 * decoded with the metadata of their block's runtime (see `BlockSource`), flattened to strings:
 * what a fact needs beyond the event itself (a coldkey, an axon) is read from state afterwards.
 */

import { UnexpectedEventShapeError } from '../shared/indexer-errors.js';

/** A runtime event flattened to strings (`AccountId` as SS58, integers in base 10). */
export interface RawChainEvent {
  /** Index among the block's events. */
  readonly index: number;
  /** Pallet, as polkadot-js names it (`subtensorModule`, `balances`). */
  readonly section: string;
  readonly method: string;
  /** Extrinsic that emitted it; null for hooks (initialization, finalization). */
  readonly extrinsicIndex: number | null;
  readonly args: readonly string[];
}

/** Where a selected fact came from in its block. */
export interface FactPosition {
  readonly eventIndex: number;
  readonly extrinsicIndex: number | null;
}

/** A runtime event the indexer reports, with its decoded arguments. */
export type SelectedFact = FactPosition &
  (
    | { kind: 'transfer'; from: string; to: string; amount: string }
    | { kind: 'neuronRegistered'; netuid: number; uid: number; hotkey: string }
    | { kind: 'axonServed'; netuid: number; hotkey: string }
    | {
        kind: 'stakeAdded' | 'stakeRemoved';
        coldkey: string;
        hotkey: string;
        amount: string;
        alpha: string;
        netuid: number;
      }
    | { kind: 'weightsSet'; netuid: number; uid: number }
    | { kind: 'subnetAdded' | 'subnetRemoved'; netuid: number }
  );

/** What the indexer watches. */
export interface FactFilter {
  isWatched(address: string): boolean;
  /** Subnets whose neuron/axon/stake/weights events count; null means every subnet. */
  readonly netuids: ReadonlySet<number> | null;
}

function arg(event: RawChainEvent, position: number): string {
  const value = event.args[position];
  if (value === undefined) {
    throw new UnexpectedEventShapeError(
      `${event.section}.${event.method} #${event.index} has no argument ${position} (got ${event.args.length})`,
      event,
    );
  }
  return value;
}

function int(event: RawChainEvent, position: number): number {
  const text = arg(event, position);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UnexpectedEventShapeError(
      `${event.section}.${event.method} #${event.index}: argument ${position} is not an integer: ${text}`,
      event,
    );
  }
  return value;
}

function decimal(event: RawChainEvent, position: number): string {
  const text = arg(event, position).replaceAll(',', '');
  if (!/^(0|[1-9][0-9]*)$/.test(text)) {
    throw new UnexpectedEventShapeError(
      `${event.section}.${event.method} #${event.index}: argument ${position} is not an amount: ${text}`,
      event,
    );
  }
  return text;
}

/** The facts a block's events carry, in event order. */
export function selectFacts(events: readonly RawChainEvent[], filter: FactFilter): SelectedFact[] {
  const facts: SelectedFact[] = [];
  const onWatchedSubnet = (netuid: number): boolean => filter.netuids === null || filter.netuids.has(netuid);
  for (const event of events) {
    const position = { eventIndex: event.index, extrinsicIndex: event.extrinsicIndex };
    const name = `${event.section}.${event.method}`;
    switch (name) {
      case 'balances.Transfer': {
        const to = arg(event, 1);
        if (filter.isWatched(to)) {
          facts.push({ kind: 'transfer', from: arg(event, 0), to, amount: decimal(event, 2), ...position });
        }
        break;
      }
      case 'subtensorModule.NeuronRegistered': {
        const netuid = int(event, 0);
        if (onWatchedSubnet(netuid)) {
          facts.push({
            kind: 'neuronRegistered',
            netuid,
            uid: int(event, 1),
            hotkey: arg(event, 2),
            ...position,
          });
        }
        break;
      }
      case 'subtensorModule.AxonServed': {
        const netuid = int(event, 0);
        if (onWatchedSubnet(netuid))
          facts.push({ kind: 'axonServed', netuid, hotkey: arg(event, 1), ...position });
        break;
      }
      case 'subtensorModule.StakeAdded':
      case 'subtensorModule.StakeRemoved': {
        // (coldkey, hotkey, tao, alpha, netuid) since dynamic TAO.
        const netuid = int(event, 4);
        if (onWatchedSubnet(netuid)) {
          facts.push({
            kind: event.method === 'StakeAdded' ? 'stakeAdded' : 'stakeRemoved',
            coldkey: arg(event, 0),
            hotkey: arg(event, 1),
            amount: decimal(event, 2),
            alpha: decimal(event, 3),
            netuid,
            ...position,
          });
        }
        break;
      }
      case 'subtensorModule.WeightsSet': {
        const netuid = int(event, 0);
        if (onWatchedSubnet(netuid))
          facts.push({ kind: 'weightsSet', netuid, uid: int(event, 1), ...position });
        break;
      }
      case 'subtensorModule.NetworkAdded':
        facts.push({ kind: 'subnetAdded', netuid: int(event, 0), ...position });
        break;
      case 'subtensorModule.NetworkRemoved':
        facts.push({ kind: 'subnetRemoved', netuid: int(event, 0), ...position });
        break;
      default:
        break;
    }
  }
  return facts;
}

/** Facts that change a subnet's neurons, so its metagraph is read again at this block. */
export function netuidsTouched(facts: readonly SelectedFact[]): Set<number> {
  const touched = new Set<number>();
  for (const fact of facts) {
    if (
      fact.kind === 'neuronRegistered' ||
      fact.kind === 'axonServed' ||
      fact.kind === 'stakeAdded' ||
      fact.kind === 'stakeRemoved'
    ) {
      touched.add(fact.netuid);
    }
  }
  return touched;
}
