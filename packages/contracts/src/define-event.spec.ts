import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decimalStringSchema } from './amounts.js';
import { defineEvent, type EventOf } from './define-event.js';
import { ErrorCode, isTesseraError, isValidationError } from './errors.js';
import { EventRegistry } from './event-registry.js';

const FundsDeposited = defineEvent({
  type: 'billing.FundsDeposited',
  version: 1,
  data: z.object({ accountId: z.string().min(1), amount: decimalStringSchema }),
});
type FundsDeposited = EventOf<typeof FundsDeposited>;

const envelope = (data: unknown): Record<string, unknown> => ({
  id: '01936b2e-8a5c-7cc2-9a8e-3d5f1e2a4b6c',
  type: 'billing.FundsDeposited',
  version: 1,
  streamId: 'billing.account.acc-1',
  sequence: 1,
  occurredAt: '2026-11-25T12:00:00.000Z',
  correlationId: 'req-1',
  causationId: null,
  traceparent: null,
  actor: 'service:billing',
  data,
});

describe('defineEvent', () => {
  it('given valid data, create returns a pending event with the contract type and version', () => {
    const pending = FundsDeposited.create({ accountId: 'acc-1', amount: '100' });
    expect(pending).toEqual({
      type: 'billing.FundsDeposited',
      version: 1,
      data: { accountId: 'acc-1', amount: '100' },
    });
  });

  it('given a float amount, create throws a ValidationError naming the field', () => {
    let caught: unknown;
    try {
      FundsDeposited.create({ accountId: 'acc-1', amount: '1.5' });
    } catch (err) {
      caught = err;
    }
    expect(isValidationError(caught)).toBe(true);
    expect(isValidationError(caught) && caught.issues[0]?.path).toBe('amount');
  });

  it('parses a whole envelope and types its data', () => {
    const event: FundsDeposited = FundsDeposited.parse(envelope({ accountId: 'acc-1', amount: '7' }));
    expect(event.data.amount).toBe('7');
  });

  it('rejects an envelope whose data breaks the contract', () => {
    expect(() => FundsDeposited.parse(envelope({ accountId: 'acc-1', amount: -7 }))).toThrow(/amount/);
  });

  it('rejects a badly named type at declaration time', () => {
    expect(() => defineEvent({ type: 'FundsDeposited', version: 1, data: z.object({}) })).toThrow();
    expect(() => defineEvent({ type: 'billing.fundsDeposited', version: 1, data: z.object({}) })).toThrow();
    expect(() => defineEvent({ type: 'billing.FundsDeposited', version: 0, data: z.object({}) })).toThrow();
  });
});

describe('EventRegistry', () => {
  const registry = new EventRegistry([FundsDeposited]);

  it('decodes a known event', () => {
    const event = registry.decode(envelope({ accountId: 'a', amount: '1' }));
    expect(FundsDeposited.is(event)).toBe(true);
  });

  it('refuses an unknown type or version with UNKNOWN_EVENT_TYPE', () => {
    const unknown = { ...envelope({}), version: 2 };
    expect(() => registry.decode(unknown)).toThrow(
      expect.objectContaining({ code: ErrorCode.UnknownEventType }),
    );
  });

  it('refuses a malformed envelope with a validation error', () => {
    let caught: unknown;
    try {
      registry.decode({ ...envelope({ accountId: 'a', amount: '1' }), streamId: 'billing.account.a.b' });
    } catch (err) {
      caught = err;
    }
    expect(isTesseraError(caught, ErrorCode.ValidationFailed)).toBe(true);
  });

  it('checks a pending event before an append, parsing again only what its own contract did not make', () => {
    expect(() =>
      registry.validatePending(FundsDeposited.create({ accountId: 'a', amount: '1' })),
    ).not.toThrow();
    // Built by hand, or by another contract of the same name: the data is parsed here.
    const byHand = { type: 'billing.FundsDeposited', version: 1, data: { accountId: 'a', amount: 1.5 } };
    expect(() => registry.validatePending(byHand)).toThrow(
      expect.objectContaining({ code: ErrorCode.ValidationFailed }),
    );
    const lax = defineEvent({ type: 'billing.FundsDeposited', version: 1, data: z.object({}).passthrough() });
    expect(() => registry.validatePending(lax.create({ accountId: '', amount: 'x' }))).toThrow(
      expect.objectContaining({ code: ErrorCode.ValidationFailed }),
    );
    expect(() => registry.validatePending({ type: 'billing.Unknown', version: 1, data: {} })).toThrow(
      expect.objectContaining({ code: ErrorCode.UnknownEventType }),
    );
  });

  it('refuses registering two different contracts under one (type, version)', () => {
    const clash = defineEvent({ type: 'billing.FundsDeposited', version: 1, data: z.object({}) });
    expect(() => new EventRegistry([FundsDeposited, clash])).toThrow(/twice/);
  });
});
