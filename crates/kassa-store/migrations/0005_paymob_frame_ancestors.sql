-- Where a Paymob profile's pages (unified checkout, Pixel's card frame, the 3-D Secure and
-- wallet pages, the legacy iframe, the payment status page) may be framed: the CSP
-- `frame-ancestors` source list. NULL means 'none'.
ALTER TABLE pm_profiles ADD COLUMN frame_ancestors TEXT;
