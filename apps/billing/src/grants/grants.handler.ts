import { Controller } from '@nestjs/common';
import {
  ChargeGpuUsage,
  GrantCredit,
  SettleGrant,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { chargeFingerprint } from '../accounts/account.decider.js';
import { AccountService } from '../accounts/account.service.js';
import { gpuCharge } from '../prices/price-book.decider.js';
import { PriceBookService } from '../prices/price-book.service.js';
import { billingErrors } from '../shared/errors.js';
import { utcDay } from '../shared/tokens.js';

/** Grants for the proxy, their settlement, and charges without a grant. */
@Controller()
export class GrantsHandler {
  constructor(
    private readonly accounts: AccountService,
    private readonly prices: PriceBookService,
  ) {}

  @RpcHandler(GrantCredit)
  async grantCredit(
    request: RpcParsedRequestOf<typeof GrantCredit>,
  ): Promise<RpcResponseOf<typeof GrantCredit>> {
    const grant = await this.accounts.grant(
      {
        accountId: request.accountId,
        holder: request.holder,
        requested: BigInt(request.requested),
        idempotencyKey: request.idempotencyKey,
      },
      `service:${request.holder}`.replace(/\s/g, '_'),
    );
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
    const { charged, returned } = await this.accounts.settle(
      request.grantId,
      request.usage.map((item) => ({
        requestId: item.requestId,
        amount: BigInt(item.amount),
        item: item.item,
      })),
      'service:grant-holder',
    );
    return { grantId: request.grantId, charged: charged.toString(), returned: returned.toString() };
  }

  @RpcHandler(ChargeGpuUsage)
  async chargeGpuUsage(
    request: RpcParsedRequestOf<typeof ChargeGpuUsage>,
  ): Promise<RpcResponseOf<typeof ChargeGpuUsage>> {
    const book = await this.prices.current();
    const price = book.gpus.get(request.gpuType);
    if (!price) throw billingErrors.unknownPrice(`GPU ${request.gpuType}`);
    const perHour =
      request.product === 'training' ? price.trainingNanoUsdPerHour : price.deploymentNanoUsdPerHour;
    const charge = {
      requestId: request.chargeId,
      grantId: null,
      product: request.product,
      item: request.gpuType,
      promptTokens: 0,
      completionTokens: 0,
      gpuSeconds: request.gpuSeconds,
      priceVersion: book.version,
      amount: gpuCharge(perHour, request.gpuSeconds),
      day: utcDay(this.accounts.now()),
    };
    const { events } = await this.accounts.charge(
      request.accountId,
      charge,
      'refuse',
      chargeFingerprint(charge),
      'service:gpu-metering',
    );
    const recorded = events[0]?.data as { amount: string; priceVersion: number } | undefined;
    if (recorded)
      return { chargeId: request.chargeId, amount: recorded.amount, priceVersion: recorded.priceVersion };
    // A retry of the same charge: nothing new was posted; same content, so the same price unless
    // the book changed in between (then the first charge's amount stands, as recorded on its event).
    return { chargeId: request.chargeId, amount: charge.amount.toString(), priceVersion: book.version };
  }
}
