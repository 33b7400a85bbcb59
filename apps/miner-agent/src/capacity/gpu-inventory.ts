import type { MinerGpu } from '@tessera/contracts';
import { minerErrors } from '../shared/miner-errors.js';
import type { GpuDescription, GpuSource } from './gpu-source.js';

/**
 * Which GPU holds which instance. Reservations are synchronous, so two launches arriving together
 * can never both get one GPU, and nothing is ever over-committed.
 */
export class GpuInventory {
  private readonly holder = new Map<number, string | null>();

  private constructor(
    private readonly source: GpuSource,
    gpus: readonly GpuDescription[],
  ) {
    for (const gpu of gpus) this.holder.set(gpu.index, null);
  }

  /** Reads the GPU list once: GPUs do not come and go while the agent runs. */
  static async open(source: GpuSource): Promise<GpuInventory> {
    const gpus = await source.read();
    if (gpus.length === 0) throw new Error(`no GPUs found (${source.kind})`);
    return new GpuInventory(source, gpus);
  }

  get kind(): GpuSource['kind'] {
    return this.source.kind;
  }

  get total(): number {
    return this.holder.size;
  }

  get free(): number {
    return [...this.holder.values()].filter((holder) => holder === null).length;
  }

  /** Takes `gpus` for `instanceId`, all or none; refuses busy or unknown GPUs with a typed error. */
  reserve(instanceId: string, gpus: readonly number[]): void {
    const missing = gpus.filter((gpu) => !this.holder.has(gpu));
    const busy = gpus.filter((gpu) => {
      const holder = this.holder.get(gpu);
      return holder !== undefined && holder !== null;
    });
    if (missing.length > 0 || busy.length > 0) {
      throw minerErrors.capacityExceeded(
        missing.length > 0
          ? `GPUs ${missing.join(', ')} do not exist here`
          : `GPUs ${busy.join(', ')} are busy`,
        { missing, busy, free: this.free },
      );
    }
    for (const gpu of gpus) this.holder.set(gpu, instanceId);
  }

  release(instanceId: string): void {
    for (const [gpu, holder] of this.holder) if (holder === instanceId) this.holder.set(gpu, null);
  }

  /** The GPUs with their memory now and who holds them. */
  async snapshot(): Promise<MinerGpu[]> {
    const gpus = await this.source.read();
    return gpus
      .filter((gpu) => this.holder.has(gpu.index))
      .map((gpu) => ({ ...gpu, instanceId: this.holder.get(gpu.index) ?? null }));
  }
}
