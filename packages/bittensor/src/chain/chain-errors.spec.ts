import { ErrorCode, TesseraError } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import {
  DispatchError,
  ExtrinsicRejectedError,
  chainErrors,
  isDispatchError,
  isTransientChainError,
} from './chain-errors.js';

describe('isTransientChainError', () => {
  it('retries connection loss, timeouts and dropped extrinsics', () => {
    expect(isTransientChainError(chainErrors.unavailable('x'))).toBe(true);
    expect(isTransientChainError(chainErrors.inclusionTimeout(1))).toBe(true);
    expect(isTransientChainError(chainErrors.dropped('Dropped'))).toBe(true);
  });

  it('retries rate limits, not other runtime refusals', () => {
    expect(isTransientChainError(new DispatchError('subtensorModule', 'SettingWeightsTooFast'))).toBe(true);
    expect(isTransientChainError(new DispatchError('subtensorModule', 'UidVecContainInvalidOne'))).toBe(
      false,
    );
    expect(isTransientChainError(new DispatchError('system', 'BadOrigin'))).toBe(false);
  });

  it('reads pool refusals from chopsticks JSON and from a node’s text alike', () => {
    const stale = [
      new ExtrinsicRejectedError(1010, '{"invalid":{"stale":null}}'),
      new ExtrinsicRejectedError(1010, 'Transaction is outdated'),
    ];
    for (const err of stale) {
      expect(err.kind).toBe('stale');
      expect(isTransientChainError(err)).toBe(true);
    }
    const payment = [
      new ExtrinsicRejectedError(1010, '{"invalid":{"payment":null}}'),
      new ExtrinsicRejectedError(1010, 'Inability to pay some fees (e.g. account balance too low)'),
    ];
    for (const err of payment) {
      expect(err.kind).toBe('payment');
      expect(isTransientChainError(err)).toBe(false);
    }
    expect(isTransientChainError(new ExtrinsicRejectedError(1010, '{"invalid":{"custom":5}}'))).toBe(false);
    expect(isTransientChainError(new ExtrinsicRejectedError(1014, 'Priority is too low'))).toBe(true);
  });

  it('does not retry anything else', () => {
    expect(isTransientChainError(new Error('timeout'))).toBe(false);
    expect(isTransientChainError(new TesseraError(ErrorCode.ValidationFailed, 'x'))).toBe(false);
  });
});

describe('DispatchError', () => {
  it('is a coded error carrying section and name', () => {
    const err = new DispatchError('subtensorModule', 'SettingWeightsTooFast', 'too fast');
    expect(err.code).toBe('bittensor.DISPATCH_FAILED');
    expect(err.toWire()).toMatchObject({
      details: { section: 'subtensorModule', name: 'SettingWeightsTooFast' },
    });
    expect(isDispatchError(err, 'SettingWeightsTooFast')).toBe(true);
    expect(isDispatchError(err, 'Other')).toBe(false);
  });
});
