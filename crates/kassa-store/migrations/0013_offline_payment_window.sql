-- An offline payment (a cash voucher, a kiosk reference) is payable for a window the face chose
-- (Paymentwall 72 hours, Paymob 48); `pay_before` is set while one is pending, and the scheduler
-- declines it as `voucher_expired` when it passes. Vouchers pending today get their deadline
-- from when their attempt began.
ALTER TABLE payment_intents ADD COLUMN voucher_window_ms BIGINT NOT NULL DEFAULT 259200000;
ALTER TABLE payment_intents ADD COLUMN pay_before BIGINT;
UPDATE payment_intents SET voucher_window_ms = 172800000
    WHERE id IN (SELECT intent_id FROM pm_transactions WHERE intent_id IS NOT NULL);
UPDATE payment_intents SET pay_before = (
        SELECT MAX(a.created_at) FROM payment_attempts a
        WHERE a.payment_intent_id = payment_intents.id AND a.status = 'requires_action'
          AND a.challenge_state LIKE 'voucher:%') + voucher_window_ms
    WHERE status = 'requires_action' AND id IN (
        SELECT payment_intent_id FROM payment_attempts
        WHERE status = 'requires_action' AND challenge_state LIKE 'voucher:%');
CREATE INDEX payment_intents_pay_before ON payment_intents(pay_before)
    WHERE pay_before IS NOT NULL;
