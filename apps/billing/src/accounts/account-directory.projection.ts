import {
  AccountClosed,
  AccountOpened,
  AccountReinstated,
  AccountSuspended,
  ApiKeyIssued,
  ApiKeyRevoked,
  CreditGranted,
  DepositAddressClaimed,
  GrantExpired,
  GrantSettled,
  Streams,
  type Event,
} from '@tessera/contracts';
import { type Projection } from '@tessera/eventstore';
import { type EntityManager } from 'typeorm';

/** The directory's tables (raw SQL names them through these). */
export const DirectoryTables = {
  accounts: 'billing_accounts',
  apiKeys: 'billing_api_keys',
  grants: 'billing_grants',
  depositAddresses: 'billing_deposit_addresses',
} as const;

const { accounts, apiKeys, grants: grantsTable, depositAddresses } = DirectoryTables;

/**
 * Accounts, keys, grants and claimed deposit addresses as tables: key verification, grant
 * sweeping, listings. Nothing that moves money waits for it: deposits find their account through
 * the address's own stream.
 */
export const accountDirectoryProjection: Projection = {
  name: 'billing-directory',
  stream: Streams.BILLING,
  filterSubject: 'billing.>',
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
    DepositAddressClaimed,
  ],
  async apply(events: readonly Event[], manager: EntityManager) {
    const grants: { id: string; account: string; holder: string; granted: string; expiresAt: string }[] = [];
    const closedGrants = new Map<string, string>();
    for (const event of events) {
      if (AccountOpened.is(event)) {
        await manager.query(
          `INSERT INTO ${accounts} (account_id, name, status, deposit_address) VALUES ($1, $2, 'open', $3)
           ON CONFLICT (account_id) DO NOTHING`,
          [event.data.accountId, event.data.name, event.data.depositAddress],
        );
      } else if (AccountSuspended.is(event) || AccountReinstated.is(event) || AccountClosed.is(event)) {
        const status = AccountSuspended.is(event) ? 'suspended' : AccountClosed.is(event) ? 'closed' : 'open';
        await manager.query(`UPDATE ${accounts} SET status = $2 WHERE account_id = $1`, [
          event.data.accountId,
          status,
        ]);
      } else if (ApiKeyIssued.is(event)) {
        const data = event.data;
        await manager.query(
          `INSERT INTO ${apiKeys} (key_id, account_id, name, secret_hash, scopes, limits, expires_at, revoked)
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
        await manager.query(`UPDATE ${apiKeys} SET revoked = true WHERE key_id = $1`, [event.data.keyId]);
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
      } else if (DepositAddressClaimed.is(event)) {
        await manager.query(
          `INSERT INTO ${depositAddresses} (address, account_id, claimed_at) VALUES ($1, $2, $3)
           ON CONFLICT (address) DO NOTHING`,
          [event.data.address, event.data.accountId, event.occurredAt],
        );
      }
    }
    if (grants.length > 0) {
      await manager.query(
        `INSERT INTO ${grantsTable} (grant_id, account_id, holder, granted, expires_at, status)
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
        `UPDATE ${grantsTable} SET status = batch.s FROM unnest($1::text[], $2::text[]) AS batch(g, s)
          WHERE grant_id = batch.g`,
        [[...closedGrants.keys()], [...closedGrants.values()]],
      );
    }
  },
  async reset(manager: EntityManager) {
    for (const table of Object.values(DirectoryTables)) await manager.query(`DELETE FROM ${table}`);
  },
};
