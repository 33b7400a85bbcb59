import {
  DepositCredited,
  DepositIgnored,
  TaoLedgerAccount,
  UsageCharged,
  receivableLedgerAccount,
  type Posting,
  type Product,
} from '@tessera/contracts';
import { type Upcaster } from '@tessera/eventstore';
import { revenueLedgerAccount } from '../usage/usage.decide.js';

/**
 * The first release's money events, lifted to carry every leg the ledger books now. They are
 * upcast on read, so the ledger — rebuilt once by the upgrade migration — books the rao side of
 * old deposits and what old late charges left owed, exactly as if they had been written today.
 */

interface LegacyDeposit {
  amountRao: string;
  postings?: Posting[];
  reason?: 'below-minimum' | 'no-tao-price';
}

const raoLeg = (from: string, to: string, amountRao: string): Posting[] =>
  amountRao === '0' ? [] : [{ from, to, amount: amountRao }];

export const billingUpcasters: readonly Upcaster[] = [
  {
    type: DepositCredited.type,
    fromVersion: 1,
    upcast(data) {
      const legacy = data as LegacyDeposit;
      return {
        ...legacy,
        fromSuspense: false,
        receivablePaid: '0',
        postings: [
          ...raoLeg(TaoLedgerAccount.inflow, TaoLedgerAccount.converted, legacy.amountRao),
          ...(legacy.postings ?? []),
        ],
      };
    },
  },
  {
    type: DepositIgnored.type,
    fromVersion: 1,
    upcast(data) {
      const legacy = data as LegacyDeposit;
      // A deposit the first release ignored for lack of a price waits on suspense now.
      const to = legacy.reason === 'no-tao-price' ? TaoLedgerAccount.suspense : TaoLedgerAccount.dust;
      return { ...legacy, postings: raoLeg(TaoLedgerAccount.inflow, to, legacy.amountRao) };
    },
  },
  {
    type: UsageCharged.type,
    fromVersion: 1,
    upcast(data) {
      const legacy = data as {
        accountId: string;
        product: Product;
        uncollected: string;
        postings: Posting[];
      };
      if (legacy.uncollected === '0') return legacy;
      return {
        ...legacy,
        postings: [
          ...legacy.postings,
          {
            from: receivableLedgerAccount(legacy.accountId),
            to: revenueLedgerAccount(legacy.product),
            amount: legacy.uncollected,
          },
        ],
      };
    },
  },
];
