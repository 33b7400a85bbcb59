import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { ss58AddressSchema } from '../chain/primitives.js';
import { accountIdSchema, storedIdempotencyKeySchema } from './primitives.js';

/**
 * A deposit address was claimed for an account (stream `billing.deposit-address.<address>`),
 * before the account was opened: the claim is appended expecting an empty stream, so an address
 * belongs to one account at most, and the deposit path finds the account of an address through
 * the event store, never through a read model that may lag.
 */
export const DepositAddressClaimed = defineEvent({
  type: 'billing.DepositAddressClaimed',
  version: 1,
  data: z.object({ address: ss58AddressSchema, accountId: accountIdSchema }),
});

/**
 * A deposit suspended on the address's stream (nobody had claimed the address) was handed to an
 * account, which credits it next (`billing.DepositCredited` with `fromSuspense`). Released once:
 * a suspended deposit can never be credited to two accounts.
 */
export const SuspendedDepositReleased = defineEvent({
  type: 'billing.SuspendedDepositReleased',
  version: 1,
  data: z.object({
    address: ss58AddressSchema,
    /** The deposit's key, `deposit:<blockHash>:<eventIndex>`. */
    idempotencyKey: storedIdempotencyKeySchema,
    accountId: accountIdSchema,
  }),
});
