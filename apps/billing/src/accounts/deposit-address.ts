import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';

/**
 * Derives deposit addresses: sr25519 with the hard path `//tessera//deposit//<accountId>` from
 * the platform's seed, SS58 prefix 42. Deterministic, so no per-customer secret is ever stored:
 * whoever holds the seed can re-derive any address's key to sweep it.
 */
export class DepositAddressDeriver {
  private constructor(
    private readonly keyring: Keyring,
    private readonly seed: string,
  ) {}

  static async create(seed: string): Promise<DepositAddressDeriver> {
    await cryptoWaitReady();
    return new DepositAddressDeriver(new Keyring({ type: 'sr25519', ss58Format: 42 }), seed);
  }

  addressFor(accountId: string): string {
    return this.keyring.createFromUri(`${this.seed}//tessera//deposit//${accountId}`).address;
  }
}
