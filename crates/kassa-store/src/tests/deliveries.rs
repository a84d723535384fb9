//! The outbox: deliveries, their leases and their attempts.

use super::webhooks::{attempt, endpoint};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_and_manual_deliveries_and_their_attempts() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let ev = new_event(&a, EventType::PaymentIntentSucceeded, 10);
        let body = r#"{"obj":{"id":1},"type":"TRANSACTION"}"#;
        let mut tx = s.begin().await.unwrap();
        tx.insert_event(&ev, "pi_1").await.unwrap();
        let post = tx
            .insert_post_delivery(
                &a,
                Channel::PaymobCallback,
                "pmp_1",
                &ev.id,
                "https://shop.example/cb?hmac=x",
                body,
                10,
            )
            .await
            .unwrap();
        let manual = tx
            .insert_manual_delivery(&a, Channel::Webhook, "we_1", &ev.id, 20)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let d = s.delivery(&a, &post).await.unwrap().unwrap();
        assert_eq!(
            (
                d.channel,
                d.endpoint_id.as_str(),
                d.event_id.as_str(),
                d.status.as_str()
            ),
            (Channel::PaymobCallback, "pmp_1", ev.id.as_str(), "pending")
        );
        assert_eq!(
            d.request_url.as_deref(),
            Some("https://shop.example/cb?hmac=x")
        );
        assert_eq!(d.request_body.as_deref(), Some(body), "byte for byte");
        let md = s.delivery(&a, &manual).await.unwrap().unwrap();
        assert_eq!(
            (
                md.channel,
                md.status.as_str(),
                md.next_attempt_at,
                md.request_url
            ),
            (Channel::Webhook, "manual", 20, None)
        );
        // A manual delivery is never claimed; the POST one is.
        let claimed = s.claim_deliveries("w", 100, 1_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, post);
        assert_eq!(claimed[0].request_body.as_deref(), Some(body));
        assert_eq!(
            (claimed[0].lease_owner.as_deref(), claimed[0].lease_until),
            (Some("w"), Some(1_000))
        );
        assert_eq!(s.outbox_backlog(100).await.unwrap(), (1, 90));

        // A failed retry keeps the delivery pending at its next time, unleased.
        assert!(s
            .record_attempt(
                "w",
                &attempt(&post, 1, 100, Some(500)),
                DeliveryOutcome::Retry { at: 700 }
            )
            .await
            .unwrap());
        let d = s.delivery(&a, &post).await.unwrap().unwrap();
        assert_eq!(
            (
                d.status.as_str(),
                d.attempt_count,
                d.next_attempt_at,
                d.last_status_code
            ),
            ("pending", 1, 700, Some(500))
        );
        assert_eq!(
            (d.lease_owner, d.lease_until, d.updated_at),
            (None, None, 100)
        );
        // A manual resend that fails is numbered after the automatic attempts and leaves the
        // schedule alone.
        s.record_manual_attempt(&attempt(&post, 0, 200, None), false)
            .await
            .unwrap();
        let d = s.delivery(&a, &post).await.unwrap().unwrap();
        assert_eq!(
            (
                d.status.as_str(),
                d.attempt_count,
                d.next_attempt_at,
                d.last_status_code
            ),
            ("pending", 2, 700, None)
        );
        assert_eq!(d.updated_at, 200);
        // One that succeeds ends it.
        s.record_manual_attempt(&attempt(&post, 0, 300, Some(200)), true)
            .await
            .unwrap();
        let d = s.delivery(&a, &post).await.unwrap().unwrap();
        assert_eq!(
            (
                d.status.as_str(),
                d.attempt_count,
                d.last_status_code,
                d.updated_at
            ),
            ("succeeded", 3, Some(200), 300)
        );
        assert!(s
            .claim_deliveries("w", 800, 2_000, 10)
            .await
            .unwrap()
            .is_empty());
        let attempts = s.delivery_attempts(&post).await.unwrap();
        assert_eq!(
            attempts
                .iter()
                .map(|x| (x.attempt_number, x.started_at, x.status_code))
                .collect::<Vec<_>>(),
            [(1, 100, Some(500)), (2, 200, None), (3, 300, Some(200))]
        );
        assert_eq!(attempts[1].error.as_deref(), Some("connection refused"));
        assert_eq!(attempts[1].trigger, "manual");
        assert_eq!(attempts[1].latency_ms, 12);
        // The manual-only delivery: its first attempt is number 1, and a success ends it.
        s.record_manual_attempt(&attempt(&manual, 7, 400, Some(204)), true)
            .await
            .unwrap();
        let md = s.delivery(&a, &manual).await.unwrap().unwrap();
        assert_eq!((md.status.as_str(), md.attempt_count), ("succeeded", 1));
        assert_eq!(
            s.delivery_attempts(&manual).await.unwrap()[0].attempt_number,
            1
        );
        // Giving up ends a delivery as failed.
        let mut tx = s.begin().await.unwrap();
        let last = tx
            .insert_delivery(&a, Channel::Webhook, "we_1", &ev.id, 900)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.claim_deliveries("w", 900, 2_000, 10).await.unwrap().len(),
            1
        );
        assert!(s
            .record_attempt(
                "w",
                &attempt(&last, 1, 950, Some(410)),
                DeliveryOutcome::GaveUp
            )
            .await
            .unwrap());
        let d = s.delivery(&a, &last).await.unwrap().unwrap();
        assert_eq!((d.status.as_str(), d.next_attempt_at), ("failed", 900));
        assert_eq!(s.outbox_backlog(1_000).await.unwrap(), (0, 0));
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_leased_to_one_worker_until_its_lease_runs_out() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let ev = Event {
            id: kassa_core::ids::new_id("evt"),
            merchant_id: pi.merchant_id.clone(),
            livemode: pi.livemode,
            event_type: EventType::PaymentIntentSucceeded,
            object: serde_json::json!({}),
            created: 10,
        };
        let mut tx = s.begin().await.unwrap();
        tx.insert_event(&ev, &pi.id).await.unwrap();
        let d = tx
            .insert_delivery(&pi.scope(), Channel::Webhook, "we_x", &ev.id, 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let a = s.claim_deliveries("a", 100, 1_000, 10).await.unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].id, d);
        assert!(s
            .claim_deliveries("b", 200, 1_200, 10)
            .await
            .unwrap()
            .is_empty());
        // a dies; after its lease b takes over, and a can no longer record its attempt.
        let b = s.claim_deliveries("b", 1_001, 2_000, 10).await.unwrap();
        assert_eq!(b.len(), 1);
        let attempt = DeliveryAttempt {
            id: kassa_core::ids::new_id("atmpt"),
            delivery_id: d.clone(),
            attempt_number: 1,
            trigger: "automatic".into(),
            started_at: 1_100,
            status_code: Some(200),
            latency_ms: 3,
            response_excerpt: Some("ok".into()),
            error: None,
        };
        assert!(!s
            .record_attempt("a", &attempt, DeliveryOutcome::Succeeded)
            .await
            .unwrap());
        assert!(s
            .record_attempt("b", &attempt, DeliveryOutcome::Succeeded)
            .await
            .unwrap());
        assert!(s
            .claim_deliveries("c", 5_000, 6_000, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.delivery_attempts(&d).await.unwrap().len(), 1);
        cleanup(s, pg).await;
    }
}

