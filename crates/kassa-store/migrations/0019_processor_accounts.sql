-- Processor accounts: where a merchant's live payments go (a connector such as `stripe` and its
-- credentials, sealed under the master key and never returned). At most one is active per
-- merchant and mode; a removed account is kept (payments name it) but never used again.
CREATE TABLE processor_accounts (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    livemode BIGINT NOT NULL,
    connector TEXT NOT NULL,
    credentials_enc TEXT NOT NULL,
    -- What may be shown of the credentials: non-secret fields, and secret ones as
    -- `sk_live_…abcd` (JSON object).
    display TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    removed_at BIGINT
);
CREATE UNIQUE INDEX processor_accounts_active ON processor_accounts(merchant_id, livemode)
    WHERE status = 'active';
CREATE INDEX processor_accounts_merchant ON processor_accounts(merchant_id, livemode, created_at, id);

-- A processor's webhook names the payment by the processor's reference.
CREATE INDEX payment_attempts_processor_ref ON payment_attempts(processor_ref)
    WHERE processor_ref IS NOT NULL;
CREATE INDEX refunds_processor_ref ON refunds(processor_ref) WHERE processor_ref IS NOT NULL;

-- The account that took a live payment: its capture, void and refunds go there.
ALTER TABLE payment_intents ADD COLUMN processor_account TEXT;
