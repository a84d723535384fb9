-- A held authorization's risk review belongs to the payment, whatever face made it: the delay
-- before asking for the verdict (a Paymentwall project's setting, else 2 minutes) and when to
-- ask next. Reviews Paymentwall orders were waiting for carry over; the order's own timer goes.
ALTER TABLE payment_intents ADD COLUMN review_delay_ms BIGINT NOT NULL DEFAULT 120000;
ALTER TABLE payment_intents ADD COLUMN review_at BIGINT;
UPDATE payment_intents SET review_at = (
        SELECT MIN(o.review_at) FROM pw_orders o WHERE o.payment_intent_id = payment_intents.id)
    WHERE status = 'requires_capture' AND id IN (
        SELECT payment_intent_id FROM pw_orders WHERE review_at IS NOT NULL);
DROP INDEX pw_orders_review;
ALTER TABLE pw_orders DROP COLUMN review_at;
CREATE INDEX payment_intents_review_at ON payment_intents(review_at)
    WHERE review_at IS NOT NULL;
