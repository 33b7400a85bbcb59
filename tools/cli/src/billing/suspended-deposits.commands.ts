import {
  CreditSuspendedDeposit,
  ListSuspendedDeposits,
  accountIdSchema,
  depositKeySchema,
  ss58AddressSchema,
} from '@tessera/contracts';
import { taoText, usdText } from '../amounts/amounts.js';
import { defineCommand } from '../command/define-command.js';
import { matching, oneOf, optional, required, wholeNumber, withDefault } from '../command/options.js';
import { record, table } from '../command/output.js';

const listLimit = ListSuspendedDeposits.request.shape.limit.unwrap();

const list = defineCommand({
  path: ['suspended-deposits', 'list'],
  summary: 'TAO deposits booked on suspense: no TAO price yet, or sent to an address nobody claimed',
  options: {
    status: oneOf(
      '--status <status>',
      'which deposits (default: open)',
      ['open', 'released', 'credited'],
      'open',
    ),
    limit: withDefault(
      '--limit <n>',
      `at most this many, up to ${listLimit.maxValue} (default: 100)`,
      wholeNumber(listLimit),
      100,
    ),
  },
  async run(values, { call }) {
    const { deposits } = await call(ListSuspendedDeposits, { status: values.status, limit: values.limit });
    return {
      json: { deposits },
      text: table(
        deposits,
        [
          ['DEPOSIT KEY', (deposit) => deposit.depositKey],
          ['TAO', (deposit) => taoText(deposit.amountRao)],
          ['REASON', (deposit) => deposit.reason],
          ['STATUS', (deposit) => deposit.status],
          ['ACCOUNT', (deposit) => deposit.accountId],
          ['ADDRESS', (deposit) => deposit.address],
          ['BLOCK', (deposit) => deposit.blockNumber],
          ['SUSPENDED AT', (deposit) => deposit.suspendedAt],
        ],
        `no ${values.status} suspended deposits`,
      ),
    };
  },
});

const credit = defineCommand({
  path: ['suspended-deposits', 'credit'],
  summary: 'credit a suspended deposit to its account at the current TAO price',
  details: `A deposit to an address nobody claimed needs --address and the --account it belongs to;
one that waited for a TAO price needs --account (or the --address its account claimed).
Crediting the same deposit again answers the same and credits nothing more.`,
  examples: [
    'tessera suspended-deposits credit --deposit-key deposit:0x…:3 --account acme',
    'tessera suspended-deposits credit --deposit-key deposit:0x…:3 --account acme --address 5F…',
  ],
  options: {
    depositKey: required(
      '--deposit-key <key>',
      'as listed by `suspended-deposits list`',
      matching(depositKeySchema),
    ),
    account: optional('--account <id>', 'the account the deposit is for', matching(accountIdSchema)),
    address: optional('--address <ss58>', 'the deposit address it was sent to', matching(ss58AddressSchema)),
  },
  async run(values, { call }) {
    const credited = await call(CreditSuspendedDeposit, {
      depositKey: values.depositKey,
      ...(values.account === undefined ? {} : { accountId: values.account }),
      ...(values.address === undefined ? {} : { address: values.address }),
    });
    return {
      json: credited,
      text: record([
        ['deposit key', credited.depositKey],
        ['account', credited.accountId],
        ['credited', usdText(credited.credited)],
        ['price version', credited.priceVersion],
      ]),
    };
  },
});

export const suspendedDepositCommands = [list, credit];
