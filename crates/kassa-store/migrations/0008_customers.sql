-- Customers of a merchant (the native API's /v1/customers): contact fields a merchant keeps so
-- payments, saved payment methods and subscriptions can name who pays.
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    email TEXT,
    name TEXT,
    phone TEXT,
    description TEXT,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX customers_merchant_created ON customers(merchant_id, created_at, id);
CREATE INDEX customers_merchant_email ON customers(merchant_id, email, created_at, id);
