import { CreditAccount, MAX_NANO_USD, idempotencyKeySchema } from '@tessera/contracts';
import { usdText } from '../amounts/amounts.js';
import { defineCommand } from '../command/define-command.js';
import { matching, required, usd, withDefault } from '../command/options.js';
import { record } from '../command/output.js';
import { accountOption } from './accounts.commands.js';

const credit = defineCommand({
  path: ['credit'],
  summary: 'credit an account from the promotions account (top-up, goodwill)',
  details: `The idempotency key makes a retry safe: the same key with the same amount credits once
and answers the same; with a different amount it is refused.`,
  examples: [
    'tessera credit --account acme --usd 5.00 --idempotency-key welcome-acme --reason "welcome credit"',
  ],
  options: {
    account: accountOption,
    usd: required(
      '--usd <amount>',
      'how much, in USD (up to 9 decimals)',
      usd({ max: MAX_NANO_USD, positive: true }),
    ),
    idempotencyKey: required(
      '--idempotency-key <key>',
      'names this credit, so a retry does not credit twice',
      matching(idempotencyKeySchema),
    ),
    reason: withDefault(
      '--reason <text>',
      'why (kept on the ledger)',
      matching(CreditAccount.request.shape.reason.unwrap()),
      '',
    ),
  },
  async run(values, { call }) {
    const credited = await call(CreditAccount, {
      accountId: values.account,
      amount: values.usd,
      idempotencyKey: values.idempotencyKey,
      reason: values.reason,
    });
    return {
      json: credited,
      text: record([
        ['account', credited.accountId],
        ['credited', usdText(values.usd)],
        ['balance', usdText(credited.balance)],
      ]),
    };
  },
});

export const creditCommands = [credit];
