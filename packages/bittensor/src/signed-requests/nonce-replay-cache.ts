/**
 * The nonces a receiver has accepted, each kept until the nonce's own time leaves the acceptance
 * window: after that the window check refuses it anyway, so the cache never needs to remember
 * more than one window's worth of traffic. One instance per receiver, shared by every request
 * it verifies (a process-local cache: replicas behind one hotkey each keep their own, so a
 * request replayed to a different replica is only caught if the replicas share one).
 */
export class NonceReplayCache {
  private readonly expiries = new Map<string, bigint>();
  private nextSweepNs = 0n;

  /**
   * Records `signer`'s `nonce`, valid until `expiresAtNs`. Returns false (and records nothing)
   * when the same signer's nonce is already recorded and not yet expired. Synchronous, so two
   * concurrent verifications of one request cannot both claim it.
   */
  claim(signer: string, nonce: string, expiresAtNs: bigint, nowNs: bigint): boolean {
    this.sweep(nowNs);
    const key = `${signer}:${nonce}`;
    const existing = this.expiries.get(key);
    if (existing !== undefined && existing >= nowNs) return false;
    this.expiries.set(key, expiresAtNs);
    return true;
  }

  /** How many nonces are remembered now (expired ones go at the next claim's sweep). */
  get size(): number {
    return this.expiries.size;
  }

  // A full pass at most once per second of claim traffic keeps the cost amortised O(1) per
  // claim without a priority queue: entries live at most two windows, so the map stays small.
  private sweep(nowNs: bigint): void {
    if (nowNs < this.nextSweepNs) return;
    for (const [key, expiresAtNs] of this.expiries) {
      if (expiresAtNs < nowNs) this.expiries.delete(key);
    }
    this.nextSweepNs = nowNs + 1_000_000_000n;
  }
}
