import { type CommandSet } from '../command/define-command.js';
import { accountCommands } from './accounts.commands.js';
import { apiKeyCommands } from './api-keys.commands.js';
import { creditCommands } from './credit.commands.js';
import { priceCommands } from './prices.commands.js';
import { reconcileCommands } from './reconcile.commands.js';
import { statementCommands } from './statements.commands.js';
import { suspendedDepositCommands } from './suspended-deposits.commands.js';

/** Billing's operator commands: accounts, keys, money, prices, statements, suspense. */
export const billingCommandSet: CommandSet = {
  groups: [
    { name: 'accounts', summary: 'open, show, suspend, reinstate and close customer accounts' },
    { name: 'keys', summary: 'issue, list and revoke API keys' },
    { name: 'prices', summary: 'show and set prices: TAO, models, GPUs' },
    { name: 'suspended-deposits', summary: 'TAO deposits waiting on suspense: list them, credit them' },
  ],
  commands: [
    ...accountCommands,
    ...apiKeyCommands,
    ...creditCommands,
    ...priceCommands,
    ...statementCommands,
    ...suspendedDepositCommands,
    ...reconcileCommands,
  ],
};
