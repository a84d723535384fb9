//! Data migrations keep what was stored.

use super::*;

/// The migrations that turn markers and timers into core columns keep what was there: a store
/// (SQLite, and PostgreSQL when named) migrated up to 0006 holds a refund marked as a Paymob void, a Paymentwall chargeback, a plain
/// refund and an authorization waiting for its capture; after 0007 and 0009 they read back with
/// their kinds and the authorization with its 7-day deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_migrations_keep_refund_kinds_and_payment_deadlines() {
    for (s, pg, _dir) in stores_at(false).await {
        let dir = tempfile::tempdir().unwrap();
        // Every migration before 0007 and 0009, from a copy of the directory.
        let early = dir.path().join("early");
        std::fs::create_dir(&early).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.as_str() < "0007" {
                std::fs::copy(&path, early.join(&name)).unwrap();
            }
        }
        sqlx::migrate::Migrator::new(early.as_path())
            .await
            .unwrap()
            .run(&s.writer)
            .await
            .unwrap();
        // Rows as the schema before 0007 had them (the current code writes newer columns).
        let m = "acct_migrated".to_string();
        let day = 86_400_000_i64;
        sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, 'm', 1)")
            .bind(&m)
            .execute(&s.writer)
            .await
            .unwrap();
        for (id, status, updated) in [
            ("pi_paid", "succeeded", 1),
            ("pi_held", "requires_capture", 10 * day),
            ("pi_voucher", "requires_action", 5 * day),
        ] {
            sqlx::query(
                "INSERT INTO payment_intents (id, merchant_id, amount, currency, status, \
                 capture_method, amount_capturable, amount_received, amount_refunded, metadata, \
                 client_secret, checkout_token, processor_ref, created_at, updated_at, version) \
                 VALUES ($1, $2, 5000, 'usd', $3, 'manual', 0, 5000, 0, '{}', $4, $5, 'sbx_x', 1, $6, 0)",
            )
            .bind(id)
            .bind(&m)
            .bind(status)
            .bind(format!("{id}_secret"))
            .bind(format!("cs_{id}"))
            .bind(updated)
            .execute(&s.writer)
            .await
            .unwrap();
        }
        for (id, reason, metadata) in [
            ("re_void", "requested_by_customer", r#"{"paymob_void":"1"}"#),
            ("re_cb", "fraudulent", r#"{"paymentwall_reason":"1"}"#),
            ("re_plain", "requested_by_customer", r#"{"order":"7"}"#),
        ] {
            sqlx::query(
                "INSERT INTO refunds (id, merchant_id, payment_intent_id, amount, currency, status, \
                 reason, metadata, processor_ref, created_at) \
                 VALUES ($1, $2, $3, 100, 'usd', 'succeeded', $4, $5, NULL, 1)",
            )
            .bind(id)
            .bind(&m)
            .bind("pi_paid")
            .bind(reason)
            .bind(metadata)
            .execute(&s.writer)
            .await
            .unwrap();
        }
        // A voucher waiting for its cash since day 5 (0013 gives it its payment deadline).
        sqlx::query(
            "INSERT INTO payment_attempts (id, payment_intent_id, status, payment_method, \
             processor_ref, challenge_state, error, created_at, updated_at) VALUES \
             ('pa_v', 'pi_voucher', 'requires_action', NULL, 'sbx_x', 'voucher:123456789012', \
             NULL, $1, $1)",
        )
        .bind(5 * day)
        .execute(&s.writer)
        .await
        .unwrap();
        s.migrate().await.unwrap();
        let m = Scope::test(m);
        let voucher = s.intent(&m, "pi_voucher").await.unwrap().unwrap();
        assert_eq!(voucher.voucher_window_ms, 3 * day);
        assert_eq!(voucher.pay_before, Some(8 * day));
        assert_eq!(
            s.intent(&m, "pi_held").await.unwrap().unwrap().pay_before,
            None
        );
        use kassa_core::intent::RefundKind;
        let kind = |id: &'static str| {
            let s = &s;
            let m = &m;
            async move { s.refund(m, id).await.unwrap().unwrap().kind }
        };
        assert_eq!(kind("re_void").await, RefundKind::Void);
        assert_eq!(kind("re_cb").await, RefundKind::Chargeback { reason: 1 });
        assert_eq!(kind("re_plain").await, RefundKind::Refund);
        let held = s.intent(&m, "pi_held").await.unwrap().unwrap();
        assert_eq!(held.capture_window_ms, 7 * day);
        assert_eq!(held.capture_before, Some(17 * day));
        let paid = s.intent(&m, "pi_paid").await.unwrap().unwrap();
        assert_eq!(paid.capture_before, None);
        s.close().await;
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0016_gives_paid_intention_orders_their_key_once() {
    for (s, pg, _dir) in stores_at(false).await {
        let dir = tempfile::tempdir().unwrap();
        let early = dir.path().join("early");
        std::fs::create_dir(&early).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.as_str() < "0016" {
                std::fs::copy(&path, early.join(&name)).unwrap();
            }
        }
        sqlx::migrate::Migrator::new(early.as_path())
            .await
            .unwrap()
            .run(&s.writer)
            .await
            .unwrap();
        let exec = |sql: &'static str| {
            let w = s.writer.clone();
            async move { sqlx::query(sql).execute(&w).await.unwrap() }
        };
        exec("INSERT INTO merchants (id, name, created_at) VALUES ('acct_m', 'm', 1)").await;
        exec(
            "INSERT INTO pm_profiles (id, merchant_id, country, live, secret_key_hash, public_key, \
             api_key_hash, hmac_enc, iframe_id, doc, created_at) \
             VALUES (1, 'acct_m', 'EGY', 0, 'sk', 'pk', 'ak', 'h', 1, '{}', 1)",
        )
        .await;
        // Order 10 (an intention's): an abandoned attempt and a paid one. Order 20 (legacy, no
        // intention, may be paid more than once): two paid payments.
        exec(
            "INSERT INTO pm_orders (id, profile_id, intention_id, doc, created_at, updated_at) \
             VALUES (10, 1, 'pi_x', '{}', 1, 1), (20, 1, NULL, '{}', 1, 1)",
        )
        .await;
        for (id, status, order, txn) in [
            ("pi_a", "canceled", 10, 1),
            ("pi_b", "succeeded", 10, 2),
            ("pi_c", "succeeded", 20, 3),
            ("pi_d", "succeeded", 20, 4),
        ] {
            sqlx::query(
                "INSERT INTO payment_intents (id, merchant_id, amount, currency, status, \
                 capture_method, amount_capturable, amount_received, amount_refunded, metadata, \
                 client_secret, checkout_token, processor_ref, created_at, updated_at, version) \
                 VALUES ($1, 'acct_m', 5000, 'egp', $2, 'automatic', 0, 5000, 0, '{}', $1, $1, \
                 'sbx_x', 1, 1, 0)",
            )
            .bind(id)
            .bind(status)
            .execute(&s.writer)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO pm_transactions (id, profile_id, order_id, intent_id, kind, obj, \
                 extra, created_at, updated_at) VALUES ($1, 1, $2, $3, 'payment', '{}', '{}', 1, 1)",
            )
            .bind(txn as i64)
            .bind(order as i64)
            .bind(id)
            .execute(&s.writer)
            .await
            .unwrap();
        }
        s.migrate().await.unwrap();
        let m = &Scope::test("acct_m");
        let keyed: Vec<String> = s
            .intents_of_order(m, "paymob:10")
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(keyed, ["pi_b"], "the paid payment of the intention's order");
        assert!(s.intents_of_order(m, "paymob:20").await.unwrap().is_empty());
        cleanup(s, pg).await;
    }
}
