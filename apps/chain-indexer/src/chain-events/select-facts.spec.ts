import { describe, expect, it } from 'vitest';
import { isUnexpectedEventShape } from '../shared/indexer-errors.js';
import { netuidsTouched, selectFacts, type RawChainEvent } from './select-facts.js';

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty';
const DEPOSIT = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y';

const event = (
  index: number,
  name: string,
  args: string[],
  extrinsicIndex: number | null = 1,
): RawChainEvent => {
  const [section, method] = name.split('.') as [string, string];
  return { index, section, method, extrinsicIndex, args };
};

describe('selectFacts', () => {
  const watchAll = { isWatched: (address: string) => address === DEPOSIT, netuids: null };

  it('given a transfer to a watched address, reports it with its position', () => {
    const facts = selectFacts(
      [
        event(0, 'system.ExtrinsicSuccess', ['{}'], 0),
        event(3, 'balances.Transfer', [ALICE, DEPOSIT, '7000000000']),
        event(4, 'balances.Transfer', [ALICE, BOB, '1']),
      ],
      watchAll,
    );
    expect(facts).toEqual([
      { kind: 'transfer', from: ALICE, to: DEPOSIT, amount: '7000000000', eventIndex: 3, extrinsicIndex: 1 },
    ]);
  });

  it('given subtensor events, decodes them positionally and keeps only watched subnets', () => {
    const events = [
      event(1, 'subtensorModule.NeuronRegistered', ['2', '5', ALICE]),
      event(2, 'subtensorModule.NeuronRegistered', ['9', '1', BOB]),
      event(3, 'subtensorModule.AxonServed', ['2', ALICE]),
      event(4, 'subtensorModule.StakeAdded', [BOB, ALICE, '100', '42', '2']),
      event(5, 'subtensorModule.StakeRemoved', [BOB, ALICE, '5', '1', '2']),
      event(6, 'subtensorModule.WeightsSet', ['2', '5']),
      event(7, 'subtensorModule.NetworkAdded', ['9', '1'], null),
      event(8, 'subtensorModule.NetworkRemoved', ['3'], null),
    ];
    const facts = selectFacts(events, { isWatched: () => false, netuids: new Set([2]) });
    expect(facts.map((fact) => fact.kind)).toEqual([
      'neuronRegistered',
      'axonServed',
      'stakeAdded',
      'stakeRemoved',
      'weightsSet',
      'subnetAdded',
      'subnetRemoved',
    ]);
    expect(facts[2]).toMatchObject({ coldkey: BOB, hotkey: ALICE, amount: '100', alpha: '42', netuid: 2 });
    expect(facts[5]).toMatchObject({ netuid: 9, extrinsicIndex: null });
    expect([...netuidsTouched(facts)]).toEqual([2]);
  });

  it('given an event with fewer arguments than this runtime family has, fails loudly', () => {
    let thrown: unknown;
    try {
      selectFacts([event(1, 'subtensorModule.WeightsSet', ['2'])], watchAll);
    } catch (err) {
      thrown = err;
    }
    expect(isUnexpectedEventShape(thrown)).toBe(true);
    expect(thrown).toMatchObject({ details: { event: 'subtensorModule.WeightsSet', eventIndex: 1 } });
  });
});
