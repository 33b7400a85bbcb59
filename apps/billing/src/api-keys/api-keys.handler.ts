import { randomBytes } from 'node:crypto';
import { Controller, Inject } from '@nestjs/common';
import {
  IssueApiKey,
  ListApiKeys,
  RevokeApiKey,
  VerifyApiKey,
  formatApiKey,
  hashApiKeySecret,
  parseApiKey,
  verifyApiKeySecret,
  type RpcParsedRequestOf,
  type RpcResponseOf,
} from '@tessera/contracts';
import { RpcHandler } from '@tessera/platform/messaging';
import { DataSource } from 'typeorm';
import { DirectoryTables } from '../accounts/account-directory.projection.js';
import { AccountService } from '../accounts/account.service.js';
import { type ApiKeyState } from '../accounts/account.state.js';
import { type BillingSecrets } from '../config.js';
import { billingErrors } from '../shared/errors.js';
import { BILLING_SECRETS } from '../shared/tokens.js';

type KeySummary = RpcResponseOf<typeof ListApiKeys>['keys'][number];

/** Issue, list, revoke and verify API keys. */
@Controller()
export class ApiKeysHandler {
  constructor(
    private readonly accounts: AccountService,
    private readonly dataSource: DataSource,
    @Inject(BILLING_SECRETS) private readonly secrets: BillingSecrets,
  ) {}

  @RpcHandler(IssueApiKey)
  async issueApiKey(
    request: RpcParsedRequestOf<typeof IssueApiKey>,
  ): Promise<RpcResponseOf<typeof IssueApiKey>> {
    const keyId = randomBytes(10).toString('hex').slice(0, 16);
    const secret = randomBytes(32).toString('base64url');
    await this.accounts.execute(
      {
        kind: 'issueKey',
        accountId: request.accountId,
        keyId,
        name: request.name,
        secretHash: hashApiKeySecret(this.secrets.apiKeyPepper, secret),
        scopes: request.scopes,
        limits: request.limits,
        expiresAt: request.expiresAt,
      },
      'operator:rpc',
    );
    return {
      keyId,
      key: formatApiKey(keyId, secret),
      name: request.name,
      scopes: request.scopes,
      limits: request.limits,
      expiresAt: request.expiresAt,
      status: 'active',
    };
  }

  @RpcHandler(ListApiKeys)
  async listApiKeys(
    request: RpcParsedRequestOf<typeof ListApiKeys>,
  ): Promise<RpcResponseOf<typeof ListApiKeys>> {
    const state = await this.accounts.get(request.accountId);
    return { keys: [...state.keys.values()].map((key) => this.summary(key)) };
  }

  @RpcHandler(RevokeApiKey)
  async revokeApiKey(
    request: RpcParsedRequestOf<typeof RevokeApiKey>,
  ): Promise<RpcResponseOf<typeof RevokeApiKey>> {
    await this.accounts.execute({ kind: 'revokeKey', ...request }, 'operator:rpc');
    return { keyId: request.keyId, status: 'revoked' };
  }

  /**
   * Verifies against the key directory (the projection every proxy replica builds the same
   * way), so a revocation anywhere shows here as soon as the event is projected.
   */
  @RpcHandler(VerifyApiKey)
  async verifyApiKey(
    request: RpcParsedRequestOf<typeof VerifyApiKey>,
  ): Promise<RpcResponseOf<typeof VerifyApiKey>> {
    const parsed = parseApiKey(request.key);
    if (!parsed) throw billingErrors.invalidApiKey();
    const rows = (await this.dataSource.query(
      `SELECT k.account_id, k.secret_hash, k.scopes, k.limits, k.expires_at, k.revoked, a.status
         FROM ${DirectoryTables.apiKeys} k JOIN ${DirectoryTables.accounts} a USING (account_id) WHERE k.key_id = $1`,
      [parsed.keyId],
    )) as {
      account_id: string;
      secret_hash: string;
      scopes: RpcResponseOf<typeof VerifyApiKey>['scopes'];
      limits: RpcResponseOf<typeof VerifyApiKey>['limits'];
      expires_at: Date | null;
      revoked: boolean;
      status: string;
    }[];
    const row = rows[0];
    // The hash is compared even for states that will be refused, so a wrong secret never learns them.
    if (!row || !verifyApiKeySecret(this.secrets.apiKeyPepper, parsed.secret, row.secret_hash))
      throw billingErrors.invalidApiKey();
    if (row.revoked) throw billingErrors.keyRevoked();
    if (row.expires_at && row.expires_at.getTime() <= this.accounts.now().getTime())
      throw billingErrors.keyExpired();
    if (row.status === 'closed') throw billingErrors.accountClosed(row.account_id);
    if (row.status === 'suspended') throw billingErrors.accountSuspended(row.account_id);
    return { keyId: parsed.keyId, accountId: row.account_id, scopes: row.scopes, limits: row.limits };
  }

  private summary(key: ApiKeyState): KeySummary {
    const expired = key.expiresAt !== null && Date.parse(key.expiresAt) <= this.accounts.now().getTime();
    return {
      keyId: key.keyId,
      name: key.name,
      scopes: [...key.scopes],
      limits: key.limits,
      expiresAt: key.expiresAt,
      status: key.revoked ? 'revoked' : expired ? 'expired' : 'active',
    };
  }
}
