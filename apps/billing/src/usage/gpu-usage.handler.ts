import { Controller } from '@nestjs/common';
import { ChargeGpuUsage, type RpcParsedRequestOf, type RpcResponseOf } from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { AccountService } from '../accounts/account.service.js';
import { gpuCharge } from '../prices/price-book.decider.js';
import { PriceBookService } from '../prices/price-book.service.js';
import { billingErrors } from '../shared/errors.js';
import { utcDay } from '../shared/tokens.js';
import { parseChargeOutcome, usageKey } from './usage.decide.js';

/** GPU time charged without a grant (training jobs, dedicated deployments), asked for before the work. */
@Controller()
export class GpuUsageHandler {
  constructor(
    private readonly accounts: AccountService,
    private readonly prices: PriceBookService,
  ) {}

  @RpcHandler(ChargeGpuUsage)
  async chargeGpuUsage(
    request: RpcParsedRequestOf<typeof ChargeGpuUsage>,
  ): Promise<RpcResponseOf<typeof ChargeGpuUsage>> {
    let book = await this.prices.current();
    // Priced by another replica since this one last looked?
    if (!book.gpus.has(request.gpuType)) book = await this.prices.current({ fresh: true });
    const price = book.gpus.get(request.gpuType);
    if (!price) throw billingErrors.unknownPrice(`GPU ${request.gpuType}`);
    const perHour =
      request.product === 'training' ? price.trainingNanoUsdPerHour : price.deploymentNanoUsdPerHour;
    const { state } = await this.accounts.execute(
      {
        kind: 'charge',
        accountId: request.accountId,
        charge: {
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
        },
        dailyAllowance: this.accounts.dailyAllowance,
        overdraft: 'refuse',
      },
      'service:gpu-metering',
    );
    // First call or retry alike: what the charge recorded (a retry after a price change keeps the first price).
    const record = state.idempotency.get(usageKey(request.chargeId));
    if (!record) throw new Error(`charge ${request.chargeId} has no record after it was decided`);
    const { amount, priceVersion } = parseChargeOutcome(record.outcome);
    return { chargeId: request.chargeId, amount, priceVersion: priceVersion ?? book.version };
  }
}
