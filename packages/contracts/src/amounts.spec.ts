import { describe, expect, it } from 'vitest';
import { decimalStringSchema, positiveDecimalStringSchema, signedDecimalStringSchema } from './amounts.js';

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
  });

  it.each([1, 1n, null, undefined, Number.NaN, {}])('rejects the non-string %s', (value) => {
    expect(decimalStringSchema.safeParse(value).success).toBe(false);
  });

  it('positive amounts refuse zero', () => {
    expect(positiveDecimalStringSchema.safeParse('0').success).toBe(false);
    expect(positiveDecimalStringSchema.parse('1')).toBe('1');
  });

  it('signed amounts take one spelling per value', () => {
    expect(signedDecimalStringSchema.parse('-42')).toBe('-42');
    expect(signedDecimalStringSchema.safeParse('-0').success).toBe(false);
    expect(signedDecimalStringSchema.safeParse('--1').success).toBe(false);
  });
});
