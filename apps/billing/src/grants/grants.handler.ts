import { Controller, Inject } from '@nestjs/common';
import {
  GrantCredit,
  SettleGrant,
  accountOfGrant,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { v7 as uuidv7 } from 'uuid';
import { AccountService } from '../accounts/account.service.js';
import { BillingConfig } from '../config.js';
import { CLOCK, utcDay, type Clock } from '../shared/tokens.js';
import { grantMadeBy } from './grant.decide.js';

/** Grants for the proxies, and their settlement. */
@Controller()
export class GrantsHandler {
  constructor(
    private readonly accounts: AccountService,
    private readonly config: BillingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @RpcHandler(GrantCredit)
  async grantCredit(
    request: RpcParsedRequestOf<typeof GrantCredit>,
  ): Promise<RpcResponseOf<typeof GrantCredit>> {
    const now = this.clock.now();
    const { state } = await this.accounts.execute(
      {
        kind: 'grant',
        accountId: request.accountId,
        grantId: `${request.accountId}:${uuidv7()}`,
        idempotencyKey: request.idempotencyKey,
        holder: request.holder,
        requested: BigInt(request.requested),
        expiresAt: new Date(now.getTime() + this.config.GRANT_TTL_MS),
      },
      `service:${request.holder.replace(/\s/g, '_')}`,
    );
    // A retried call with the same key finds the grant the first call made.
    const grant = grantMadeBy(state, request.idempotencyKey);
    if (!grant) throw new Error(`grant for key ${request.idempotencyKey} missing after it was decided`);
    return {
      grantId: grant.grantId,
      granted: grant.granted.toString(),
      expiresAt: new Date(grant.expiresAt).toISOString(),
    };
  }

  @RpcHandler(SettleGrant)
  async settleGrant(
    request: RpcParsedRequestOf<typeof SettleGrant>,
  ): Promise<RpcResponseOf<typeof SettleGrant>> {
    const now = this.clock.now();
    const { state } = await this.accounts.execute(
      {
        kind: 'settle',
        accountId: accountOfGrant(request.grantId),
        grantId: request.grantId,
        holder: request.holder,
        usage: request.usage.map((item) => ({
          requestId: item.requestId,
          amount: BigInt(item.amount),
          item: item.item,
        })),
        day: utcDay(now),
        dailyAllowance: this.accounts.dailyAllowance,
        now,
      },
      `service:${request.holder.replace(/\s/g, '_')}`,
    );
    // First call or retry alike: the settlement the grant records.
    const settlement = state.grants.get(request.grantId)?.settlement;
    if (!settlement) throw new Error(`grant ${request.grantId} has no settlement after it was settled`);
    return {
      grantId: request.grantId,
      charged: settlement.charged.toString(),
      returned: settlement.returned.toString(),
    };
  }
}
