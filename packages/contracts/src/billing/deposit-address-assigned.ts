import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { ss58AddressSchema } from '../chain/primitives.js';
import { accountIdSchema } from './primitives.js';

/**
 * Billing gave an account its deposit address; the chain indexer starts watching it and reports
 * transfers to it as `chain.TransferObserved`.
 */
export const DepositAddressAssigned = defineEvent({
  type: 'billing.DepositAddressAssigned',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    address: ss58AddressSchema,
  }),
});
