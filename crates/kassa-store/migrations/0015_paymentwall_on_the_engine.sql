-- Paymentwall subscriptions run on the one subscription engine: a Paymentwall subscription is
-- a core subscription (its periods, retries, end and test clock) plus the face's own fields
-- (user, plan as the link described it, phase, payments, the status its pingbacks announced).
-- Its stored credential is a core payment method of a core customer. The retry schedule of a
-- project (`renewal_retry_seconds`) is a core retry policy in seconds.
ALTER TABLE pw_subscriptions ADD COLUMN subscription_id TEXT;
CREATE UNIQUE INDEX pw_subscriptions_core ON pw_subscriptions(subscription_id);
-- The old Paymentwall-only engine's schedule, lease and credential. Kassa had only its sandbox
-- processor before this migration: a subscription the old engine made keeps its fields and
-- bills no more (it has no core subscription).
DROP INDEX pw_subscriptions_due;
ALTER TABLE pw_subscriptions DROP COLUMN period_end;
ALTER TABLE pw_subscriptions DROP COLUMN next_attempt_at;
ALTER TABLE pw_subscriptions DROP COLUMN credential;
ALTER TABLE pw_subscriptions DROP COLUMN lease_until;
