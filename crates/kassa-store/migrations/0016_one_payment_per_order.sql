-- One successful payment per order, held by the database: the payments of an order that takes
-- one payment carry its key, and at most one of them may be in a status that holds the order
-- (paid, authorised, being decided, or waiting for its customer). A second process racing to
-- pay the same order fails on this index instead of charging twice.
ALTER TABLE payment_intents ADD COLUMN order_key TEXT;
-- Paymob orders made by an intention took one payment before this migration too (the face
-- kept the rule): their paid payment, one per order, gets the order's key.
UPDATE payment_intents SET order_key = (
    SELECT 'paymob:' || CAST(t.order_id AS TEXT) FROM pm_transactions t
    WHERE t.intent_id = payment_intents.id AND t.parent_id IS NULL
)
WHERE status IN ('succeeded', 'requires_capture')
  AND id IN (
    SELECT MIN(t.intent_id) FROM pm_transactions t
    JOIN pm_orders o ON o.id = t.order_id
    JOIN payment_intents p ON p.id = t.intent_id
    WHERE t.parent_id IS NULL AND o.intention_id IS NOT NULL
      AND p.status IN ('succeeded', 'requires_capture')
    GROUP BY t.order_id
  );
CREATE UNIQUE INDEX payment_intents_one_per_order ON payment_intents(merchant_id, order_key)
    WHERE order_key IS NOT NULL
      AND status IN ('processing', 'requires_action', 'requires_capture', 'succeeded');
