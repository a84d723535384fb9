-- Paymob-compatible accounts. Each object keeps the indexed columns its lookups need and the
-- rest as a JSON document (`doc`) the service gives meaning to. Paymob's ids are integers, so
-- they come from `pm_counters` (one row per kind, bumped inside the writing transaction).

-- Paymob callbacks are POSTs with a JSON body, rendered once like Paymentwall's pingbacks.
ALTER TABLE deliveries ADD COLUMN request_body TEXT;

CREATE TABLE pm_counters (
    name TEXT PRIMARY KEY,
    next_value BIGINT NOT NULL
);
INSERT INTO pm_counters (name, next_value) VALUES
    ('profile', 164001), ('integration', 4097001), ('iframe', 830001), ('order', 217500001),
    ('transaction', 192000001), ('card_token', 8555001), ('plan', 1001), ('subscription', 1201);

-- A merchant's Paymob account ("profile"; its id is the `owner`/`profile_id` of transactions).
CREATE TABLE pm_profiles (
    id BIGINT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    country TEXT NOT NULL,
    live BIGINT NOT NULL,
    secret_key_hash TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL UNIQUE,
    api_key_hash TEXT NOT NULL UNIQUE,
    -- The HMAC secret, encrypted under the master key (callbacks are signed with it).
    hmac_enc TEXT NOT NULL,
    iframe_id BIGINT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX pm_profiles_merchant ON pm_profiles(merchant_id);

CREATE TABLE pm_integrations (
    id BIGINT PRIMARY KEY,
    profile_id BIGINT NOT NULL REFERENCES pm_profiles(id),
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX pm_integrations_profile ON pm_integrations(profile_id);

CREATE TABLE pm_orders (
    id BIGINT PRIMARY KEY,
    profile_id BIGINT NOT NULL REFERENCES pm_profiles(id),
    merchant_order_id TEXT,
    intention_id TEXT,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX pm_orders_merchant_order ON pm_orders(profile_id, merchant_order_id);

CREATE TABLE pm_intentions (
    id TEXT PRIMARY KEY,
    profile_id BIGINT NOT NULL REFERENCES pm_profiles(id),
    client_secret TEXT NOT NULL UNIQUE,
    order_id BIGINT NOT NULL REFERENCES pm_orders(id),
    expires_at BIGINT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per Paymob transaction: a payment attempt (one core payment intent each) or a
-- refund, void or capture of one (a child). `obj` is the transaction object as last sent.
CREATE TABLE pm_transactions (
    id BIGINT PRIMARY KEY,
    profile_id BIGINT NOT NULL REFERENCES pm_profiles(id),
    order_id BIGINT NOT NULL REFERENCES pm_orders(id),
    intent_id TEXT,
    parent_id BIGINT,
    kind TEXT NOT NULL,
    obj TEXT NOT NULL,
    extra TEXT NOT NULL,
    -- When an uncaptured authorisation is voided by itself (14 days); NULL otherwise.
    auto_void_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX pm_transactions_intent ON pm_transactions(intent_id);
CREATE INDEX pm_transactions_order ON pm_transactions(order_id);
CREATE INDEX pm_transactions_parent ON pm_transactions(parent_id);
CREATE INDEX pm_transactions_auto_void ON pm_transactions(auto_void_at);

-- Saved cards. The token is a credential: stored encrypted, found by its SHA-256.
CREATE TABLE pm_card_tokens (
    id BIGINT PRIMARY KEY,
    profile_id BIGINT NOT NULL REFERENCES pm_profiles(id),
    token_hash TEXT NOT NULL UNIQUE,
    token_enc TEXT NOT NULL,
    order_id BIGINT NOT NULL,
    processor_ref TEXT NOT NULL,
    obj TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX pm_card_tokens_order ON pm_card_tokens(order_id);

CREATE TABLE pm_plans (
    id BIGINT PRIMARY KEY,
    profile_id BIGINT NOT NULL REFERENCES pm_profiles(id),
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX pm_plans_profile ON pm_plans(profile_id);

-- Times are on the subscription's own clock: real time plus `clock_offset_ms` (test clock).
CREATE TABLE pm_subscriptions (
    id BIGINT PRIMARY KEY,
    profile_id BIGINT NOT NULL REFERENCES pm_profiles(id),
    plan_id BIGINT NOT NULL REFERENCES pm_plans(id),
    state TEXT NOT NULL,
    next_billing_at BIGINT,
    leased_until BIGINT,
    clock_offset_ms BIGINT NOT NULL,
    version BIGINT NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX pm_subscriptions_due ON pm_subscriptions(next_billing_at);
CREATE INDEX pm_subscriptions_profile ON pm_subscriptions(profile_id);
