-- An authorization waits for its capture for a window the face chose (native 7 days, Paymob
-- 14); `capture_before` is set while an intent is `requires_capture`, and the scheduler releases
-- the authorization when it passes. Authorizations waiting today get their deadline: Paymob's
-- from its transaction's auto-void time (a column this migration then drops), the others 7 days
-- after they were last changed.
ALTER TABLE payment_intents ADD COLUMN capture_window_ms BIGINT NOT NULL DEFAULT 604800000;
ALTER TABLE payment_intents ADD COLUMN capture_before BIGINT;
UPDATE payment_intents SET capture_window_ms = 1209600000
    WHERE id IN (SELECT intent_id FROM pm_transactions WHERE intent_id IS NOT NULL);
UPDATE payment_intents SET capture_before = updated_at + capture_window_ms
    WHERE status = 'requires_capture';
UPDATE payment_intents SET capture_before = (
        SELECT MIN(t.auto_void_at) FROM pm_transactions t
        WHERE t.intent_id = payment_intents.id AND t.auto_void_at IS NOT NULL)
    WHERE status = 'requires_capture' AND id IN (
        SELECT intent_id FROM pm_transactions WHERE auto_void_at IS NOT NULL);
-- Paymob's own timer is gone: the core's deadline replaces it.
DROP INDEX pm_transactions_auto_void;
ALTER TABLE pm_transactions DROP COLUMN auto_void_at;
CREATE INDEX payment_intents_capture_before ON payment_intents(capture_before)
    WHERE capture_before IS NOT NULL;
