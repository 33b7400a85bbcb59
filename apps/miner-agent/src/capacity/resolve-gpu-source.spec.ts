import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveGpuSource } from './resolve-gpu-source.js';

const logger = pino({ level: 'silent' });
const absent = '/nonexistent/nvidia-smi';

describe('resolveGpuSource', () => {
  it('uses declared GPUs when GPUS lists them', async () => {
    const source = await resolveGpuSource(
      { GPUS: '2xcpu:0', NVIDIA_SMI: absent, NODE_ENV: 'production' },
      logger,
    );
    expect(source.kind).toBe('declared');
    expect((await source.read()).length).toBe(2);
  });

  it('refuses to guess in production when nvidia-smi is missing', async () => {
    await expect(
      resolveGpuSource({ GPUS: 'auto', NVIDIA_SMI: absent, NODE_ENV: 'production' }, logger),
    ).rejects.toThrow(/declare the GPUs in GPUS/);
  });

  it('declares one cpu slot outside production when nvidia-smi is missing', async () => {
    const source = await resolveGpuSource(
      { GPUS: 'auto', NVIDIA_SMI: absent, NODE_ENV: 'development' },
      logger,
    );
    expect(await source.read()).toEqual([{ index: 0, name: 'cpu', memoryTotalMiB: 0, memoryUsedMiB: 0 }]);
  });
});
