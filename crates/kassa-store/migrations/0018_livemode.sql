-- Test and live mode. Every merchant-scoped object records the mode of the key that made it, and
-- every read and write names merchant and mode (`kassa_core::scope::Scope`), so test and live
-- data never see each other. Everything that exists was made with test keys.
ALTER TABLE api_keys ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payment_intents ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payment_methods ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE test_clocks ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;

-- The merchant's listing indexes lead with (merchant, mode).
DROP INDEX payment_intents_merchant_created;
CREATE INDEX payment_intents_merchant_created ON payment_intents(merchant_id, livemode, created_at, id);
DROP INDEX refunds_merchant_created;
CREATE INDEX refunds_merchant_created ON refunds(merchant_id, livemode, created_at, id);
DROP INDEX events_merchant_created;
CREATE INDEX events_merchant_created ON events(merchant_id, livemode, created_at, id);
DROP INDEX webhook_endpoints_merchant;
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints(merchant_id, livemode);
DROP INDEX customers_merchant_created;
CREATE INDEX customers_merchant_created ON customers(merchant_id, livemode, created_at, id);
DROP INDEX customers_merchant_email;
CREATE INDEX customers_merchant_email ON customers(merchant_id, livemode, email, created_at, id);
DROP INDEX payment_methods_customer;
CREATE INDEX payment_methods_customer ON payment_methods(merchant_id, livemode, customer_id, created_at, id);
DROP INDEX test_clocks_merchant;
CREATE INDEX test_clocks_merchant ON test_clocks(merchant_id, livemode, created_at, id);
DROP INDEX subscriptions_merchant;
CREATE INDEX subscriptions_merchant ON subscriptions(merchant_id, livemode, created_at, id);
DROP INDEX subscriptions_customer;
CREATE INDEX subscriptions_customer ON subscriptions(merchant_id, livemode, customer_id, created_at, id);
DROP INDEX invoices_merchant;
CREATE INDEX invoices_merchant ON invoices(merchant_id, livemode, created_at, id);
DROP INDEX invoices_subscription;
CREATE INDEX invoices_subscription ON invoices(merchant_id, livemode, subscription_id, created_at, id);
DROP INDEX invoices_customer;
CREATE INDEX invoices_customer ON invoices(merchant_id, livemode, customer_id, created_at, id);
DROP INDEX payment_intents_one_per_order;
CREATE UNIQUE INDEX payment_intents_one_per_order ON payment_intents(merchant_id, livemode, order_key)
    WHERE order_key IS NOT NULL
      AND status IN ('processing', 'requires_action', 'requires_capture', 'succeeded');

-- An idempotency key is the caller's, per mode: the same key sent with a test and a live key
-- names two different requests.
CREATE TABLE idempotency_keys_by_mode (
    merchant_id TEXT NOT NULL,
    livemode BIGINT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT,
    locked_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, livemode, idem_key)
);
INSERT INTO idempotency_keys_by_mode (merchant_id, livemode, idem_key, request_hash, state,
    response_status, response_body, locked_until, created_at)
SELECT merchant_id, 0, idem_key, request_hash, state, response_status, response_body,
    locked_until, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_by_mode RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
