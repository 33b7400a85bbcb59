import { describe, expect, it } from 'vitest';
import { randomSalt, subnetEpochs, weightsCommitHash } from './weights-commit.js';

describe('weightsCommitHash', () => {
  it('matches a vector computed outside this code', () => {
    // python3: blake2b(pubkey ‖ u16 LE ‖ compact-len Vec<u16> ×3 ‖ u64 LE, digest_size=32)
    expect(
      weightsCommitHash({
        hotkey: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
        netuid: 2,
        uids: [1, 3],
        weights: [65_535, 32_768],
        salt: [1, 2, 3, 4, 5, 6, 7, 8],
        versionKey: 7,
      }),
    ).toBe('0xb67a5ed788cbd98810baaeba4175c33c7b90c38fe723a0d74a8bf2ff9b393836');
  });

  it('changes with the salt', () => {
    const input = {
      hotkey: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
      netuid: 2,
      uids: [1],
      weights: [1],
      versionKey: 0,
    };
    expect(weightsCommitHash({ ...input, salt: [1] })).not.toBe(weightsCommitHash({ ...input, salt: [2] }));
  });

  it('draws eight u16s for a salt', () => {
    expect(randomSalt((array) => array.fill(9))).toEqual([9, 9, 9, 9, 9, 9, 9, 9]);
    expect(randomSalt()).toHaveLength(8);
  });
});

describe('subnetEpochs', () => {
  // netuid 2, tempo 9: (block + 3) % 10 == 9 → epochs run in blocks 6, 16, 26, …
  it('finds the blocks where the epoch runs', () => {
    const runs = Array.from({ length: 30 }, (_, block) => block).filter((block) =>
      subnetEpochs.runsIn(block, 2, 9),
    );
    expect(runs).toEqual([6, 16, 26]);
    expect(subnetEpochs.runsIn(6, 2, 0)).toBe(false);
  });

  it('numbers epochs so that a new one starts right after the epoch block', () => {
    expect([5, 6, 7, 16, 17].map((block) => subnetEpochs.indexOf(block, 2, 9))).toEqual([0, 0, 1, 1, 2]);
  });

  it('says when a reveal is due', () => {
    const revealEpoch = subnetEpochs.revealEpochOf(8, 2, 9, 1); // committed in epoch 1
    expect(revealEpoch).toBe(2);
    expect(subnetEpochs.revealDueAfter(15, 2, 9, revealEpoch)).toBe(false); // next block 16: epoch 1
    expect(subnetEpochs.revealDueAfter(16, 2, 9, revealEpoch)).toBe(true); // next block 17: epoch 2
  });
});
