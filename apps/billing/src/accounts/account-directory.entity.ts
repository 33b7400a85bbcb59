import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Accounts by id and by deposit address (projection of the account streams). */
@Entity({ name: 'billing_accounts' })
export class AccountRow {
  @PrimaryColumn('text', { name: 'account_id' }) accountId!: string;
  @Column('text') name!: string;
  @Column('text') status!: string;
  @Index({ unique: true })
  @Column('text', { name: 'deposit_address' })
  depositAddress!: string;
}

/** API keys as the proxy sees them: hash, scopes, limits, expiry, revocation. Never the secret. */
@Entity({ name: 'billing_api_keys' })
export class ApiKeyRow {
  @PrimaryColumn('text', { name: 'key_id' }) keyId!: string;
  @Index()
  @Column('text', { name: 'account_id' })
  accountId!: string;
  @Column('text') name!: string;
  @Column('text', { name: 'secret_hash' }) secretHash!: string;
  @Column('jsonb') scopes!: string[];
  @Column('jsonb') limits!: { requestsPerMinute: number | null; tokensPerMinute: number | null };
  @Column('timestamptz', { name: 'expires_at', nullable: true }) expiresAt!: Date | null;
  @Column('boolean') revoked!: boolean;
}

/** Grants, so the sweeper can find the open ones past their TTL. */
@Entity({ name: 'billing_grants' })
@Index(['status', 'expiresAt'])
export class GrantRow {
  @PrimaryColumn('text', { name: 'grant_id' }) grantId!: string;
  @Column('text', { name: 'account_id' }) accountId!: string;
  @Column('text') holder!: string;
  @Column('numeric', { precision: 40, scale: 0 }) granted!: string;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt!: Date;
  @Column('text') status!: string;
}
