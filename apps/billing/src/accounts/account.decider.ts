import { type Event, type PendingEvent } from '@tessera/contracts';
import { type Decider } from '@tessera/eventstore';
import { decideApiKey, evolveApiKey, type ApiKeyCommand } from '../api-keys/api-key.decide.js';
import { decideDeposit, evolveDeposit, type DepositCommand } from '../deposits/deposit.decide.js';
import { decideGrant, evolveGrant, type GrantCommand } from '../grants/grant.decide.js';
import {
  decideUsage,
  decideUsageBatch,
  evolveUsage,
  type UsageBatchCommand,
  type UsageCommand,
} from '../usage/usage.decide.js';
import {
  decideAccountLifecycle,
  evolveAccountLifecycle,
  type AccountLifecycleCommand,
} from './account-lifecycle.decide.js';
import { initialAccountState, pruneRetention, type AccountState } from './account.state.js';

/** Commands of the account aggregate. Time and ids arrive in the command, never read inside. */
export type AccountCommand =
  AccountLifecycleCommand | ApiKeyCommand | GrantCommand | UsageCommand | UsageBatchCommand | DepositCommand;

/** Settings that shape the state every replay must agree on. */
export interface AccountDeciderOptions {
  /** How long idempotency keys and closed grants are kept, by the events' `occurredAt`. */
  idempotencyRetentionMs: number;
}

/** 7 days, the default retention window of idempotency keys. */
export const DEFAULT_IDEMPOTENCY_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** Each feature's evolve, tried in turn; each returns whether the event was its own. */
const evolvers: readonly ((state: AccountState, event: Event) => boolean)[] = [
  evolveUsage, // first: by far the most frequent event of a busy account
  evolveGrant,
  evolveAccountLifecycle,
  evolveDeposit,
  evolveApiKey,
];

/**
 * The customer account aggregate, composed of per-feature decisions: lifecycle and credits
 * (`accounts/`), API keys (`api-keys/`), grants (`grants/`), usage (`usage/`) and deposits
 * (`deposits/`). They share one state, and one stream, because they spend the same balance.
 *
 * `evolve` mutates and returns the state it is given: the state is owned by one aggregate instance
 * (the cache entry or a replay), and copying the maps per event would make a long-lived account's
 * every command O(history). After each event it prunes what fell out of the retention window.
 */
export function createAccountDecider(options: AccountDeciderOptions): Decider<AccountCommand, AccountState> {
  return {
    initialState: initialAccountState,
    decide(command: AccountCommand, state: AccountState): readonly PendingEvent[] {
      switch (command.kind) {
        case 'open':
        case 'suspend':
        case 'reinstate':
        case 'close':
        case 'credit':
          return decideAccountLifecycle(command, state);
        case 'issueKey':
        case 'revokeKey':
          return decideApiKey(command, state);
        case 'grant':
        case 'settle':
        case 'expireGrant':
          return decideGrant(command, state);
        case 'charge':
          return decideUsage(command, state);
        case 'chargeMany':
          return decideUsageBatch(command, state);
        case 'creditDeposit':
          return decideDeposit(command, state);
        default: {
          const unhandled: never = command;
          throw new Error(`unhandled account command ${JSON.stringify(unhandled)}`);
        }
      }
    },
    evolve(state: AccountState, event: Event): AccountState {
      for (const evolveFeature of evolvers) if (evolveFeature(state, event)) break;
      pruneRetention(state, Date.parse(event.occurredAt), options.idempotencyRetentionMs);
      return state;
    },
  };
}
