-- One subscription engine: subscriptions bill their customer once per period with an invoice
-- paid by an off-session charge; the scheduler claims due subscriptions with a lease. Test
-- clocks stand in for the wall clock for the customers attached to them.
CREATE TABLE test_clocks (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    name TEXT,
    frozen_time BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX test_clocks_merchant ON test_clocks(merchant_id, created_at, id);
ALTER TABLE customers ADD COLUMN test_clock TEXT;

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    customer_id TEXT NOT NULL,
    test_clock TEXT,
    status TEXT NOT NULL,
    default_payment_method TEXT,
    items TEXT NOT NULL,
    currency TEXT NOT NULL,
    billing_cycle_anchor BIGINT NOT NULL,
    cycle BIGINT NOT NULL,
    current_period_start BIGINT NOT NULL,
    current_period_end BIGINT NOT NULL,
    trial_start BIGINT,
    trial_end BIGINT,
    trial_will_end_sent BIGINT NOT NULL,
    cancel_at_period_end BIGINT NOT NULL,
    canceled_at BIGINT,
    ended_at BIGINT,
    latest_invoice TEXT,
    retry_at BIGINT,
    retry_policy TEXT NOT NULL,
    metadata TEXT NOT NULL,
    next_action_at BIGINT,
    leased_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX subscriptions_merchant ON subscriptions(merchant_id, created_at, id);
CREATE INDEX subscriptions_customer ON subscriptions(merchant_id, customer_id, created_at, id);
CREATE INDEX subscriptions_due ON subscriptions(next_action_at) WHERE next_action_at IS NOT NULL;
CREATE INDEX subscriptions_clock ON subscriptions(test_clock, next_action_at)
    WHERE test_clock IS NOT NULL;

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    customer_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_due BIGINT NOT NULL,
    amount_paid BIGINT NOT NULL,
    lines TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    billing_reason TEXT NOT NULL,
    attempt_count BIGINT NOT NULL,
    payment_intent TEXT,
    created_at BIGINT NOT NULL,
    paid_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX invoices_merchant ON invoices(merchant_id, created_at, id);
CREATE INDEX invoices_subscription ON invoices(merchant_id, subscription_id, created_at, id);
CREATE INDEX invoices_customer ON invoices(merchant_id, customer_id, created_at, id);