/// A merchant's resend recorded while a worker is sending the same delivery: the worker's
/// attempt, numbered from what it claimed, is still recorded (after the resend's), not lost to
/// the attempt number the resend took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_attempt_recorded_after_a_resend_is_numbered_after_it() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let ev = new_event(&a, EventType::PaymentIntentSucceeded, 10);
        let mut tx = s.begin().await.unwrap();
        tx.insert_event(&ev, "pi_1").await.unwrap();
        let d = tx
            .insert_delivery(&a, Channel::Webhook, "we_1", &ev.id, 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let claimed = s.claim_deliveries("w", 100, 1_000, 10).await.unwrap();
        assert_eq!(claimed[0].attempt_count, 0);
        // The worker sends attempt 1; meanwhile the merchant resends, and fails.
        s.record_manual_attempt(&attempt(&d, 0, 150, Some(503)), false)
            .await
            .unwrap();
        let mut automatic = attempt(&d, claimed[0].attempt_count + 1, 200, Some(500));
        automatic.trigger = "automatic".into();
        assert!(s
            .record_attempt("w", &automatic, DeliveryOutcome::Retry { at: 700 })
            .await
            .unwrap());
        let attempts = s.delivery_attempts(&d).await.unwrap();
        assert_eq!(
            attempts
                .iter()
                .map(|x| (x.attempt_number, x.trigger.as_str()))
                .collect::<Vec<_>>(),
            [(1, "manual"), (2, "automatic")]
        );
        let got = s.delivery(&a, &d).await.unwrap().unwrap();
        assert_eq!(
            (got.status.as_str(), got.attempt_count, got.next_attempt_at),
            ("pending", 2, 700)
        );
        cleanup(s, pg).await;
    }
}

