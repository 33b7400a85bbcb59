import { ErrorCode, RAO_PER_TAO, TesseraError } from '@tessera/contracts';

/**
 * A unit people type amounts in, and the integer base unit the wire carries. Both of Tessera's
 * currencies have nine decimals: 1 USD = 10^9 nano-USD, 1 TAO = 10^9 rao.
 */
export interface AmountUnit {
  /** What people type and read: `USD`, `TAO`. */
  readonly name: string;
  /** What the wire carries: `nano-USD`, `rao`. */
  readonly baseUnit: string;
  /** Decimals of the unit: base units per unit is 10^decimals. */
  readonly decimals: number;
  /** Decimals always shown, so `5` USD reads `5.00`. */
  readonly minimumShownDecimals: number;
}

export const USD: AmountUnit = { name: 'USD', baseUnit: 'nano-USD', decimals: 9, minimumShownDecimals: 2 };
export const TAO: AmountUnit = {
  name: 'TAO',
  baseUnit: 'rao',
  decimals: RAO_PER_TAO.toString().length - 1,
  minimumShownDecimals: 1,
};

/** An amount that is not a plain decimal number of the unit, has too many decimals, or is out of bounds. */
export class AmountError extends TesseraError<typeof ErrorCode.ValidationFailed> {
  override readonly name = 'AmountError';
  constructor(message: string) {
    super(ErrorCode.ValidationFailed, message);
  }
}

/** True when `err` is an {@link AmountError}. */
export function isAmountError(err: unknown): err is AmountError {
  return err instanceof AmountError;
}

/** What an amount must satisfy besides its format, in base units. */
export interface AmountBounds {
  /** The largest value the contract accepts (e.g. `MAX_NANO_USD`). */
  readonly max: bigint;
  /** Whether zero is refused (a credit of nothing). */
  readonly positive?: boolean;
}

/** Digits, optionally a point and more digits: no sign, exponent, separators or currency symbol. */
const DECIMAL = /^([0-9]+)(?:\.([0-9]+))?$/;

/**
 * Converts an amount typed in `unit` (`5`, `5.00`, `0.000000001`) to base units, exactly: a value
 * with more decimals than the unit has is refused, never rounded (`1.0000000001` USD would
 * otherwise silently become 1 USD). Then checks it against the contract's bounds.
 */
export function parseAmount(text: string, unit: AmountUnit, bounds: AmountBounds): bigint {
  const match = DECIMAL.exec(text.trim());
  if (!match) {
    throw new AmountError(
      `"${text}" is not an amount of ${unit.name}: write digits with an optional decimal point, e.g. 5.00`,
    );
  }
  const whole = match[1] ?? '';
  const fraction = match[2] ?? '';
  if (fraction.length > unit.decimals) {
    throw new AmountError(
      `"${text}" has ${fraction.length} decimals; ${unit.name} has ${unit.decimals} (1 ${unit.baseUnit} = ${formatAmount(1n, unit)} ${unit.name}), and amounts are never rounded`,
    );
  }
  // Refuse absurd lengths before BigInt sees them; the bound below is the real limit.
  const maxDigits = bounds.max.toString().length;
  const significantWhole = whole.replace(/^0+/, '');
  if (significantWhole.length > maxDigits) throw tooLarge(text, unit, bounds);
  const value = BigInt(significantWhole + fraction.padEnd(unit.decimals, '0'));
  if (value > bounds.max) throw tooLarge(text, unit, bounds);
  if (bounds.positive && value === 0n) throw new AmountError(`"${text}" must be more than 0 ${unit.name}`);
  return value;
}

function tooLarge(text: string, unit: AmountUnit, bounds: AmountBounds): AmountError {
  return new AmountError(
    `"${text}" is more than the largest amount accepted, ${formatAmount(bounds.max, unit)} ${unit.name}`,
  );
}

/**
 * Writes an amount of base units (a bigint or a decimal string off the wire, possibly negative)
 * in `unit`, exactly: `5000000000` nano-USD → `5.00`, `1` → `0.000000001`, `-1500000000` rao → `-1.5`.
 */
export function formatAmount(baseUnits: bigint | string, unit: AmountUnit): string {
  const value = typeof baseUnits === 'bigint' ? baseUnits : BigInt(baseUnits);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(unit.decimals + 1, '0');
  const whole = digits.slice(0, digits.length - unit.decimals);
  let fraction = digits.slice(digits.length - unit.decimals).replace(/0+$/, '');
  fraction = fraction.padEnd(unit.minimumShownDecimals, '0');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** `5.00 USD` for an amount of nano-USD. */
export function usdText(nanoUsd: bigint | string): string {
  return `${formatAmount(nanoUsd, USD)} USD`;
}

/** `1.5 TAO` for an amount of rao. */
export function taoText(rao: bigint | string): string {
  return `${formatAmount(rao, TAO)} TAO`;
}
