-- Kassa core schema. Money is integer minor units; timestamps are Unix milliseconds (UTC).
CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_hash TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    kind TEXT NOT NULL,
    display TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_merchant ON api_keys(merchant_id);

CREATE TABLE payment_intents (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    capture_method TEXT NOT NULL,
    amount_capturable BIGINT NOT NULL,
    amount_received BIGINT NOT NULL,
    amount_refunded BIGINT NOT NULL,
    description TEXT,
    metadata TEXT NOT NULL,
    return_url TEXT,
    receipt_email TEXT,
    client_secret TEXT NOT NULL,
    checkout_token TEXT NOT NULL UNIQUE,
    last_payment_error TEXT,
    payment_method TEXT,
    next_action TEXT,
    processor_ref TEXT,
    canceled_at BIGINT,
    cancellation_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    CHECK (amount_refunded <= amount_received),
    CHECK (amount_received <= amount)
);
CREATE INDEX payment_intents_merchant_created ON payment_intents(merchant_id, created_at, id);

CREATE TABLE payment_attempts (
    id TEXT PRIMARY KEY,
    payment_intent_id TEXT NOT NULL REFERENCES payment_intents(id),
    status TEXT NOT NULL,
    payment_method TEXT,
    processor_ref TEXT,
    challenge_state TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payment_attempts_intent ON payment_attempts(payment_intent_id);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    payment_intent_id TEXT NOT NULL REFERENCES payment_intents(id),
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    metadata TEXT NOT NULL,
    processor_ref TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX refunds_merchant_created ON refunds(merchant_id, created_at, id);
CREATE INDEX refunds_intent ON refunds(payment_intent_id);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_merchant_created ON events(merchant_id, created_at, id);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    url TEXT NOT NULL,
    description TEXT,
    enabled_events TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    previous_secret_enc TEXT,
    previous_secret_expires_at BIGINT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints(merchant_id);

-- The outbox: one row per notification to send, claimed by workers with a lease.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    channel TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    status TEXT NOT NULL,
    attempt_count BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_status_code BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_event ON deliveries(event_id);

CREATE TABLE delivery_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries(id),
    attempt_number BIGINT NOT NULL,
    trigger TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    status_code BIGINT,
    latency_ms BIGINT NOT NULL,
    response_excerpt TEXT,
    error TEXT,
    UNIQUE (delivery_id, attempt_number)
);

CREATE TABLE idempotency_keys (
    merchant_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT,
    locked_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
