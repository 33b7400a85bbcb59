import {
  AccountClosed,
  AccountOpened,
  AccountReinstated,
  AccountSuspended,
  ApiKeyIssued,
  ApiKeyRevoked,
  CreditGranted,
  GrantExpired,
  GrantSettled,
  Streams,
  type Event,
} from '@tessera/contracts';
import { type Projection } from '@tessera/eventstore';
import { type EntityManager } from 'typeorm';

/** Accounts, keys and grants as tables: deposit-address lookup, key verification, grant sweeping. */
export const accountDirectoryProjection: Projection = {
  name: 'billing-directory',
  stream: Streams.BILLING,
  filterSubject: 'billing.account.>',
  handles: [
    AccountOpened,
    AccountSuspended,
    AccountReinstated,
    AccountClosed,
    ApiKeyIssued,
    ApiKeyRevoked,
    CreditGranted,
    GrantSettled,
    GrantExpired,
  ],
  async apply(events: readonly Event[], manager: EntityManager) {
    const grants: { id: string; account: string; holder: string; granted: string; expiresAt: string }[] = [];
    const closedGrants = new Map<string, string>();
    for (const event of events) {
      if (AccountOpened.is(event)) {
        await manager.query(
          `INSERT INTO billing_accounts (account_id, name, status, deposit_address) VALUES ($1, $2, 'open', $3)
           ON CONFLICT (account_id) DO NOTHING`,
          [event.data.accountId, event.data.name, event.data.depositAddress],
        );
      } else if (AccountSuspended.is(event) || AccountReinstated.is(event) || AccountClosed.is(event)) {
        const status = AccountSuspended.is(event) ? 'suspended' : AccountClosed.is(event) ? 'closed' : 'open';
        await manager.query('UPDATE billing_accounts SET status = $2 WHERE account_id = $1', [
          event.data.accountId,
          status,
        ]);
      } else if (ApiKeyIssued.is(event)) {
        const data = event.data;
        await manager.query(
          `INSERT INTO billing_api_keys (key_id, account_id, name, secret_hash, scopes, limits, expires_at, revoked)
           VALUES ($1, $2, $3, $4, $5, $6, $7, false) ON CONFLICT (key_id) DO NOTHING`,
          [
            data.keyId,
            data.accountId,
            data.name,
            data.secretHash,
            JSON.stringify(data.scopes),
            JSON.stringify(data.limits),
            data.expiresAt,
          ],
        );
      } else if (ApiKeyRevoked.is(event)) {
        await manager.query('UPDATE billing_api_keys SET revoked = true WHERE key_id = $1', [
          event.data.keyId,
        ]);
      } else if (CreditGranted.is(event)) {
        grants.push({
          id: event.data.grantId,
          account: event.data.accountId,
          holder: event.data.holder,
          granted: event.data.granted,
          expiresAt: event.data.expiresAt,
        });
      } else if (GrantSettled.is(event) || GrantExpired.is(event)) {
        closedGrants.set(event.data.grantId, GrantSettled.is(event) ? 'settled' : 'expired');
      }
    }
    if (grants.length > 0) {
      await manager.query(
        `INSERT INTO billing_grants (grant_id, account_id, holder, granted, expires_at, status)
         SELECT g, a, h, n::numeric, e::timestamptz, 'open'
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS batch(g, a, h, n, e)
         ON CONFLICT (grant_id) DO NOTHING`,
        [
          grants.map((g) => g.id),
          grants.map((g) => g.account),
          grants.map((g) => g.holder),
          grants.map((g) => g.granted),
          grants.map((g) => g.expiresAt),
        ],
      );
    }
    if (closedGrants.size > 0) {
      await manager.query(
        `UPDATE billing_grants SET status = batch.s FROM unnest($1::text[], $2::text[]) AS batch(g, s)
          WHERE grant_id = batch.g`,
        [[...closedGrants.keys()], [...closedGrants.values()]],
      );
    }
  },
  async reset(manager: EntityManager) {
    await manager.query('DELETE FROM billing_accounts');
    await manager.query('DELETE FROM billing_api_keys');
    await manager.query('DELETE FROM billing_grants');
  },
};
