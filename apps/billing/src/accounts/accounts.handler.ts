import { Controller } from '@nestjs/common';
import {
  ChangeAccountStatus,
  CreditAccount,
  GetAccount,
  OpenAccount,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { utcDay } from '../shared/tokens.js';
import { allowanceLeft } from '../usage/usage.decide.js';
import { AccountOpening } from './account-opening.service.js';
import { AccountService } from './account.service.js';

const OPERATOR = 'operator:rpc';

/** Account lifecycle and balances over request/reply. */
@Controller()
export class AccountsHandler {
  constructor(
    private readonly accounts: AccountService,
    private readonly opening: AccountOpening,
  ) {}

  @RpcHandler(OpenAccount)
  async openAccount(
    request: RpcParsedRequestOf<typeof OpenAccount>,
  ): Promise<RpcResponseOf<typeof OpenAccount>> {
    const state = await this.opening.open(request.accountId, request.name, OPERATOR);
    return { accountId: state.accountId, depositAddress: state.depositAddress };
  }

  @RpcHandler(ChangeAccountStatus)
  async changeStatus(
    request: RpcParsedRequestOf<typeof ChangeAccountStatus>,
  ): Promise<RpcResponseOf<typeof ChangeAccountStatus>> {
    const { state } = await this.accounts.execute(
      { kind: request.action, accountId: request.accountId, reason: request.reason },
      OPERATOR,
    );
    return { accountId: request.accountId, status: state.status };
  }

  @RpcHandler(GetAccount)
  async getAccount(
    request: RpcParsedRequestOf<typeof GetAccount>,
  ): Promise<RpcResponseOf<typeof GetAccount>> {
    const state = await this.accounts.get(request.accountId);
    return {
      accountId: state.accountId,
      name: state.name,
      status: state.status,
      depositAddress: state.depositAddress,
      balance: state.balance.toString(),
      held: state.held.toString(),
      owed: state.owed.toString(),
      freeAllowanceLeftToday: allowanceLeft(
        state,
        utcDay(this.accounts.now()),
        this.accounts.dailyAllowance,
      ).toString(),
    };
  }

  @RpcHandler(CreditAccount)
  async creditAccount(
    request: RpcParsedRequestOf<typeof CreditAccount>,
  ): Promise<RpcResponseOf<typeof CreditAccount>> {
    const { state } = await this.accounts.execute(
      {
        kind: 'credit',
        accountId: request.accountId,
        idempotencyKey: request.idempotencyKey,
        amount: BigInt(request.amount),
        reason: request.reason,
      },
      OPERATOR,
    );
    return { accountId: request.accountId, balance: state.balance.toString() };
  }
}
