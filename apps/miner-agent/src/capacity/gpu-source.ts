import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** One GPU as the host reports it (or as the config declares it). */
export interface GpuDescription {
  index: number;
  name: string;
  memoryTotalMiB: number;
  memoryUsedMiB: number;
}

/** Where the GPU list comes from. */
export interface GpuSource {
  readonly kind: 'nvidia-smi' | 'declared';
  read(): Promise<GpuDescription[]>;
}

const QUERY = ['--query-gpu=index,name,memory.total,memory.used', '--format=csv,noheader,nounits'];

/** Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(output: string): GpuDescription[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const fields = line.split(',').map((field) => field.trim());
      const [index, name, total, used] = fields;
      if (
        fields.length !== 4 ||
        index === undefined ||
        name === undefined ||
        total === undefined ||
        used === undefined
      ) {
        throw new Error(`unexpected nvidia-smi line: ${line}`);
      }
      const number = (value: string, what: string): number => {
        // Drivers print "[N/A]" or "[Not Supported]" for some fields on some GPUs.
        if (!/^[0-9]+$/.test(value))
          throw new Error(`nvidia-smi reported ${what} "${value}" for GPU ${index}`);
        return Number(value);
      };
      return {
        index: number(index, 'index'),
        name,
        memoryTotalMiB: number(total, 'memory.total'),
        memoryUsedMiB: number(used, 'memory.used'),
      };
    });
}

/** The host's NVIDIA GPUs, read with `nvidia-smi` on each call. */
export function nvidiaSmiSource(command: string): GpuSource {
  return {
    kind: 'nvidia-smi',
    async read() {
      const { stdout } = await promisify(execFile)(command, QUERY, { timeout: 10_000 });
      return parseNvidiaSmi(stdout);
    },
  };
}

/**
 * GPUs declared in config, for hosts without NVIDIA GPUs (a CPU host offering the llama engine
 * declares slots this way): `<count>x<name>:<memory MiB>`, comma-separated, e.g.
 * `2xA100-80GB:81920` or `1xcpu:0`. Indexes count up from 0 in order.
 */
export function parseDeclaredGpus(spec: string): GpuDescription[] {
  const gpus: GpuDescription[] = [];
  for (const part of spec.split(',').map((item) => item.trim())) {
    const match = /^([1-9][0-9]*)x([A-Za-z0-9._-]+):([0-9]+)$/.exec(part);
    if (!match) throw new Error(`"${part}" is not <count>x<name>:<memory MiB>`);
    const [, count, name, memory] = match;
    for (let i = 0; i < Number(count); i++) {
      gpus.push({ index: gpus.length, name: name!, memoryTotalMiB: Number(memory), memoryUsedMiB: 0 });
    }
  }
  return gpus;
}

export function declaredSource(gpus: readonly GpuDescription[]): GpuSource {
  return { kind: 'declared', read: async () => gpus.map((gpu) => ({ ...gpu })) };
}
