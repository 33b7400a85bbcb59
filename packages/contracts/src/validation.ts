import { type z } from 'zod';
import { ValidationError, type ValidationIssue } from './errors.js';

/** Turns zod's issues into the stable, serialisable {@link ValidationIssue} list. */
export function toValidationIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/**
 * Parses `value` with `schema` or throws a {@link ValidationError} naming `what`.
 * Every boundary (events, requests, env) goes through here, so failures look the same everywhere.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(what, toValidationIssues(result.error), result.error);
  return result.data;
}
