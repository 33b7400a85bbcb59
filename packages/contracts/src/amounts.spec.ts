import { describe, expect, it } from 'vitest';
import {
  MAX_NANO_USD,
  MAX_NANO_USD_TOTAL,
  MAX_PRICE_NANO_USD,
  MAX_RAO,
  decimalStringSchema,
  nanoUsdSchema,
  positiveDecimalStringSchema,
  positiveNanoUsdSchema,
  raoSchema,
  signedDecimalStringSchema,
  signedNanoUsdTotalSchema,
} from './amounts.js';

describe('decimal string amounts', () => {
  it.each(['0', '1', '5000000000', '340282366920938463463374607431768211455'])('accepts %s', (value) => {
    expect(decimalStringSchema.parse(value)).toBe(value);
  });

  it.each([
    ['negative', '-1'],
    ['fractional', '1.5'],
    ['exponent', '1e9'],
    ['leading zero', '007'],
    ['whitespace', ' 1'],
    ['empty', ''],
    ['hex', '0x10'],
    ['plus sign', '+1'],
  ])('rejects %s (%s)', (_label, value) => {
    expect(decimalStringSchema.safeParse(value).success).toBe(false);
    expect(nanoUsdSchema.safeParse(value).success).toBe(false);
  });

  it.each([1, 1n, null, undefined, Number.NaN, {}])('rejects the non-string %s', (value) => {
    expect(decimalStringSchema.safeParse(value).success).toBe(false);
    expect(raoSchema.safeParse(value).success).toBe(false);
  });

  it('positive amounts refuse zero', () => {
    expect(positiveDecimalStringSchema.safeParse('0').success).toBe(false);
    expect(positiveDecimalStringSchema.parse('1')).toBe('1');
    expect(positiveNanoUsdSchema.safeParse('0').success).toBe(false);
  });

  it('signed amounts take one spelling per value', () => {
    expect(signedDecimalStringSchema.parse('-42')).toBe('-42');
    expect(signedDecimalStringSchema.safeParse('-0').success).toBe(false);
    expect(signedDecimalStringSchema.safeParse('--1').success).toBe(false);
  });
});

describe('bounded amounts', () => {
  it('takes each maximum and refuses one more', () => {
    expect(raoSchema.parse(MAX_RAO.toString())).toBe('18446744073709551615');
    expect(raoSchema.safeParse((MAX_RAO + 1n).toString()).success).toBe(false);
    expect(nanoUsdSchema.parse(MAX_NANO_USD.toString())).toBe(MAX_NANO_USD.toString());
    expect(nanoUsdSchema.safeParse((MAX_NANO_USD + 1n).toString()).success).toBe(false);
    expect(signedNanoUsdTotalSchema.parse((-MAX_NANO_USD_TOTAL).toString())).toBe(`-${MAX_NANO_USD_TOTAL}`);
    expect(signedNanoUsdTotalSchema.safeParse((-MAX_NANO_USD_TOTAL - 1n).toString()).success).toBe(false);
  });

  it('refuses a 10^45 credit and a 900,000-digit string by their length, naming the bound', () => {
    const huge = nanoUsdSchema.safeParse(`1${'0'.repeat(45)}`);
    expect(huge.success).toBe(false);
    expect(huge.error?.issues[0]?.message).toMatch(/at most 30 digits/);
    expect(nanoUsdSchema.safeParse('9'.repeat(900_000)).success).toBe(false);
  });

  it('keeps every derived amount under the single-amount maximum', () => {
    // The largest deposit converted at the largest TAO price.
    expect((MAX_RAO * MAX_PRICE_NANO_USD) / 1_000_000_000n).toBeLessThanOrEqual(MAX_NANO_USD);
    // 2^53 prompt and completion tokens at the largest price per million.
    const tokens = BigInt(Number.MAX_SAFE_INTEGER);
    expect((2n * tokens * MAX_PRICE_NANO_USD) / 1_000_000n).toBeLessThanOrEqual(MAX_NANO_USD);
    // A sum of 10^8 maximal amounts still fits the total bound.
    expect(MAX_NANO_USD * 10n ** 8n).toBeLessThanOrEqual(MAX_NANO_USD_TOTAL);
  });
});
