import { GpuPriceSet, ModelPriceSet, TaoPriceSet, type Event, type PendingEvent } from '@tessera/contracts';
import { type Decider } from '@tessera/eventstore';

export interface ModelPrice {
  inputNanoUsdPerMillion: bigint;
  outputNanoUsdPerMillion: bigint;
}
export interface GpuPrice {
  trainingNanoUsdPerHour: bigint;
  deploymentNanoUsdPerHour: bigint;
}

/** The versioned price book: every change bumps `version`, and charges record the version they used. */
export interface PriceBookState {
  version: number;
  nanoUsdPerTao: bigint | undefined;
  readonly models: Map<string, ModelPrice>;
  readonly gpus: Map<string, GpuPrice>;
}

export type PriceBookCommand =
  | { kind: 'setTaoPrice'; nanoUsdPerTao: bigint }
  | { kind: 'setModelPrice'; model: string; price: ModelPrice }
  | { kind: 'setGpuPrice'; gpuType: string; price: GpuPrice };

function decide(command: PriceBookCommand, state: PriceBookState): readonly PendingEvent[] {
  const priceVersion = state.version + 1;
  switch (command.kind) {
    case 'setTaoPrice':
      return [TaoPriceSet.create({ priceVersion, nanoUsdPerTao: command.nanoUsdPerTao.toString() })];
    case 'setModelPrice':
      return [
        ModelPriceSet.create({
          priceVersion,
          model: command.model,
          inputNanoUsdPerMillion: command.price.inputNanoUsdPerMillion.toString(),
          outputNanoUsdPerMillion: command.price.outputNanoUsdPerMillion.toString(),
        }),
      ];
    case 'setGpuPrice':
      return [
        GpuPriceSet.create({
          priceVersion,
          gpuType: command.gpuType,
          trainingNanoUsdPerHour: command.price.trainingNanoUsdPerHour.toString(),
          deploymentNanoUsdPerHour: command.price.deploymentNanoUsdPerHour.toString(),
        }),
      ];
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled price book command ${JSON.stringify(unhandled)}`);
    }
  }
}

function evolve(state: PriceBookState, event: Event): PriceBookState {
  if (TaoPriceSet.is(event)) {
    state.version = event.data.priceVersion;
    state.nanoUsdPerTao = BigInt(event.data.nanoUsdPerTao);
  } else if (ModelPriceSet.is(event)) {
    state.version = event.data.priceVersion;
    state.models.set(event.data.model, {
      inputNanoUsdPerMillion: BigInt(event.data.inputNanoUsdPerMillion),
      outputNanoUsdPerMillion: BigInt(event.data.outputNanoUsdPerMillion),
    });
  } else if (GpuPriceSet.is(event)) {
    state.version = event.data.priceVersion;
    state.gpus.set(event.data.gpuType, {
      trainingNanoUsdPerHour: BigInt(event.data.trainingNanoUsdPerHour),
      deploymentNanoUsdPerHour: BigInt(event.data.deploymentNanoUsdPerHour),
    });
  }
  return state;
}

export const priceBookDecider: Decider<PriceBookCommand, PriceBookState> = {
  initialState: () => ({ version: 0, nanoUsdPerTao: undefined, models: new Map(), gpus: new Map() }),
  evolve,
  decide,
};

const ceilDiv = (numerator: bigint, denominator: bigint): bigint =>
  numerator === 0n ? 0n : (numerator + denominator - 1n) / denominator;

/** Token charge, rounded up to the next nano-USD. */
export function tokenCharge(price: ModelPrice, promptTokens: number, completionTokens: number): bigint {
  return ceilDiv(
    BigInt(promptTokens) * price.inputNanoUsdPerMillion +
      BigInt(completionTokens) * price.outputNanoUsdPerMillion,
    1_000_000n,
  );
}

/** GPU-time charge, rounded up to the next nano-USD. */
export function gpuCharge(pricePerHour: bigint, gpuSeconds: number): bigint {
  return ceilDiv(BigInt(gpuSeconds) * pricePerHour, 3_600n);
}
