import { z } from 'zod';

/**
 * Money and large counts travel as base-10 integer strings: JSON numbers lose precision past
 * 2^53 and invite floats. No sign, no leading zeros, no exponent, no decimal point, no spaces.
 */
export const decimalStringSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]*)$/, 'must be a non-negative integer in base 10, as a string');

/** A non-negative integer amount that must also be above zero. */
export const positiveDecimalStringSchema = decimalStringSchema.refine((value) => value !== '0', {
  message: 'must be greater than zero',
});

/** A signed integer (balances, ledger deltas). `-0` is refused so every value has one spelling. */
export const signedDecimalStringSchema = z
  .string()
  .regex(/^(0|-?[1-9][0-9]*)$/, 'must be an integer in base 10, as a string');

/** TAO in rao (1 TAO = 1e9 rao), as a decimal string. */
export const raoSchema = decimalStringSchema.describe('rao (1e-9 TAO) as a decimal string');
/** Credit in nano-USD (1 USD = 1e9 nano-USD), as a decimal string. */
export const nanoUsdSchema = decimalStringSchema.describe('nano-USD (1e-9 USD) as a decimal string');

/** Rao per TAO. */
export const RAO_PER_TAO = 1_000_000_000n;
/** Nano-USD per USD. */
export const NANO_USD_PER_USD = 1_000_000_000n;

/** Formats a bigint for the wire. */
export function toDecimalString(value: bigint): string {
  return value.toString(10);
}

/** Reads a decimal string that already passed one of the schemas above. */
export function fromDecimalString(value: string): bigint {
  return BigInt(value);
}
