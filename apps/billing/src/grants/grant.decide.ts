import {
  CreditGranted,
  UsageCharged,
  GrantExpired,
  GrantSettled,
  customerLedgerAccount,
  grantLedgerAccount,
  type Event,
  type PendingEvent,
  type Posting,
} from '@tessera/contracts';
import { dec, min, remember, requireOpened, requireSpendable } from '../accounts/account.rules.js';
import { type AccountState, type GrantState } from '../accounts/account.state.js';
import { billingErrors } from '../shared/errors.js';
import { planCharge, usageKey } from '../usage/usage.decide.js';

/** One item of usage a holder settles against its grant. */
export interface SettledUsage {
  requestId: string;
  amount: bigint;
  item: string;
}

/** Commands on credit grants (the proxies' quotas). */
export type GrantCommand =
  | {
      kind: 'grant';
      accountId: string;
      grantId: string;
      idempotencyKey: string;
      holder: string;
      requested: bigint;
      expiresAt: Date;
    }
  | {
      kind: 'settle';
      accountId: string;
      grantId: string;
      holder: string;
      usage: readonly SettledUsage[];
      day: string;
      dailyAllowance: bigint;
      now: Date;
    }
  | { kind: 'expireGrant'; accountId: string; grantId: string; now: Date };

export const grantKey = (idempotencyKey: string): string => `grant:${idempotencyKey}`;
const grantFingerprint = (holder: string, requested: bigint | string): string => `${holder}|${requested}`;

function returnPostings(accountId: string, grantId: string, remaining: bigint): Posting[] {
  return remaining > 0n
    ? [{ from: grantLedgerAccount(grantId), to: customerLedgerAccount(accountId), amount: dec(remaining) }]
    : [];
}

/** The grant a (possibly retried) grant command made, if its key is still within the retention window. */
export function grantMadeBy(state: AccountState, idempotencyKey: string): GrantState | undefined {
  const grantId = state.idempotency.get(grantKey(idempotencyKey))?.outcome;
  return grantId === undefined ? undefined : state.grants.get(grantId);
}

export function decideGrant(command: GrantCommand, state: AccountState): readonly PendingEvent[] {
  switch (command.kind) {
    case 'grant': {
      requireOpened(state, command.accountId);
      const seen = state.idempotency.get(grantKey(command.idempotencyKey));
      if (seen !== undefined) {
        if (seen.fingerprint !== grantFingerprint(command.holder, command.requested))
          throw billingErrors.idempotencyMismatch(command.idempotencyKey);
        return [];
      }
      requireSpendable(state);
      if (state.balance <= 0n)
        throw billingErrors.insufficientFunds(command.accountId, state.balance, command.requested);
      const granted = min(command.requested, state.balance);
      return [
        CreditGranted.create({
          accountId: command.accountId,
          grantId: command.grantId,
          idempotencyKey: grantKey(command.idempotencyKey),
          holder: command.holder,
          requested: dec(command.requested),
          granted: dec(granted),
          expiresAt: command.expiresAt.toISOString(),
          postings: [
            {
              from: customerLedgerAccount(command.accountId),
              to: grantLedgerAccount(command.grantId),
              amount: dec(granted),
            },
          ],
        }),
      ];
    }
    case 'settle': {
      requireOpened(state, command.accountId);
      const grant = state.grants.get(command.grantId);
      if (!grant) throw billingErrors.grantNotFound(command.grantId);
      if (grant.holder !== command.holder)
        throw billingErrors.notGrantHolder(command.grantId, command.holder);
      // The first report of a request id wins (a completed request may have been charged already).
      const fresh = command.usage.filter((item) => !state.idempotency.has(usageKey(item.requestId)));
      if (grant.status === 'expired') throw billingErrors.grantExpired(command.grantId);
      if (grant.status === 'settled') {
        // A retried settle (its usage all charged) answers with the settlement; new usage is refused.
        if (fresh.length === 0) return [];
        throw billingErrors.grantClosed(command.grantId);
      }
      if (command.now.getTime() >= grant.expiresAt) throw billingErrors.grantExpired(command.grantId);
      const total = fresh.reduce((sum, item) => sum + item.amount, 0n);
      if (total > grant.remaining)
        throw billingErrors.settleExceedsGrant(command.grantId, grant.remaining, total);
      const events: PendingEvent[] = [];
      const working: GrantState = { ...grant };
      let allowanceTaken = 0n;
      for (const item of fresh) {
        const data = planCharge(
          state,
          {
            requestId: item.requestId,
            grantId: grant.grantId,
            product: 'inference',
            item: item.item,
            promptTokens: 0,
            completionTokens: 0,
            gpuSeconds: 0,
            priceVersion: null,
            amount: item.amount,
            day: command.day,
          },
          working,
          command.dailyAllowance,
          allowanceTaken,
        );
        allowanceTaken += BigInt(data.fromAllowance);
        working.remaining -= BigInt(data.fromGrant);
        events.push(UsageCharged.create(data));
      }
      events.push(
        GrantSettled.create({
          accountId: command.accountId,
          grantId: grant.grantId,
          charged: dec(total),
          returned: dec(working.remaining),
          postings: returnPostings(command.accountId, grant.grantId, working.remaining),
        }),
      );
      return events;
    }
    case 'expireGrant': {
      requireOpened(state, command.accountId);
      const grant = state.grants.get(command.grantId);
      if (!grant || grant.status !== 'open' || command.now.getTime() < grant.expiresAt) return [];
      return [
        GrantExpired.create({
          accountId: command.accountId,
          grantId: grant.grantId,
          returned: dec(grant.remaining),
          postings: returnPostings(command.accountId, grant.grantId, grant.remaining),
        }),
      ];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled grant command ${JSON.stringify(unhandled)}`);
    }
  }
}

/** Applies grant events; false for any other event. */
export function evolveGrant(state: AccountState, event: Event): boolean {
  if (CreditGranted.is(event)) {
    const granted = BigInt(event.data.granted);
    remember(
      state,
      event.data.idempotencyKey,
      grantFingerprint(event.data.holder, event.data.requested),
      event.occurredAt,
      event.data.grantId,
    );
    state.grants.set(event.data.grantId, {
      grantId: event.data.grantId,
      holder: event.data.holder,
      granted,
      remaining: granted,
      expiresAt: Date.parse(event.data.expiresAt),
      status: 'open',
      settlement: undefined,
      charged: 0n,
      closedAt: undefined,
    });
    state.balance -= granted;
    state.held += granted;
    return true;
  }
  if (GrantSettled.is(event) || GrantExpired.is(event)) {
    const grant = state.grants.get(event.data.grantId);
    const returned = BigInt(event.data.returned);
    if (grant) {
      grant.remaining -= returned;
      grant.closedAt = Date.parse(event.occurredAt);
      if (GrantSettled.is(event)) {
        grant.status = 'settled';
        // A settle of the previous release did not record its charge: the grant's usage is what it charged.
        const charged = event.data.charged === undefined ? grant.charged : BigInt(event.data.charged);
        grant.settlement = { charged, returned };
      } else grant.status = 'expired';
    }
    state.held -= returned;
    state.balance += returned;
    return true;
  }
  return false;
}
