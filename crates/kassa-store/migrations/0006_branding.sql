-- How a merchant's payer pages look. `scope` is 'merchant' for the merchant's own look, or
-- 'pw:<project id>' / 'pm:<profile id>' for a Paymentwall project's or a Paymob profile's; a
-- scope's NULL fields fall back to the merchant's. `accent_color` is '#rrggbb', already checked
-- for contrast.
CREATE TABLE brandings (
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    scope TEXT NOT NULL,
    display_name TEXT,
    accent_color TEXT,
    logo_id TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, scope)
);

-- Logos as Kassa re-encoded them (PNG, base64): never the uploaded bytes. Public by id.
CREATE TABLE logos (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    png_base64 TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX logos_merchant ON logos(merchant_id);
