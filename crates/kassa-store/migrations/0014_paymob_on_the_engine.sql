-- Paymob subscriptions run on the one subscription engine: a Paymob subscription is a core
-- subscription (its schedule, retries, end and test clock) plus the Paymob face's own fields
-- (plan, client info, callback URL, initial transaction) kept in `pm_subscriptions.doc`. A saved
-- Paymob card is a core payment method of a core customer. A subscription can end by itself at
-- `cancel_at` (Paymob's `ends_at`, or its plan's number of deductions).
ALTER TABLE subscriptions ADD COLUMN cancel_at BIGINT;
ALTER TABLE pm_card_tokens ADD COLUMN customer_id TEXT;
ALTER TABLE pm_card_tokens ADD COLUMN payment_method_id TEXT;
ALTER TABLE pm_subscriptions ADD COLUMN subscription_id TEXT;
CREATE UNIQUE INDEX pm_subscriptions_core ON pm_subscriptions(subscription_id);
-- The old Paymob-only engine's schedule, lease and clock. Kassa had only its sandbox processor
-- before this migration: a subscription the old engine made keeps its Paymob fields and shows
-- as ended (it has no core subscription to bill it).
DROP INDEX pm_subscriptions_due;
ALTER TABLE pm_subscriptions DROP COLUMN state;
ALTER TABLE pm_subscriptions DROP COLUMN next_billing_at;
ALTER TABLE pm_subscriptions DROP COLUMN leased_until;
ALTER TABLE pm_subscriptions DROP COLUMN clock_offset_ms;
