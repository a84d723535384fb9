-- A refund's kind: `refund`, `void` (a captured payment cancelled whole before it settled) or
-- `chargeback` with the bank's reason code. It used to travel as metadata markers
-- (`paymob_void`, `paymentwall_reason`) that a merchant could also set through the API; refunds
-- Kassa made that way before keep their kind.
ALTER TABLE refunds ADD COLUMN kind TEXT NOT NULL DEFAULT 'refund';
ALTER TABLE refunds ADD COLUMN chargeback_reason BIGINT;
UPDATE refunds SET kind = 'void' WHERE metadata LIKE '%"paymob_void":"1"%';
UPDATE refunds SET kind = 'chargeback', chargeback_reason = 1
    WHERE metadata LIKE '%"paymentwall_reason":"1"%' AND reason = 'fraudulent';
