import { z } from 'zod';

/**
 * Money and large counts travel as base-10 integer strings: JSON numbers lose precision past
 * 2^53 and invite floats. No sign, no leading zeros, no exponent, no decimal point, no spaces.
 * Unbounded: use one of the bounded amount schemas below for money.
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

/** Rao per TAO. */
export const RAO_PER_TAO = 1_000_000_000n;

/**
 * The largest amount of rao any one value may carry: 2^64 − 1, what the chain's `u64` balances
 * hold (the whole TAO supply is about 2.1 × 10^16 rao).
 */
export const MAX_RAO = 2n ** 64n - 1n;

/**
 * The largest nano-USD amount one value may carry (a credit, a grant, a charge, a usage item):
 * 10^30 − 1, i.e. just under $10^21. Every amount column is `numeric(40,0)`, so a balance or sum
 * of up to 10^10 such amounts still fits, and no derived amount (tokens × price, rao × rate) can
 * pass it while prices stay under {@link MAX_PRICE_NANO_USD}.
 */
export const MAX_NANO_USD = 10n ** 30n - 1n;

/**
 * The largest balance or sum (of many amounts) that travels: 10^38 − 1, what the `numeric(40,0)`
 * columns hold with room for the ledger's signed deltas.
 */
export const MAX_NANO_USD_TOTAL = 10n ** 38n - 1n;

/**
 * The largest price per unit (per TAO, per million tokens, per GPU hour): 10^18 − 1 nano-USD,
 * just under $10^9. Keeps every charge and every deposit conversion under {@link MAX_NANO_USD}.
 */
export const MAX_PRICE_NANO_USD = 10n ** 18n - 1n;

/** Digits of a bound, for the regex that refuses absurdly long strings before BigInt sees them. */
const digitsOf = (max: bigint): number => max.toString().length;

function boundedDecimal(
  max: bigint,
  what: string,
  options: { positive?: boolean; signed?: boolean } = {},
): z.ZodType<string, string> {
  const digits = digitsOf(max);
  const pattern = new RegExp(
    options.signed ? `^(0|-?[1-9][0-9]{0,${digits - 1}})$` : `^(0|[1-9][0-9]{0,${digits - 1}})$`,
  );
  const sign = options.signed ? 'an integer' : 'a non-negative integer';
  return z
    .string()
    .regex(pattern, `must be ${sign} in base 10, as a string, of at most ${digits} digits`)
    .refine(
      // zod runs every check; BigInt sees only what the pattern let through.
      (value) => !pattern.test(value) || (value.startsWith('-') ? -BigInt(value) : BigInt(value)) <= max,
      { message: `must be at most ${max} ${what}` },
    )
    .refine((value) => !options.positive || value !== '0', { message: 'must be greater than zero' })
    .describe(`${what} as a decimal string, at most ${max}`);
}

/** TAO in rao (1 TAO = 1e9 rao), as a decimal string, at most {@link MAX_RAO}. */
export const raoSchema = boundedDecimal(MAX_RAO, 'rao');
/** Credit in nano-USD (1 USD = 1e9 nano-USD), as a decimal string, at most {@link MAX_NANO_USD}. */
export const nanoUsdSchema = boundedDecimal(MAX_NANO_USD, 'nano-USD');
/** A nano-USD amount above zero (what a request asks to move), at most {@link MAX_NANO_USD}. */
export const positiveNanoUsdSchema = boundedDecimal(MAX_NANO_USD, 'nano-USD', { positive: true });
/** A balance or a sum of amounts, at most {@link MAX_NANO_USD_TOTAL}. */
export const nanoUsdTotalSchema = boundedDecimal(MAX_NANO_USD_TOTAL, 'nano-USD');
/** A signed balance or delta (ledger entries), within ±{@link MAX_NANO_USD_TOTAL}. */
export const signedNanoUsdTotalSchema = boundedDecimal(MAX_NANO_USD_TOTAL, 'nano-USD', { signed: true });
/** A price per unit in nano-USD, at most {@link MAX_PRICE_NANO_USD}. */
export const priceNanoUsdSchema = boundedDecimal(MAX_PRICE_NANO_USD, 'nano-USD per unit');
/** A price above zero (a TAO rate of 0 would credit nothing), at most {@link MAX_PRICE_NANO_USD}. */
export const positivePriceNanoUsdSchema = boundedDecimal(MAX_PRICE_NANO_USD, 'nano-USD per unit', {
  positive: true,
});
