import type { Logger } from 'pino';
import { findOnPath } from '../shared/find-on-path.js';
import { declaredSource, nvidiaSmiSource, parseDeclaredGpus, type GpuSource } from './gpu-source.js';

/**
 * Declared GPUs when `GPUS` lists them; otherwise `nvidia-smi`. A host without it gets one
 * declared `cpu` slot outside production (development and the local demo), and refuses to
 * start in production: a miner that cannot see its GPUs would offer what it does not have.
 */
export async function resolveGpuSource(
  config: { GPUS: string; NVIDIA_SMI: string; NODE_ENV: string },
  logger: Logger,
): Promise<GpuSource> {
  if (config.GPUS !== 'auto') return declaredSource(parseDeclaredGpus(config.GPUS));
  if (await findOnPath(config.NVIDIA_SMI)) return nvidiaSmiSource(config.NVIDIA_SMI);
  if (config.NODE_ENV === 'production') {
    throw new Error(
      `GPUS=auto but ${config.NVIDIA_SMI} was not found; declare the GPUs in GPUS on a host without NVIDIA GPUs`,
    );
  }
  logger.warn(
    { nvidiaSmi: config.NVIDIA_SMI },
    'no nvidia-smi: declaring one cpu slot (set GPUS to declare GPUs)',
  );
  return declaredSource(parseDeclaredGpus('1xcpu:0'));
}
