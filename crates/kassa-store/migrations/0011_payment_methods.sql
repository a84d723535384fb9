-- Saved payment methods (the native API's /v1/payment_methods): the processor's reference to a
-- stored card credential and the card's safe description, attached to a customer until detached.
-- A payment names its customer and whether it saves its card.
CREATE TABLE payment_methods (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    customer_id TEXT,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,
    processor_ref TEXT NOT NULL,
    source_payment TEXT,
    usage TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    detached_at BIGINT
);
CREATE INDEX payment_methods_customer ON payment_methods(merchant_id, customer_id, created_at, id);
ALTER TABLE payment_intents ADD COLUMN customer_id TEXT;
ALTER TABLE payment_intents ADD COLUMN setup_future_usage TEXT;
