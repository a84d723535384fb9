-- The dashboard's delivery log and event log (Developers › Webhooks and Events).

-- One endpoint's deliveries, newest first (the log, and the health figure over its last 50).
CREATE INDEX deliveries_endpoint_created ON deliveries(endpoint_id, created_at, id);
-- One endpoint's deliveries of one outcome, newest first; also what the failing count and the
-- bulk resend of failed deliveries in a time range read.
CREATE INDEX deliveries_endpoint_status ON deliveries(endpoint_id, status, created_at, id);
-- The event log filtered by type keeps its order in the index, however rare the type.
CREATE INDEX events_merchant_type_created ON events(merchant_id, livemode, type, created_at, id);
