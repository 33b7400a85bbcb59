-- The schema billing ran on before it shipped migrations (release at commit dff3135), as
-- TypeORM's `synchronize` created it from that release's entities: captured once with pg_dump
-- (schema only, owner and schema name dropped), plus a few rows that release would have written.
-- The migration tests load it into an empty schema (search_path set to it) and start billing on it.
CREATE TABLE billing_accounts (
    account_id text NOT NULL,
    name text NOT NULL,
    status text NOT NULL,
    deposit_address text NOT NULL
);
CREATE TABLE billing_api_keys (
    key_id text NOT NULL,
    account_id text NOT NULL,
    name text NOT NULL,
    secret_hash text NOT NULL,
    scopes jsonb NOT NULL,
    limits jsonb NOT NULL,
    expires_at timestamp with time zone,
    revoked boolean NOT NULL
);
CREATE TABLE billing_grants (
    grant_id text NOT NULL,
    account_id text NOT NULL,
    holder text NOT NULL,
    granted numeric(40,0) NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    status text NOT NULL
);
CREATE TABLE billing_ledger_balances (
    ledger_account text NOT NULL,
    balance numeric(40,0) NOT NULL
);
CREATE TABLE billing_ledger_entries (
    id bigint NOT NULL,
    entry_key text NOT NULL,
    ledger_account text NOT NULL,
    counterparty text NOT NULL,
    change numeric(40,0) NOT NULL,
    balance_after numeric(40,0) NOT NULL,
    event_type text NOT NULL,
    idempotency_key text NOT NULL,
    occurred_at timestamp with time zone NOT NULL
);
CREATE SEQUENCE billing_ledger_entries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE billing_ledger_entries_id_seq OWNED BY billing_ledger_entries.id;
CREATE TABLE billing_usage_daily (
    account_id text NOT NULL,
    day date NOT NULL,
    product text NOT NULL,
    item text NOT NULL,
    requests integer NOT NULL,
    prompt_tokens numeric(40,0) NOT NULL,
    completion_tokens numeric(40,0) NOT NULL,
    gpu_seconds numeric(40,0) NOT NULL,
    amount numeric(40,0) NOT NULL
);
CREATE TABLE projection_checkpoints (
    projection text NOT NULL,
    sequence bigint NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE projection_dead_letters (
    id bigint NOT NULL,
    projection text NOT NULL,
    sequence bigint NOT NULL,
    subject text NOT NULL,
    event_id text,
    event_type text,
    error_code text NOT NULL,
    reason text NOT NULL,
    payload text NOT NULL,
    parked_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE SEQUENCE projection_dead_letters_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE projection_dead_letters_id_seq OWNED BY projection_dead_letters.id;
ALTER TABLE ONLY billing_ledger_entries ALTER COLUMN id SET DEFAULT nextval('billing_ledger_entries_id_seq'::regclass);
ALTER TABLE ONLY projection_dead_letters ALTER COLUMN id SET DEFAULT nextval('projection_dead_letters_id_seq'::regclass);
ALTER TABLE ONLY projection_checkpoints
    ADD CONSTRAINT "PK_1ab7593ecac42592305dafc3e8b" PRIMARY KEY (projection);
ALTER TABLE ONLY billing_ledger_balances
    ADD CONSTRAINT "PK_21d0cfc9301d2012c7efc03083a" PRIMARY KEY (ledger_account);
ALTER TABLE ONLY billing_grants
    ADD CONSTRAINT "PK_3a3dbf156c495855b1d5e66bd15" PRIMARY KEY (grant_id);
ALTER TABLE ONLY billing_usage_daily
    ADD CONSTRAINT "PK_4b24af6cb5a0ddb5f6c5dd2fa71" PRIMARY KEY (account_id, day, product, item);
ALTER TABLE ONLY billing_ledger_entries
    ADD CONSTRAINT "PK_6e9c68b167eb106bf7156ca38f5" PRIMARY KEY (id);
ALTER TABLE ONLY projection_dead_letters
    ADD CONSTRAINT "PK_a80b53896d11b27cf031892093b" PRIMARY KEY (id);
ALTER TABLE ONLY billing_api_keys
    ADD CONSTRAINT "PK_ca4cc2d6ba994f220d7a281bcb2" PRIMARY KEY (key_id);
ALTER TABLE ONLY billing_accounts
    ADD CONSTRAINT "PK_d88de32d08d7d9472bd575c6655" PRIMARY KEY (account_id);
ALTER TABLE ONLY projection_dead_letters
    ADD CONSTRAINT projection_dead_letters_position UNIQUE (projection, sequence);
CREATE UNIQUE INDEX "IDX_0016e4ce49733cb583bf2b60f1" ON billing_ledger_entries USING btree (entry_key);
CREATE INDEX "IDX_0e109f37577b86fe1a86a1a0da" ON billing_ledger_entries USING btree (ledger_account, id);
CREATE INDEX "IDX_3e87c8a3c9d090701be831ad0b" ON billing_grants USING btree (status, expires_at);
CREATE UNIQUE INDEX "IDX_d1075e6d0d57307e3b483ecae4" ON billing_accounts USING btree (deposit_address);
CREATE INDEX "IDX_d471c0b12e5378f1666d9a22a7" ON billing_api_keys USING btree (account_id);

-- Rows the previous release wrote: an account with a key and a settled grant, its ledger, a day
-- of usage, checkpoints under the consumer names of that release (the test writes the BILLING
-- and CHAIN messages they point at), and one parked deposit.
INSERT INTO billing_accounts (account_id, name, status, deposit_address)
  VALUES ('legacy', 'Legacy Ltd', 'open', '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty');
INSERT INTO billing_api_keys (key_id, account_id, name, secret_hash, scopes, limits, expires_at, revoked)
  VALUES ('legacykey0000001', 'legacy', 'ci', 'aa8c1f5f4ddb4a9e7b8b3a2d5e9c6f1b0a7d3c2e1f4b5a6978c0d1e2f3a4b5c6',
          '["inference"]', '{"requestsPerMinute": null, "tokensPerMinute": null}', NULL, false);
INSERT INTO billing_grants (grant_id, account_id, holder, granted, expires_at, status)
  VALUES ('legacy:0191a7a8-0000-7000-8000-000000000001', 'legacy', 'proxy-1', 1000000000, '2026-01-01T00:01:00Z', 'settled');
INSERT INTO billing_ledger_balances (ledger_account, balance) VALUES
  ('platform:promotions', -5000000000), ('customer:legacy', 5000000000);
INSERT INTO billing_ledger_entries (entry_key, ledger_account, counterparty, change, balance_after, event_type, idempotency_key, occurred_at) VALUES
  ('0191a7a8-0000-7000-8000-00000000000a:0:from', 'platform:promotions', 'customer:legacy', -5000000000, -5000000000, 'billing.AccountCredited', 'credit:welcome', '2026-01-01T00:00:00Z'),
  ('0191a7a8-0000-7000-8000-00000000000a:0:to', 'customer:legacy', 'platform:promotions', 5000000000, 5000000000, 'billing.AccountCredited', 'credit:welcome', '2026-01-01T00:00:00Z');
INSERT INTO billing_usage_daily (account_id, day, product, item, requests, prompt_tokens, completion_tokens, gpu_seconds, amount)
  VALUES ('legacy', '2026-01-01', 'inference', 'llama-3-8b', 3, 3000, 1500, 0, 12000);
INSERT INTO projection_checkpoints (projection, sequence) VALUES
  ('billing-directory', 4), ('billing-ledger', 4), ('billing-usage-daily', 4),
  ('billing-deposits', 2), ('billing-request-charges', 0);
-- The deposit the first release lost (issue 7.1): parked while the directory lagged, checkpoint
-- moved past it. The payload is the CHAIN message as stored; the test publishes it as sequence 2.
INSERT INTO projection_dead_letters (projection, sequence, subject, event_id, event_type, error_code, reason, payload)
  VALUES ('billing-deposits', 2, 'chain.transfer.a', '0191a7a8-0000-7000-8000-0000000000a2', 'chain.TransferObserved',
          'NOT_FOUND', 'account for 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty not in the directory yet',
          '{"id":"0191a7a8-0000-7000-8000-0000000000a2","type":"chain.TransferObserved","version":1,"streamId":"chain.transfer.a","sequence":1,"occurredAt":"2026-01-01T00:02:00.000Z","correlationId":"0191a7a8-0000-7000-8000-0000000000a2","causationId":null,"traceparent":null,"actor":"service:chain-indexer","data":{"from":"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY","to":"5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty","amount":"500000000","blockNumber":10,"blockHash":"0x000000000000000000000000000000000000000000000000000000000000000a","extrinsicIndex":1,"eventIndex":2}}');
