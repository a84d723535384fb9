-- Paymentwall flows: project settings without a column of their own, what an order needs for
-- the payment page (country, method, the link it came from), risk review and subscriptions.
ALTER TABLE pw_projects ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

ALTER TABLE pw_orders ADD COLUMN link_hash TEXT;
ALTER TABLE pw_orders ADD COLUMN country TEXT;
ALTER TABLE pw_orders ADD COLUMN method TEXT;
ALTER TABLE pw_orders ADD COLUMN subscription_id TEXT;
-- When a held (risk review) payment is to be decided; NULL when none is pending.
ALTER TABLE pw_orders ADD COLUMN review_at BIGINT;
CREATE INDEX pw_orders_link ON pw_orders(project_id, link_hash);
CREATE INDEX pw_orders_review ON pw_orders(review_at);
CREATE INDEX pw_orders_uid ON pw_orders(project_id, uid);

-- A subscription bought through a signed link. Times are on the subscription's own clock:
-- real time plus `clock_offset_ms` (non-zero only when a test clock advanced it).
CREATE TABLE pw_subscriptions (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES pw_projects(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    initial_order_id TEXT NOT NULL REFERENCES pw_orders(id),
    uid TEXT NOT NULL,
    status TEXT NOT NULL,
    plan TEXT NOT NULL,
    phase TEXT NOT NULL,
    payments BIGINT NOT NULL,
    period_end BIGINT,
    next_attempt_at BIGINT,
    failed_attempts BIGINT NOT NULL,
    clock_offset_ms BIGINT NOT NULL,
    credential TEXT,
    is_test BIGINT NOT NULL,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX pw_subscriptions_due ON pw_subscriptions(status, next_attempt_at);
CREATE INDEX pw_subscriptions_project ON pw_subscriptions(project_id, created_at);

-- Delivery Confirmation API submissions, kept as received (minus nothing: they hold no secrets).
CREATE TABLE pw_delivery_confirmations (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES pw_projects(id),
    payment_ref TEXT NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX pw_delivery_confirmations_ref ON pw_delivery_confirmations(project_id, payment_ref, created_at);

-- SHA-256 of the project's secret key, to find the project the Delivery Confirmation API's
-- `X-ApiKey` (the secret itself) belongs to. The secret stays encrypted in `secret_enc`.
ALTER TABLE pw_projects ADD COLUMN secret_hash TEXT;
CREATE UNIQUE INDEX pw_projects_secret_hash ON pw_projects(secret_hash);
