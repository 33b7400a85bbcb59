import {
  DepositAddressClaimed,
  DepositSuspended,
  TaoLedgerAccount,
  isTesseraError,
  type Event,
} from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import {
  depositAddressDecider,
  type DepositAddressCommand,
  type DepositAddressState,
} from './deposit-address.decider.js';

const ADDRESS = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const transfer = {
  blockHash: `0x${'2'.repeat(64)}`,
  blockNumber: 9,
  eventIndex: 4,
  from: ADDRESS,
  amountRao: 7_000n,
};
const KEY = `deposit:0x${'2'.repeat(64)}:4`;

function given(...commands: DepositAddressCommand[]): DepositAddressState {
  let state = depositAddressDecider.initialState();
  commands.forEach((command, index) => {
    for (const pending of depositAddressDecider.decide(command, state)) {
      const event: Event = {
        id: `00000000-0000-7000-8000-${String(index + 1).padStart(12, '0')}`,
        type: pending.type,
        version: pending.version,
        streamId: `billing.deposit-address.${ADDRESS}`,
        sequence: index + 1,
        occurredAt: '2025-01-01T00:00:00.000Z',
        correlationId: 'test',
        causationId: null,
        traceparent: null,
        actor: 'service:test',
        data: pending.data,
      };
      state = depositAddressDecider.evolve(state, event);
    }
  });
  return state;
}

function refusal(command: DepositAddressCommand, state: DepositAddressState): unknown {
  try {
    depositAddressDecider.decide(command, state);
  } catch (err) {
    return err;
  }
  throw new Error(`${command.kind} was not refused`);
}

describe('deposit address aggregate', () => {
  it('belongs to the first account that claims it; the same claim again is a no-op', () => {
    const state = given({ kind: 'claim', address: ADDRESS, accountId: 'a' });
    expect(state.claimedBy).toBe('a');
    expect(depositAddressDecider.decide({ kind: 'claim', address: ADDRESS, accountId: 'a' }, state)).toEqual(
      [],
    );
    expect(
      isTesseraError(
        refusal({ kind: 'claim', address: ADDRESS, accountId: 'b' }, state),
        'billing.DEPOSIT_ADDRESS_TAKEN',
      ),
    ).toBe(true);
  });

  it('books a transfer to an unclaimed address on suspense, once; a claimed address leaves it to the account', () => {
    const [suspended] = depositAddressDecider.decide(
      { kind: 'receive', address: ADDRESS, deposit: transfer },
      given(),
    );
    expect(DepositSuspended.is({ type: suspended?.type ?? '', version: suspended?.version ?? 0 })).toBe(true);
    expect(suspended?.data).toMatchObject({
      reason: 'unclaimed-address',
      accountId: null,
      postings: [{ from: TaoLedgerAccount.inflow, to: TaoLedgerAccount.suspense, amount: '7000' }],
    });
    const booked = given({ kind: 'receive', address: ADDRESS, deposit: transfer });
    expect(
      depositAddressDecider.decide({ kind: 'receive', address: ADDRESS, deposit: transfer }, booked),
    ).toEqual([]);
    const claimed = given({ kind: 'claim', address: ADDRESS, accountId: 'a' });
    expect(
      depositAddressDecider.decide({ kind: 'receive', address: ADDRESS, deposit: transfer }, claimed),
    ).toEqual([]);
    expect(DepositAddressClaimed.type).toBe('billing.DepositAddressClaimed');
  });

  it('releases a suspended deposit once, to the claimant, or to whom the operator names when unclaimed', () => {
    const unclaimed = given({ kind: 'receive', address: ADDRESS, deposit: transfer });
    const byClaimant = {
      kind: 'release',
      address: ADDRESS,
      depositKey: KEY,
      accountId: 'a',
      by: 'claimant-only',
    } as const;
    expect(isTesseraError(refusal(byClaimant, unclaimed), 'billing.DEPOSIT_ADDRESS_TAKEN')).toBe(true);
    const released = given(
      { kind: 'receive', address: ADDRESS, deposit: transfer },
      { kind: 'release', address: ADDRESS, depositKey: KEY, accountId: 'a', by: 'operator' },
    );
    expect(released.suspended.get(KEY)?.releasedTo).toBe('a');
    expect(depositAddressDecider.decide({ ...byClaimant, by: 'operator' }, released)).toEqual([]);
    expect(
      isTesseraError(
        refusal({ ...byClaimant, accountId: 'b', by: 'operator' }, released),
        'billing.SUSPENDED_DEPOSIT_NOT_FOUND',
      ),
    ).toBe(true);
    const claimedLater = given(
      { kind: 'receive', address: ADDRESS, deposit: transfer },
      { kind: 'claim', address: ADDRESS, accountId: 'a' },
    );
    expect(depositAddressDecider.decide(byClaimant, claimedLater)).toHaveLength(1);
    expect(
      isTesseraError(
        refusal({ ...byClaimant, accountId: 'b', by: 'operator' }, claimedLater),
        'billing.DEPOSIT_ADDRESS_TAKEN',
      ),
    ).toBe(true);
  });
});
