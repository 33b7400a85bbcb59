import { MAX_NANO_USD, MAX_RAO } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { TAO, USD, formatAmount, isAmountError, parseAmount } from './amounts.js';

const credit = { max: MAX_NANO_USD, positive: true };

describe('parseAmount', () => {
  it.each([
    ['5', 5_000_000_000n],
    ['5.00', 5_000_000_000n],
    ['0.5', 500_000_000n],
    ['0.000000001', 1n],
    ['123.456789012', 123_456_789_012n],
    ['007.10', 7_100_000_000n],
  ])('reads %s USD as %s nano-USD', (text, nanoUsd) => {
    expect(parseAmount(text, USD, credit)).toBe(nanoUsd);
  });

  it('reads TAO as rao', () => {
    expect(parseAmount('1.5', TAO, { max: MAX_RAO })).toBe(1_500_000_000n);
  });

  it('refuses a tenth decimal instead of rounding it away', () => {
    const refusal = catchError(() => parseAmount('1.0000000001', USD, credit));
    expect(isAmountError(refusal)).toBe(true);
    expect(String(refusal)).toContain('has 10 decimals; USD has 9');
  });

  it.each(['', '-5', '+5', '5.', '.5', '1e3', '1,000.00', '$5', '5 USD', '0x10', 'NaN'])(
    'refuses %j: not a plain decimal amount',
    (text) => {
      expect(isAmountError(catchError(() => parseAmount(text, USD, credit)))).toBe(true);
    },
  );

  it('refuses amounts above the contract bound, and zero where it must be positive', () => {
    expect(parseAmount(formatAmount(MAX_RAO, TAO), TAO, { max: MAX_RAO })).toBe(MAX_RAO);
    expect(
      isAmountError(catchError(() => parseAmount(formatAmount(MAX_RAO + 1n, TAO), TAO, { max: MAX_RAO }))),
    ).toBe(true);
    expect(isAmountError(catchError(() => parseAmount(`1${'0'.repeat(5_000)}`, USD, credit)))).toBe(true);
    expect(isAmountError(catchError(() => parseAmount('0.00', USD, credit)))).toBe(true);
    expect(parseAmount('0', USD, { max: MAX_NANO_USD })).toBe(0n);
  });
});

describe('formatAmount', () => {
  it.each([
    [5_000_000_000n, USD, '5.00'],
    [1n, USD, '0.000000001'],
    [0n, USD, '0.00'],
    ['-1500000000', TAO, '-1.5'],
    ['2000000000', TAO, '2.0'],
    [123_456_789_012n, USD, '123.456789012'],
  ])('writes %s base units as %s %s', (value, unit, text) => {
    expect(formatAmount(value, unit)).toBe(text);
  });

  it('round-trips through parseAmount', () => {
    for (const value of [1n, 10n, 999_999_999n, 1_000_000_000n, MAX_NANO_USD]) {
      expect(parseAmount(formatAmount(value, USD), USD, credit)).toBe(value);
    }
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
}
