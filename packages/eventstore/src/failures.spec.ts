import { JetStreamApiError } from '@nats-io/jetstream';
import {
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { ErrorCode, TesseraError, ValidationError } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { ConcurrencyExhaustedError, isUnavailable } from './errors.js';
import { asUnavailable, classifyFailure } from './failures.js';

const pgError = (code: string): Error => Object.assign(new Error(`pg ${code}`), { code });
const jsApiError = (code: number, status: number): JetStreamApiError =>
  new JetStreamApiError({ err_code: code, code: status, description: 'api error' });

describe('classifyFailure', () => {
  it.each([
    ['a NATS timeout', new TimeoutError()],
    ['no responders', new NoRespondersError('x')],
    ['a stream without a leader (503)', jsApiError(10008, 503)],
    ['UNAVAILABLE', new TesseraError(ErrorCode.Unavailable, 'down')],
    ['a lost race', new ConcurrencyExhaustedError('billing.account.a', 20)],
    ['Postgres refusing connections', pgError('ECONNREFUSED')],
    ['Postgres shutting down (57P01)', pgError('57P01')],
    ['a Postgres connection failure (08006)', pgError('08006')],
    ['a serialization failure', pgError('40001')],
    ['a deadlock', pgError('40P01')],
    [
      'a TypeORM-wrapped connection failure',
      Object.assign(new Error('query failed'), { driverError: pgError('08003') }),
    ],
  ])('%s is transient', (_label, err) => {
    expect(classifyFailure(err)).toBe('transient');
  });

  it.each([
    ['a validation error', new ValidationError('event', [{ path: 'data.amount', message: 'bad' }])],
    ['a domain refusal', new TesseraError('billing.UNKNOWN_PRICE', 'no price')],
    ['an unknown event type', new TesseraError(ErrorCode.UnknownEventType, 'no contract')],
    ['a numeric overflow (22003)', pgError('22003')],
    ['a unique violation (23505)', pgError('23505')],
    ['bad JSON', new SyntaxError('Unexpected token')],
    [
      'a subject NATS refuses to this identity',
      new RequestError('refused', {
        cause: new PermissionViolationError('Permissions Violation for Publish to "x"', 'publish', 'x'),
      }),
    ],
  ])('%s is poison', (_label, err) => {
    expect(classifyFailure(err)).toBe('poison');
  });

  it('anything else is unknown', () => {
    expect(classifyFailure(new TypeError('x is undefined'))).toBe('unknown');
    expect(classifyFailure(pgError('42P01'))).toBe('unknown');
    expect(classifyFailure(jsApiError(10071, 400))).toBe('unknown');
  });
});

describe('asUnavailable', () => {
  it('turns a NATS outage into a typed UNAVAILABLE naming what failed, and leaves other errors alone', () => {
    const wrapped = asUnavailable(new TimeoutError(), 'append to billing.account.a');
    expect(isUnavailable(wrapped)).toBe(true);
    expect((wrapped as Error).message).toMatch(/^append to billing.account.a: JetStream is not available/);
    const other = new RangeError('x');
    expect(asUnavailable(other, 'y')).toBe(other);
  });
});
