import { ChangeAccountStatus, GetAccount, OpenAccount, accountIdSchema } from '@tessera/contracts';
import { type z } from 'zod';
import { usdText } from '../amounts/amounts.js';
import { defineCommand, type AnyCliCommand } from '../command/define-command.js';
import { matching, required, withDefault } from '../command/options.js';
import { record } from '../command/output.js';

/** `--account <id>`, checked against the contract's account id rule. */
export const accountOption = required('--account <id>', 'the account id', matching(accountIdSchema));

const reasonText = matching(ChangeAccountStatus.request.shape.reason.unwrap());

const open = defineCommand({
  path: ['accounts', 'open'],
  summary: 'open a customer account and assign its TAO deposit address',
  details: 'Then issue its first API key with `tessera keys issue --account <id>`.',
  examples: ['tessera accounts open --account acme --name "Acme Inc"'],
  options: {
    account: accountOption,
    name: required('--name <name>', 'the customer’s name', matching(OpenAccount.request.shape.name)),
  },
  async run(values, { call }) {
    const opened = await call(OpenAccount, { accountId: values.account, name: values.name });
    return {
      json: opened,
      text: record([
        ['account', opened.accountId],
        ['deposit address', opened.depositAddress],
      ]),
    };
  },
});

const show = defineCommand({
  path: ['accounts', 'show'],
  summary: 'show an account: status, deposit address, balance, held and owed credit',
  examples: ['tessera accounts show --account acme'],
  options: { account: accountOption },
  async run(values, { call }) {
    const account = await call(GetAccount, { accountId: values.account });
    return {
      json: account,
      text: record([
        ['account', account.accountId],
        ['name', account.name],
        ['status', account.status],
        ['deposit address', account.depositAddress],
        ['balance', usdText(account.balance)],
        ['held in grants', usdText(account.held)],
        ['owed', usdText(account.owed)],
        ['free allowance left today', usdText(account.freeAllowanceLeftToday)],
      ]),
    };
  },
});

type StatusAction = z.output<typeof ChangeAccountStatus.request>['action'];

function changeStatus(action: StatusAction, summary: string): AnyCliCommand {
  return defineCommand({
    path: ['accounts', action],
    summary,
    examples: [`tessera accounts ${action} --account acme --reason "…"`],
    options: {
      account: accountOption,
      reason: withDefault('--reason <text>', 'why (kept on the account’s history)', reasonText, ''),
    },
    async run(values, { call }) {
      const changed = await call(ChangeAccountStatus, {
        accountId: values.account,
        action,
        reason: values.reason,
      });
      return {
        json: changed,
        text: record([
          ['account', changed.accountId],
          ['status', changed.status],
        ]),
      };
    },
  });
}

export const accountCommands = [
  open,
  show,
  changeStatus('suspend', 'suspend an account: its keys stop working and no credit is granted'),
  changeStatus('reinstate', 'reinstate a suspended account'),
  changeStatus('close', 'close an account for good'),
];