/// Two resends of one delivery at once each get their own attempt number (PostgreSQL runs them
/// concurrently; SQLite one after the other).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resends_of_one_delivery_are_numbered_one_after_the_other() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let ev = new_event(&a, EventType::PaymentIntentSucceeded, 10);
        let mut tx = s.begin().await.unwrap();
        tx.insert_event(&ev, "pi_1").await.unwrap();
        let d = tx
            .insert_manual_delivery(&a, Channel::Webhook, "we_1", &ev.id, 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Hold the delivery's row so both resends are under way before either finishes.
        let mut holder = s.begin().await.unwrap();
        sqlx::query("UPDATE deliveries SET updated_at = updated_at WHERE id = $1")
            .bind(&d)
            .execute(holder.conn())
            .await
            .unwrap();
        let resends: Vec<_> = [100, 200]
            .into_iter()
            .map(|at| {
                let (s, x) = (s.clone(), attempt(&d, 0, at, Some(500)));
                tokio::spawn(async move { s.record_manual_attempt(&x, false).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        holder.commit().await.unwrap();
        for r in resends {
            r.await.unwrap().unwrap();
        }
        let mut numbers: Vec<i64> = s
            .delivery_attempts(&d)
            .await
            .unwrap()
            .iter()
            .map(|x| x.attempt_number)
            .collect();
        numbers.sort();
        assert_eq!(numbers, [1, 2]);
        assert_eq!(s.delivery(&a, &d).await.unwrap().unwrap().attempt_count, 2);
        cleanup(s, pg).await;
    }
}

/// An endpoint deleted while a worker is sending to it: the worker's attempt is recorded, but
/// its retry does not bring the canceled delivery back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_canceled_while_in_flight_stays_canceled() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let ev = new_event(&a, EventType::PaymentIntentSucceeded, 10);
        let mut tx = s.begin().await.unwrap();
        tx.insert_endpoint(&endpoint(&a, "we_1", &["*"], "enabled", 1))
            .await
            .unwrap();
        tx.insert_event(&ev, "pi_1").await.unwrap();
        tx.commit().await.unwrap();
        let claimed = s.claim_deliveries("w", 100, 1_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let d = claimed[0].id.clone();
        // The endpoint is deleted while the worker waits for its answer.
        let mut tx = s.begin().await.unwrap();
        tx.update_endpoint(&endpoint(&a, "we_1", &["*"], "deleted", 1))
            .await
            .unwrap();
        tx.cancel_pending_deliveries("we_1", 150).await.unwrap();
        tx.commit().await.unwrap();
        let mut failed = attempt(&d, 1, 200, Some(500));
        failed.trigger = "automatic".into();
        assert!(s
            .record_attempt("w", &failed, DeliveryOutcome::Retry { at: 700 })
            .await
            .unwrap());
        let got = s.delivery(&a, &d).await.unwrap().unwrap();
        assert_eq!(
            (got.status.as_str(), got.attempt_count, got.lease_owner),
            ("canceled", 1, None)
        );
        assert_eq!(s.delivery_attempts(&d).await.unwrap().len(), 1);
        assert!(s
            .claim_deliveries("w", 5_000, 6_000, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.outbox_backlog(5_000).await.unwrap(), (0, 0));
        cleanup(s, pg).await;
    }
}
