import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { ss58AddressSchema } from '../chain/primitives.js';

/**
 * Billing gave an account its deposit address; the chain indexer starts watching it and reports
 * transfers to it as `chain.TransferObserved`.
 */
export const DepositAddressAssigned = defineEvent({
  type: 'billing.DepositAddressAssigned',
  version: 1,
  data: z.object({
    accountId: z.string().min(1),
    address: ss58AddressSchema,
  }),
});
