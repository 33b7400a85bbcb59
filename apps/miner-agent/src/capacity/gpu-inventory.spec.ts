import { describe, expect, it } from 'vitest';
import { isCapacityExceeded } from '../shared/miner-errors.js';
import { GpuInventory } from './gpu-inventory.js';
import { declaredSource, parseDeclaredGpus, parseNvidiaSmi } from './gpu-source.js';

// `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits` on an 8×H100 host.
const H100_HOST = `0, NVIDIA H100 80GB HBM3, 81559, 1
1, NVIDIA H100 80GB HBM3, 81559, 72011
2, NVIDIA H100 80GB HBM3, 81559, 1
`;

describe('GPU sources', () => {
  it('reads nvidia-smi output', () => {
    expect(parseNvidiaSmi(H100_HOST)).toEqual([
      { index: 0, name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559, memoryUsedMiB: 1 },
      { index: 1, name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559, memoryUsedMiB: 72011 },
      { index: 2, name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559, memoryUsedMiB: 1 },
    ]);
  });

  it('refuses fields nvidia-smi could not report instead of reading them as numbers', () => {
    expect(() => parseNvidiaSmi('0, Tesla T4, [N/A], 0\n')).toThrow(/memory.total/);
  });

  it('reads declared GPUs', () => {
    expect(
      parseDeclaredGpus('2xA100-80GB:81920, 1xcpu:0').map((gpu) => [gpu.index, gpu.name, gpu.memoryTotalMiB]),
    ).toEqual([
      [0, 'A100-80GB', 81920],
      [1, 'A100-80GB', 81920],
      [2, 'cpu', 0],
    ]);
    expect(() => parseDeclaredGpus('two A100s')).toThrow(/<count>x<name>/);
  });
});

describe('GpuInventory', () => {
  it('reserves all requested GPUs or none, and frees them on release', async () => {
    const inventory = await GpuInventory.open(declaredSource(parseDeclaredGpus('3xcpu:0')));
    inventory.reserve('a', [0, 1]);
    const refusal = (() => {
      try {
        inventory.reserve('b', [1, 2]);
      } catch (err) {
        return err;
      }
    })();
    expect(isCapacityExceeded(refusal)).toBe(true);
    // GPU 2 was not taken by the refused launch.
    expect((await inventory.snapshot()).map((gpu) => gpu.instanceId)).toEqual(['a', 'a', null]);
    expect(() => inventory.reserve('c', [3])).toThrow(/do not exist/);
    inventory.release('a');
    inventory.reserve('b', [1, 2]);
    expect(inventory.free).toBe(1);
  });
});
