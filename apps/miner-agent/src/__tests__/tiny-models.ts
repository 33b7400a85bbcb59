import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '@tessera/tiny-model';

/** A temporary folder with tiny GGUF models written on demand; `cleanup` removes it. */
export interface TinyModels {
  dir: string;
  /** Writes the tiny model for `seed` to `<dir>/<file>` and returns its path and sha256. */
  write(file: string, seed: number): Promise<{ path: string; sha256: string }>;
  cleanup(): Promise<void>;
}

export async function tinyModels(): Promise<TinyModels> {
  const dir = await mkdtemp(join(tmpdir(), 'miner-models-'));
  return {
    dir,
    async write(file, seed) {
      const path = join(dir, file);
      return { path, sha256: await writeTinyModel(path, { seed }) };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
