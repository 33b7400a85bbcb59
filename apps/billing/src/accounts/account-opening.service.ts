import { Inject, Injectable } from '@nestjs/common';
import { DepositAddressService } from '../deposits/deposit-address.service.js';
import { DEPOSIT_DERIVER } from '../shared/tokens.js';
import { AccountService } from './account.service.js';
import { type AccountState } from './account.state.js';
import { DepositAddressDeriver } from './deposit-address.js';

/**
 * Opens accounts: claims the derived deposit address first (expecting the address's stream to be
 * empty, so no two accounts ever share one), then opens the account with it. A crash between the
 * two leaves a claim that the retried open finds its own.
 */
@Injectable()
export class AccountOpening {
  constructor(
    private readonly accounts: AccountService,
    private readonly addresses: DepositAddressService,
    @Inject(DEPOSIT_DERIVER) private readonly deriver: DepositAddressDeriver,
  ) {}

  async open(accountId: string, name: string, actor: string): Promise<AccountState> {
    const depositAddress = this.deriver.addressFor(accountId);
    await this.addresses.claim(depositAddress, accountId, actor);
    return (await this.accounts.execute({ kind: 'open', accountId, name, depositAddress }, actor)).state;
  }
}
