import { createHash } from 'node:crypto';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';

/**
 * The hard junction an account's deposit key is derived on: `id-` and the sha256 of the account
 * id. Never the raw id: Substrate reads a numeric or `0x` junction as a number, so `7`, `07` and
 * `0x07` would all derive one address. The `id-` prefix keeps the junction a string even for a
 * hash that happens to be all digits.
 */
export function depositJunction(accountId: string): string {
  return `id-${createHash('sha256').update(accountId, 'utf8').digest('hex')}`;
}

/**
 * Derives deposit addresses: sr25519 with the hard path `//tessera//deposit//<junction>` from the
 * platform's seed, SS58 prefix 42. Deterministic, so no per-customer secret is ever stored:
 * whoever holds the seed can re-derive any address's key to sweep it. Accounts opened before the
 * junction was hashed keep the address their `AccountOpened` event recorded.
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
    return this.keyring.createFromUri(`${this.seed}//tessera//deposit//${depositJunction(accountId)}`)
      .address;
  }
}
