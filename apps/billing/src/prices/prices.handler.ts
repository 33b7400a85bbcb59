import { Controller } from '@nestjs/common';
import {
  GetPriceBook,
  SetGpuPrice,
  SetModelPrice,
  SetTaoPrice,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { PriceBookService } from './price-book.service.js';

const OPERATOR = 'operator:rpc';

/** The operator's price book over request/reply. */
@Controller()
export class PricesHandler {
  constructor(private readonly prices: PriceBookService) {}

  @RpcHandler(SetTaoPrice)
  async setTaoPrice(
    request: RpcParsedRequestOf<typeof SetTaoPrice>,
  ): Promise<RpcResponseOf<typeof SetTaoPrice>> {
    return {
      priceVersion: await this.prices.change(
        { kind: 'setTaoPrice', nanoUsdPerTao: BigInt(request.nanoUsdPerTao) },
        OPERATOR,
      ),
    };
  }

  @RpcHandler(SetModelPrice)
  async setModelPrice(
    request: RpcParsedRequestOf<typeof SetModelPrice>,
  ): Promise<RpcResponseOf<typeof SetModelPrice>> {
    return {
      priceVersion: await this.prices.change(
        {
          kind: 'setModelPrice',
          model: request.model,
          price: {
            inputNanoUsdPerMillion: BigInt(request.inputNanoUsdPerMillion),
            outputNanoUsdPerMillion: BigInt(request.outputNanoUsdPerMillion),
          },
        },
        OPERATOR,
      ),
    };
  }

  @RpcHandler(SetGpuPrice)
  async setGpuPrice(
    request: RpcParsedRequestOf<typeof SetGpuPrice>,
  ): Promise<RpcResponseOf<typeof SetGpuPrice>> {
    return {
      priceVersion: await this.prices.change(
        {
          kind: 'setGpuPrice',
          gpuType: request.gpuType,
          price: {
            trainingNanoUsdPerHour: BigInt(request.trainingNanoUsdPerHour),
            deploymentNanoUsdPerHour: BigInt(request.deploymentNanoUsdPerHour),
          },
        },
        OPERATOR,
      ),
    };
  }

  @RpcHandler(GetPriceBook)
  async getPriceBook(): Promise<RpcResponseOf<typeof GetPriceBook>> {
    const book = await this.prices.current();
    return {
      priceVersion: book.version,
      nanoUsdPerTao: book.nanoUsdPerTao?.toString() ?? null,
      models: [...book.models].map(([model, price]) => ({
        model,
        inputNanoUsdPerMillion: price.inputNanoUsdPerMillion.toString(),
        outputNanoUsdPerMillion: price.outputNanoUsdPerMillion.toString(),
      })),
      gpus: [...book.gpus].map(([gpuType, price]) => ({
        gpuType,
        trainingNanoUsdPerHour: price.trainingNanoUsdPerHour.toString(),
        deploymentNanoUsdPerHour: price.deploymentNanoUsdPerHour.toString(),
      })),
    };
  }
}
