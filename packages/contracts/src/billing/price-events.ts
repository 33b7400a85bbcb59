import { z } from 'zod';
import { positivePriceNanoUsdSchema, priceNanoUsdSchema } from '../amounts.js';
import { defineEvent } from '../define-event.js';

/** Each price change bumps the price book's version (stream `billing.pricebook.default`). */
const versionSchema = z.int().positive();

/** The operator set the TAO/USD rate deposits are converted at. */
export const TaoPriceSet = defineEvent({
  type: 'billing.TaoPriceSet',
  version: 1,
  data: z.object({ priceVersion: versionSchema, nanoUsdPerTao: positivePriceNanoUsdSchema }),
});

/** The price of a model's tokens. */
export const ModelPriceSet = defineEvent({
  type: 'billing.ModelPriceSet',
  version: 1,
  data: z.object({
    priceVersion: versionSchema,
    model: z.string().min(1).max(200),
    inputNanoUsdPerMillion: priceNanoUsdSchema,
    outputNanoUsdPerMillion: priceNanoUsdSchema,
  }),
});

/** The price of an hour of a GPU type, for training jobs and dedicated deployments. */
export const GpuPriceSet = defineEvent({
  type: 'billing.GpuPriceSet',
  version: 1,
  data: z.object({
    priceVersion: versionSchema,
    gpuType: z.string().min(1).max(100),
    trainingNanoUsdPerHour: priceNanoUsdSchema,
    deploymentNanoUsdPerHour: priceNanoUsdSchema,
  }),
});
