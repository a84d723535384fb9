-- Paymentwall projects get a live key pair beside the test one, as Paymentwall's own projects
-- have: a live project key (32 hex, like the test key), its secret key sealed under the master
-- key and the secret's SHA-256 for the secret-key APIs (`X-ApiKey`). The pair is made when a
-- project is created; a project from before this migration has none (NULL) until the merchant
-- asks for one (`POST /v1/paymentwall/projects/{id}/live_keys`): the migration cannot seal a
-- secret, it has no master key. A live order's pingbacks go to `live_pingback_url`, else to
-- `pingback_url` (one URL for both modes, as on Paymentwall).
ALTER TABLE pw_projects ADD COLUMN live_project_key TEXT;
ALTER TABLE pw_projects ADD COLUMN live_secret_enc TEXT;
ALTER TABLE pw_projects ADD COLUMN live_secret_hash TEXT;
ALTER TABLE pw_projects ADD COLUMN live_pingback_url TEXT;
CREATE UNIQUE INDEX pw_projects_live_project_key ON pw_projects(live_project_key)
    WHERE live_project_key IS NOT NULL;
CREATE UNIQUE INDEX pw_projects_live_secret_hash ON pw_projects(live_secret_hash)
    WHERE live_secret_hash IS NOT NULL;

-- The mode of an order and of a subscription: the key that signed the link. Everything that
-- exists was opened with the test key. (`is_test` stays Paymentwall's own flag: the Test
-- method, `test_mode=1` or `evaluation=1`.)
ALTER TABLE pw_orders ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pw_subscriptions ADD COLUMN livemode BIGINT NOT NULL DEFAULT 0;
DROP INDEX pw_orders_link;
CREATE INDEX pw_orders_link ON pw_orders(project_id, livemode, link_hash);
DROP INDEX pw_orders_uid;
CREATE INDEX pw_orders_uid ON pw_orders(project_id, livemode, uid);
