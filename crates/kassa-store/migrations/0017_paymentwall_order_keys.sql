-- A Paymentwall order takes one payment (its intent, unique per order): the intent carries the
-- order's key, which is also how the Paymentwall face knows its payments without a lookup.
UPDATE payment_intents SET order_key = (
    SELECT 'paymentwall:' || o.id FROM pw_orders o WHERE o.payment_intent_id = payment_intents.id
)
WHERE id IN (SELECT payment_intent_id FROM pw_orders);
