import {
  IssueApiKey,
  ListApiKeys,
  RevokeApiKey,
  apiKeyIdSchema,
  apiKeyLimitsSchema,
  apiKeyScopeSchema,
} from '@tessera/contracts';
import { z } from 'zod';
import { defineCommand } from '../command/define-command.js';
import { commaList, matching, optional, required, wholeNumber, withDefault } from '../command/options.js';
import { record, table } from '../command/output.js';
import { accountOption } from './accounts.commands.js';

type ApiKeyLimits = z.output<typeof IssueApiKey.request>['limits'];

function limitsText(limits: ApiKeyLimits): string {
  const parts = [
    limits.requestsPerMinute === null ? undefined : `${limits.requestsPerMinute} requests/min`,
    limits.tokensPerMinute === null ? undefined : `${limits.tokensPerMinute} tokens/min`,
  ].filter((part) => part !== undefined);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

const issue = defineCommand({
  path: ['keys', 'issue'],
  summary: 'issue an API key for an account (the key is printed once, only now)',
  details: `Tessera keeps only a hash of the key: store it now, it cannot be shown again.
Scopes: ${apiKeyScopeSchema.options.join(', ')}.`,
  examples: [
    'tessera keys issue --account acme --name ci --scopes inference,account:read',
    'tessera keys issue --account acme --requests-per-minute 600 --expires-at 2027-01-01T00:00:00Z',
  ],
  options: {
    account: accountOption,
    name: withDefault(
      '--name <name>',
      'a name to tell keys apart',
      matching(IssueApiKey.request.shape.name.unwrap()),
      '',
    ),
    scopes: withDefault(
      '--scopes <list>',
      'comma-separated scopes (default: inference)',
      commaList(matching(apiKeyScopeSchema)),
      ['inference' as const],
    ),
    requestsPerMinute: optional(
      '--requests-per-minute <n>',
      'rate limit the proxy enforces',
      wholeNumber(apiKeyLimitsSchema.shape.requestsPerMinute.unwrap()),
    ),
    tokensPerMinute: optional(
      '--tokens-per-minute <n>',
      'token limit the proxy enforces',
      wholeNumber(apiKeyLimitsSchema.shape.tokensPerMinute.unwrap()),
    ),
    expiresAt: optional(
      '--expires-at <time>',
      'ISO 8601 time the key stops working',
      matching(z.iso.datetime()),
    ),
  },
  async run(values, { call, note }) {
    const issued = await call(IssueApiKey, {
      accountId: values.account,
      name: values.name,
      scopes: values.scopes,
      limits: {
        requestsPerMinute: values.requestsPerMinute ?? null,
        tokensPerMinute: values.tokensPerMinute ?? null,
      },
      expiresAt: values.expiresAt ?? null,
    });
    note('The API key is shown only now: Tessera keeps its hash, not the key.');
    return {
      json: issued,
      text: record([
        ['key', issued.key],
        ['key id', issued.keyId],
        ['name', issued.name],
        ['scopes', issued.scopes.join(', ')],
        ['limits', limitsText(issued.limits)],
        ['expires', issued.expiresAt ?? 'never'],
      ]),
    };
  },
});

const list = defineCommand({
  path: ['keys', 'list'],
  summary: 'list an account’s API keys (ids and settings; never the keys)',
  examples: ['tessera keys list --account acme'],
  options: { account: accountOption },
  async run(values, { call }) {
    const { keys } = await call(ListApiKeys, { accountId: values.account });
    return {
      json: { keys },
      text: table(
        keys,
        [
          ['KEY ID', (key) => key.keyId],
          ['STATUS', (key) => key.status],
          ['NAME', (key) => key.name],
          ['SCOPES', (key) => key.scopes.join(',')],
          ['LIMITS', (key) => limitsText(key.limits)],
          ['EXPIRES', (key) => key.expiresAt ?? 'never'],
        ],
        'no API keys',
      ),
    };
  },
});

const revoke = defineCommand({
  path: ['keys', 'revoke'],
  summary: 'revoke an API key: proxies refuse it from then on',
  examples: ['tessera keys revoke --account acme --key-id 0123456789abcdef'],
  options: {
    account: accountOption,
    keyId: required('--key-id <id>', 'the key id (`tessera keys list`)', matching(apiKeyIdSchema)),
  },
  async run(values, { call }) {
    const revoked = await call(RevokeApiKey, { accountId: values.account, keyId: values.keyId });
    return {
      json: revoked,
      text: record([
        ['key id', revoked.keyId],
        ['status', revoked.status],
      ]),
    };
  },
});

export const apiKeyCommands = [issue, list, revoke];
