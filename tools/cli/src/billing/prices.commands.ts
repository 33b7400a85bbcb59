import {
  GetPriceBook,
  MAX_PRICE_NANO_USD,
  SetGpuPrice,
  SetModelPrice,
  SetTaoPrice,
} from '@tessera/contracts';
import { formatAmount, USD, usdText } from '../amounts/amounts.js';
import { defineCommand } from '../command/define-command.js';
import { matching, required, usd } from '../command/options.js';
import { record, table } from '../command/output.js';

const price = usd({ max: MAX_PRICE_NANO_USD });

const show = defineCommand({
  path: ['prices', 'show'],
  summary: 'show the price book: TAO rate, model token prices, GPU hourly prices',
  options: {},
  async run(_values, { call }) {
    const book = await call(GetPriceBook, {});
    const text = [
      record([
        ['price version', book.priceVersion],
        [
          'TAO',
          book.nanoUsdPerTao === null
            ? 'no price set (deposits wait on suspense)'
            : `${usdText(book.nanoUsdPerTao)} per TAO`,
        ],
      ]),
      '',
      table(
        book.models,
        [
          ['MODEL', (model) => model.model],
          ['INPUT USD / 1M TOKENS', (model) => formatAmount(model.inputNanoUsdPerMillion, USD)],
          ['OUTPUT USD / 1M TOKENS', (model) => formatAmount(model.outputNanoUsdPerMillion, USD)],
        ],
        'no model prices',
      ),
      '',
      table(
        book.gpus,
        [
          ['GPU', (gpu) => gpu.gpuType],
          ['TRAINING USD / HOUR', (gpu) => formatAmount(gpu.trainingNanoUsdPerHour, USD)],
          ['DEPLOYMENT USD / HOUR', (gpu) => formatAmount(gpu.deploymentNanoUsdPerHour, USD)],
        ],
        'no GPU prices',
      ),
    ].join('\n');
    return { json: book, text };
  },
});

const taoPrice = defineCommand({
  path: ['prices', 'tao'],
  summary: 'set the USD price of one TAO, at which deposits are credited',
  examples: ['tessera prices tao --usd 400.00'],
  options: {
    usd: required('--usd <amount>', 'USD per TAO', usd({ max: MAX_PRICE_NANO_USD, positive: true })),
  },
  async run(values, { call }) {
    const set = await call(SetTaoPrice, { nanoUsdPerTao: values.usd });
    return {
      json: set,
      text: record([
        ['price version', set.priceVersion],
        ['TAO', `${usdText(values.usd)} per TAO`],
      ]),
    };
  },
});

const modelPrice = defineCommand({
  path: ['prices', 'model'],
  summary: 'set a model’s prices per million input and output tokens',
  examples: ['tessera prices model --model llama-3-8b --input-usd 0.20 --output-usd 0.60'],
  options: {
    model: required(
      '--model <name>',
      'the model name customers ask for',
      matching(SetModelPrice.request.shape.model),
    ),
    inputUsd: required('--input-usd <amount>', 'USD per million prompt tokens', price),
    outputUsd: required('--output-usd <amount>', 'USD per million completion tokens', price),
  },
  async run(values, { call }) {
    const set = await call(SetModelPrice, {
      model: values.model,
      inputNanoUsdPerMillion: values.inputUsd,
      outputNanoUsdPerMillion: values.outputUsd,
    });
    return {
      json: set,
      text: record([
        ['price version', set.priceVersion],
        ['model', values.model],
        ['input', `${usdText(values.inputUsd)} per 1M tokens`],
        ['output', `${usdText(values.outputUsd)} per 1M tokens`],
      ]),
    };
  },
});

const gpuPrice = defineCommand({
  path: ['prices', 'gpu'],
  summary: 'set a GPU type’s hourly prices for training and for deployments',
  examples: ['tessera prices gpu --gpu h100 --training-usd 2.50 --deployment-usd 3.00'],
  options: {
    gpu: required(
      '--gpu <type>',
      'the GPU type, as miners report it',
      matching(SetGpuPrice.request.shape.gpuType),
    ),
    trainingUsd: required('--training-usd <amount>', 'USD per GPU hour of training', price),
    deploymentUsd: required('--deployment-usd <amount>', 'USD per GPU hour of a deployment', price),
  },
  async run(values, { call }) {
    const set = await call(SetGpuPrice, {
      gpuType: values.gpu,
      trainingNanoUsdPerHour: values.trainingUsd,
      deploymentNanoUsdPerHour: values.deploymentUsd,
    });
    return {
      json: set,
      text: record([
        ['price version', set.priceVersion],
        ['GPU', values.gpu],
        ['training', `${usdText(values.trainingUsd)} per hour`],
        ['deployment', `${usdText(values.deploymentUsd)} per hour`],
      ]),
    };
  },
});

export const priceCommands = [show, taoPrice, modelPrice, gpuPrice];
