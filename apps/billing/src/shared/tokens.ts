import { type Clock } from '@tessera/contracts';

/** Injection token of the domain clock (FakeClock in tests). */
export const CLOCK = Symbol.for('tessera.billing.clock');
/** Injection token of the resolved {@link BillingSecrets} (`config.ts`). */
export const BILLING_SECRETS = Symbol.for('tessera.billing.secrets');
/** Injection token of the `DepositAddressDeriver`. */
export const DEPOSIT_DERIVER = Symbol.for('tessera.billing.depositDeriver');
export type { Clock };

/** The UTC day of a time, `YYYY-MM-DD`. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}
