-- Channels other than native webhooks render their request once, when the notification is
-- queued, so every retry sends the byte-identical request (Paymentwall pingbacks).
ALTER TABLE deliveries ADD COLUMN request_url TEXT;

-- Paymentwall-compatible projects: a merchant's project key, secret and settings.
CREATE TABLE pw_projects (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    name TEXT NOT NULL,
    project_key TEXT NOT NULL UNIQUE,
    secret_enc TEXT NOT NULL,
    api_type TEXT NOT NULL,
    pingback_url TEXT,
    pingback_sign_version BIGINT NOT NULL,
    widgets TEXT NOT NULL,
    payment_systems TEXT NOT NULL,
    test_method BIGINT NOT NULL,
    custom_pingback TEXT NOT NULL,
    frame_ancestors TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX pw_projects_merchant ON pw_projects(merchant_id);

-- A payment page opened from a signed link: what was asked for, and the core intent paying it.
CREATE TABLE pw_orders (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES pw_projects(id),
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    payment_intent_id TEXT NOT NULL UNIQUE REFERENCES payment_intents(id),
    uid TEXT NOT NULL,
    widget TEXT NOT NULL,
    params TEXT NOT NULL,
    product TEXT NOT NULL,
    ref TEXT UNIQUE,
    is_test BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX pw_orders_project ON pw_orders(project_id, created_at);
