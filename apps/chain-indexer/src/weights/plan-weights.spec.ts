import { describe, expect, it } from 'vitest';
import { blocksUntilAllowed, planWeights } from './plan-weights.js';

const HOT = [
  '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
  '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty',
  '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y',
] as const;
const subnet = new Map<number, string>(HOT.map((hotkey, uid) => [uid, hotkey]));
const watched = new Set([2]);
const proposal = (weights: { uid?: number; hotkey?: string; weight: number }[], netuid = 2) => ({
  proposalId: '0190f5d6-8a4e-7c3b-9d2e-1f0a2b3c4d5e',
  netuid,
  versionKey: '0',
  weights,
});

describe('planWeights', () => {
  it('given weights by uid and hotkey, scales the largest to 65535 and sorts by uid', () => {
    const plan = planWeights(
      proposal([
        { hotkey: HOT[2], weight: 1 },
        { uid: 0, weight: 3 },
      ]),
      watched,
      subnet,
    );
    expect(plan).toEqual({ ok: true, uids: [0, 2], weights: [65535, 21845], dropped: [] });
  });

  it('given a uid now held by another hotkey, drops that entry', () => {
    const plan = planWeights(
      proposal([
        { uid: 1, hotkey: HOT[0], weight: 1 },
        { uid: 2, weight: 1 },
      ]),
      watched,
      subnet,
    );
    expect(plan).toEqual({ ok: true, uids: [2], weights: [65535], dropped: [{ uid: 1, hotkey: HOT[0] }] });
  });

  it('leaves out weights that round to zero', () => {
    const plan = planWeights(
      proposal([
        { uid: 0, weight: 1 },
        { uid: 1, weight: 1e-9 },
      ]),
      watched,
      subnet,
    );
    expect(plan).toMatchObject({ ok: true, uids: [0], weights: [65535] });
  });

  it.each([
    ['WrongNetuid', proposal([{ uid: 0, weight: 1 }], 7)],
    ['EmptyProposal', proposal([])],
    ['InvalidWeight', proposal([{ uid: 0, weight: Number.NaN }])],
    ['InvalidWeight', proposal([{ uid: 0, weight: Number.POSITIVE_INFINITY }])],
    ['NegativeWeight', proposal([{ uid: 0, weight: -0.5 }])],
    [
      'AllWeightsZero',
      proposal([
        { uid: 0, weight: 0 },
        { uid: 1, weight: 0 },
      ]),
    ],
    ['UnknownUid', proposal([{ uid: 17, weight: 1 }])],
    ['UnknownHotkey', proposal([{ hotkey: '5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy', weight: 1 }])],
    [
      'DuplicateTarget',
      proposal([
        { uid: 0, weight: 1 },
        { hotkey: HOT[0], weight: 2 },
      ]),
    ],
    ['NoRegisteredTargets', proposal([{ uid: 1, hotkey: HOT[0], weight: 1 }])],
  ])('refuses with %s', (reason, input) => {
    expect(planWeights(input, watched, subnet)).toMatchObject({ ok: false, reason });
  });
});

describe('blocksUntilAllowed', () => {
  it('counts the blocks until block - lastUpdate >= limit for the next block', () => {
    expect(blocksUntilAllowed(100, 100, 6)).toBe(5);
    expect(blocksUntilAllowed(105, 100, 6)).toBe(0);
    expect(blocksUntilAllowed(104, 100, 6)).toBe(1);
    expect(blocksUntilAllowed(3, 0, 100)).toBe(0);
  });
});
