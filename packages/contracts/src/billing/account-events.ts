import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { ss58AddressSchema } from '../chain/primitives.js';
import { accountIdSchema } from './primitives.js';

/** A customer account was opened (stream `billing.account.<accountId>`). */
export const AccountOpened = defineEvent({
  type: 'billing.AccountOpened',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    name: z.string().min(1).max(200),
    depositAddress: ss58AddressSchema,
  }),
});

/** The account may no longer spend or be granted credit until reinstated; deposits still credit. */
export const AccountSuspended = defineEvent({
  type: 'billing.AccountSuspended',
  version: 1,
  data: z.object({ accountId: accountIdSchema, reason: z.string().max(500) }),
});

/** A suspended account is active again. */
export const AccountReinstated = defineEvent({
  type: 'billing.AccountReinstated',
  version: 1,
  data: z.object({ accountId: accountIdSchema }),
});

/** The account is closed for good; its history stays. Its keys stop working. */
export const AccountClosed = defineEvent({
  type: 'billing.AccountClosed',
  version: 1,
  data: z.object({ accountId: accountIdSchema, reason: z.string().max(500) }),
});
