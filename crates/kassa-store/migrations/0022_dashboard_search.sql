-- The dashboard's payment list filters a merchant's payments and pages through them newest
-- first; every filter gets an index that leads with (merchant, mode) so one merchant's million
-- payments are never read to show a page of them.

-- The last four digits of the card (or of the wallet's phone number) that paid, copied out of
-- the `payment_method` JSON so it can be searched and indexed; NULL when the payment has none.
-- The store writes it with every payment, from the same description as `payment_method`.
ALTER TABLE payment_intents ADD COLUMN card_last4 TEXT;

-- Which API made the payment: 'native', 'paymentwall' or 'paymob'. The store writes it when it
-- writes a new payment; it never changes. Finding it when listing instead (a Paymob payment is
-- one that has a Paymob transaction) costs a lookup per payment read, and a merchant with few
-- or no payments of a face has its whole list read to fill one page.
ALTER TABLE payment_intents ADD COLUMN face TEXT NOT NULL DEFAULT 'native';
-- Every Paymentwall payment carries its order's key; every Paymob payment has its transaction
-- (an order key only if its order takes one payment, and before 0016 only once paid).
UPDATE payment_intents SET face = 'paymentwall' WHERE order_key LIKE 'paymentwall:%';
UPDATE payment_intents SET face = 'paymob'
    WHERE id IN (SELECT intent_id FROM pm_transactions WHERE intent_id IS NOT NULL);

-- Payments stored before this migration get it from their JSON. The two databases share no
-- JSON or string-search function, so each of the four digits is found with LIKE against the
-- ten possible digits (serde_json writes the description compactly: `"last4":"4242"`). A
-- description without four digits there keeps NULL.
CREATE TABLE dashboard_digits (d TEXT NOT NULL);
INSERT INTO dashboard_digits (d) VALUES
    ('0'), ('1'), ('2'), ('3'), ('4'), ('5'), ('6'), ('7'), ('8'), ('9');
UPDATE payment_intents SET card_last4 =
       (SELECT d FROM dashboard_digits WHERE payment_method LIKE ('%"last4":"' || d || '___"%'))
    || (SELECT d FROM dashboard_digits WHERE payment_method LIKE ('%"last4":"_' || d || '__"%'))
    || (SELECT d FROM dashboard_digits WHERE payment_method LIKE ('%"last4":"__' || d || '_"%'))
    || (SELECT d FROM dashboard_digits WHERE payment_method LIKE ('%"last4":"___' || d || '"%'))
WHERE payment_method LIKE '%"last4":"____"%';
DROP TABLE dashboard_digits;

-- Filters that name one value keep the list's order in the index, so a page is read in order
-- however rare the value is.
CREATE INDEX payment_intents_status_created
    ON payment_intents(merchant_id, livemode, status, created_at, id);
CREATE INDEX payment_intents_currency_created
    ON payment_intents(merchant_id, livemode, currency, created_at, id);
CREATE INDEX payment_intents_face_created
    ON payment_intents(merchant_id, livemode, face, created_at, id);
CREATE INDEX payment_intents_customer_created
    ON payment_intents(merchant_id, livemode, customer_id, created_at, id)
    WHERE customer_id IS NOT NULL;
CREATE INDEX payment_intents_last4_created
    ON payment_intents(merchant_id, livemode, card_last4, created_at, id)
    WHERE card_last4 IS NOT NULL;
-- A narrow amount range is found here and sorted; a wide one is read in date order instead.
CREATE INDEX payment_intents_amount ON payment_intents(merchant_id, livemode, amount);
-- E-mail addresses are matched without regard to case. Not partial: PostgreSQL estimates how
-- many rows match an expression only from a whole-table index on it, and a guess of 0.5 % of a
-- million payments made it read them all in date order instead of using this index.
CREATE INDEX payment_intents_receipt_email
    ON payment_intents(merchant_id, livemode, lower(receipt_email));
CREATE INDEX customers_merchant_email_lower ON customers(merchant_id, livemode, lower(email));

-- Looking a payment up by an id the merchant holds needs no index of its own: each id is a
-- primary key or unique already (Paymob's merchant order id through the merchant's profiles,
-- by the (profile_id, merchant_order_id) index).
