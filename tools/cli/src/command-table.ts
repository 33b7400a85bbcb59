import { billingCommandSet } from './billing/billing.commands.js';
import { type CommandSet } from './command/define-command.js';
import { deadLetterCommandSet } from './operations/dead-letters.commands.js';
import { schedulerCommandSet } from './scheduler/scheduler.commands.js';

/**
 * Every command of `tessera`, one set per service. A new service writes its commands in its own
 * folder (`src/<service>/<service>.commands.ts`, a {@link CommandSet} of `defineCommand`s over its
 * RPC contracts) and adds the set here; help, option parsing, the operator connection, output
 * and errors come with it.
 */
export const commandTable: readonly CommandSet[] = [
  billingCommandSet,
  schedulerCommandSet,
  deadLetterCommandSet,
];
