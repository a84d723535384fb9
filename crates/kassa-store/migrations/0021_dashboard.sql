-- The merchant dashboard: its users, their second factor, server-side sessions, single-use
-- links, login throttling, and the audit log every configuration change and money action
-- writes in its own transaction.

-- A dashboard user belongs to one merchant. `password_hash` is an Argon2id PHC string, NULL
-- until the user sets it through their single-use link; `totp_secret_enc` is sealed under the
-- master key. `totp_last_step` is the last time step accepted, so a code is never accepted twice.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    password_hash TEXT,
    totp_secret_enc TEXT,
    totp_enabled_at BIGINT,
    totp_last_step BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users(email);
CREATE INDEX users_merchant ON users(merchant_id, created_at, id);

-- Single-use links (account set-up, invitations): only the token's SHA-256 is kept.
CREATE TABLE user_links (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX user_links_user ON user_links(user_id);

-- Recovery codes for a lost authenticator: SHA-256 of each, each usable once.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Sessions live here, not in the cookie: the cookie holds a random token, the table its
-- SHA-256, so a session can be revoked and a stolen database holds no usable cookie.
-- `second_factor` is 0 while a user with TOTP has given only the password; `reauth_at` is the
-- last time the user re-entered the password (step-up for keys, secrets, roles, live refunds).
CREATE TABLE dashboard_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    second_factor BIGINT NOT NULL,
    csrf_secret TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    reauth_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions(user_id, created_at);

-- Failed logins, counted per e-mail and address over a window (any node sees every failure).
CREATE TABLE login_failures (
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_email ON login_failures(email, at);

-- Who changed what: written in the same transaction as the change. `changes` is a JSON object
-- of field -> new value with every secret left out.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    livemode BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    actor_label TEXT,
    ip TEXT,
    user_agent TEXT,
    request_id TEXT,
    action TEXT NOT NULL,
    target TEXT,
    changes TEXT NOT NULL
);
CREATE INDEX audit_log_merchant ON audit_log(merchant_id, at, id);

-- API keys get an id to name them by (the dashboard lists, rolls and revokes them), a name, an
-- expiry (a rolled key keeps working until then) and the time of last use.
ALTER TABLE api_keys ADD COLUMN id TEXT;
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
UPDATE api_keys SET id = 'key_' || substr(key_hash, 1, 24);
CREATE UNIQUE INDEX api_keys_id ON api_keys(id);
DROP INDEX api_keys_merchant;
CREATE INDEX api_keys_merchant ON api_keys(merchant_id, livemode, created_at);

-- A payment's page lists the events of the payment and of its refunds.
CREATE INDEX events_object ON events(object_id, created_at);
-- The home page's checklist and failing-endpoint count read deliveries by merchant and status.
CREATE INDEX deliveries_merchant_status ON deliveries(merchant_id, livemode, status);
