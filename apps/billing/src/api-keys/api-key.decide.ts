import {
  ApiKeyIssued,
  ApiKeyRevoked,
  type ApiKeyLimits,
  type ApiKeyScope,
  type Event,
  type PendingEvent,
} from '@tessera/contracts';
import { requireNotClosed, requireOpened } from '../accounts/account.rules.js';
import { type AccountState } from '../accounts/account.state.js';
import { billingErrors } from '../shared/errors.js';

/** Commands on an account's API keys. The secret never reaches the aggregate: only its hash. */
export type ApiKeyCommand =
  | {
      kind: 'issueKey';
      accountId: string;
      keyId: string;
      name: string;
      secretHash: string;
      scopes: ApiKeyScope[];
      limits: ApiKeyLimits;
      expiresAt: string | null;
    }
  | { kind: 'revokeKey'; accountId: string; keyId: string };

export function decideApiKey(command: ApiKeyCommand, state: AccountState): readonly PendingEvent[] {
  switch (command.kind) {
    case 'issueKey': {
      requireOpened(state, command.accountId);
      requireNotClosed(state);
      const { kind: _kind, ...data } = command;
      return [ApiKeyIssued.create(data)];
    }
    case 'revokeKey': {
      requireOpened(state, command.accountId);
      const key = state.keys.get(command.keyId);
      if (!key) throw billingErrors.keyNotFound(command.keyId);
      return key.revoked
        ? []
        : [ApiKeyRevoked.create({ accountId: command.accountId, keyId: command.keyId })];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled api key command ${JSON.stringify(unhandled)}`);
    }
  }
}

/** Applies key events; false for any other event. */
export function evolveApiKey(state: AccountState, event: Event): boolean {
  if (ApiKeyIssued.is(event)) {
    const { keyId, name, secretHash, scopes, limits, expiresAt } = event.data;
    state.keys.set(keyId, { keyId, name, secretHash, scopes, limits, expiresAt, revoked: false });
    return true;
  }
  if (ApiKeyRevoked.is(event)) {
    const key = state.keys.get(event.data.keyId);
    if (key) key.revoked = true;
    return true;
  }
  return false;
}
