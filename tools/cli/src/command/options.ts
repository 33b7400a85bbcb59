import { type z } from 'zod';
import { parseAmount, USD, type AmountBounds } from '../amounts/amounts.js';

/** Turns the text after a flag into the option's value; throws an `Error` saying what is wrong. */
export type Parser<T> = (text: string) => T;

/** One option of a command: its flags, help and how its text becomes a value. */
export interface OptionSpec<T> {
  /** Commander's flag syntax: `--account <id>`, or `--all` for a switch. */
  readonly flags: string;
  readonly description: string;
  readonly mandatory: boolean;
  /** Undefined for a switch (present: true). */
  readonly parse: Parser<T> | undefined;
  readonly defaultValue: T | undefined;
  /** The only values accepted, listed in the help. */
  readonly choices?: readonly string[];
}

/** An option the command cannot do without. */
export function required<T>(flags: string, description: string, parse: Parser<T>): OptionSpec<T> {
  return { flags, description, mandatory: true, parse, defaultValue: undefined };
}

/** An option that may be left out (undefined then). */
export function optional<T>(flags: string, description: string, parse: Parser<T>): OptionSpec<T | undefined> {
  return { flags, description, mandatory: false, parse, defaultValue: undefined };
}

/** An option with a value when left out. */
export function withDefault<T>(
  flags: string,
  description: string,
  parse: Parser<T>,
  defaultValue: T,
): OptionSpec<T> {
  return { flags, description, mandatory: false, parse, defaultValue };
}

/** One of a few words, e.g. `--status open|released|credited`; mandatory when it has no default. */
export function oneOf<const Value extends string>(
  flags: string,
  description: string,
  values: readonly Value[],
  defaultValue?: Value,
): OptionSpec<Value> {
  const parse = (text: string): Value => {
    const value = values.find((candidate) => candidate === text);
    if (value === undefined) throw new Error(`must be one of ${values.join(', ')}`);
    return value;
  };
  return { flags, description, mandatory: defaultValue === undefined, parse, defaultValue, choices: values };
}

/** A switch: true when given. */
export function flag(flags: string, description: string): OptionSpec<boolean> {
  return { flags, description, mandatory: false, parse: undefined, defaultValue: false };
}

/**
 * Text checked against a contract's schema (an account id, a day), so a bad value is refused
 * before anything is sent, with the contract's own message.
 */
export function matching<S extends z.ZodType<unknown, string>>(schema: S): Parser<z.output<S>> {
  return (text) => {
    const result = schema.safeParse(text);
    if (!result.success) throw new Error(result.error.issues.map((issue) => issue.message).join('; '));
    return result.data;
  };
}

/** A comma-separated list, each item checked by `item`. */
export function commaList<T>(item: Parser<T>): Parser<T[]> {
  return (text) =>
    text
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map(item);
}

/** A whole number, checked by a contract's schema for it (a page size, a limit per minute). */
export function wholeNumber<S extends z.ZodType<unknown, number>>(schema: S): Parser<z.output<S>> {
  return (text) => {
    if (!/^[0-9]{1,15}$/.test(text)) throw new Error('must be a whole number');
    const result = schema.safeParse(Number(text));
    if (!result.success) throw new Error(result.error.issues.map((issue) => issue.message).join('; '));
    return result.data;
  };
}

/** USD as people type it (`5.00`), sent as the contract's nano-USD decimal string. */
export function usd(bounds: AmountBounds): Parser<string> {
  return (text) => parseAmount(text, USD, bounds).toString();
}
