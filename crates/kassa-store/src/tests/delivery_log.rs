//! The dashboard's delivery log, endpoint health, event log by type and the re-queueing of
//! failed deliveries: each scoped to one merchant and mode.

use super::webhooks::{attempt, endpoint};
use super::*;

/// Endpoint `we_a` of merchant a with deliveries created at 10 (failed), 20 (succeeded,
/// `refund.created`), 30 (retrying, next try at 5000), 40 (not tried) and 50 (failed); merchant
/// b's endpoint with one failed delivery. Returns (a, b, delivery ids of a by creation time).
async fn log_fixture(s: &Store) -> (Scope, Scope, Vec<String>) {
    let a = new_merchant(s, "a").await;
    let b = new_merchant(s, "b").await;
    let mut tx = s.begin().await.unwrap();
    tx.insert_endpoint(&endpoint(&a, "we_a", &["*"], "enabled", 1))
        .await
        .unwrap();
    tx.insert_endpoint(&endpoint(&b, "we_b", &["*"], "enabled", 1))
        .await
        .unwrap();
    for at in [10, 20, 30, 50] {
        let ty = if at == 20 {
            EventType::RefundCreated
        } else {
            EventType::PaymentIntentSucceeded
        };
        tx.insert_event(&new_event(&a, ty, at), "obj")
            .await
            .unwrap();
    }
    tx.insert_event(&new_event(&b, EventType::PaymentIntentSucceeded, 10), "obj")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for d in s.claim_deliveries("w", 1_000, 2_000, 100).await.unwrap() {
        let outcome = match (d.merchant_id == a.merchant_id, d.created_at) {
            (true, 20) => DeliveryOutcome::Succeeded,
            (true, 30) => DeliveryOutcome::Retry { at: 5_000 },
            _ => DeliveryOutcome::GaveUp,
        };
        let code = if outcome == DeliveryOutcome::Succeeded {
            200
        } else {
            500
        };
        assert!(s
            .record_attempt("w", &attempt(&d.id, 1, 1_000, Some(code)), outcome)
            .await
            .unwrap());
    }
    let mut tx = s.begin().await.unwrap();
    tx.insert_event(&new_event(&a, EventType::PaymentIntentSucceeded, 40), "obj")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all = s
        .endpoint_deliveries(&a, "we_a", None, None, 100, None)
        .await
        .unwrap()
        .unwrap();
    let mut ids: Vec<(i64, String)> = all.into_iter().map(|d| (d.created_at, d.id)).collect();
    ids.sort();
    (a, b, ids.into_iter().map(|(_, id)| id).collect())
}

fn ids(ds: &[Delivery]) -> Vec<&str> {
    ds.iter().map(|d| d.id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_filters_by_outcome_and_event_and_pages_newest_first() {
    for (s, pg, _dir) in stores().await {
        let (a, b, d) = log_fixture(&s).await;
        assert_eq!(d.len(), 5);
        let page = |o, ev: Option<String>, limit, after: Option<String>| {
            let (s, a) = (s.clone(), a.clone());
            async move {
                s.endpoint_deliveries(&a, "we_a", o, ev.as_deref(), limit, after.as_deref())
                    .await
                    .unwrap()
            }
        };
        let failed = page(Some(LogOutcome::Failed), None, 10, None)
            .await
            .unwrap();
        assert_eq!(
            ids(&failed),
            [d[4].as_str(), d[2].as_str(), d[0].as_str()],
            "given up and retrying"
        );
        let ok = page(Some(LogOutcome::Succeeded), None, 10, None)
            .await
            .unwrap();
        assert_eq!(ids(&ok), [d[1].as_str()]);
        let pending = page(Some(LogOutcome::Pending), None, 10, None)
            .await
            .unwrap();
        assert_eq!(ids(&pending), [d[3].as_str()]);
        let one = page(None, Some(failed[0].event_id.clone()), 10, None)
            .await
            .unwrap();
        assert_eq!(ids(&one), [d[4].as_str()]);
        // Keyset pages: two, then the next two after the last one.
        let first = page(None, None, 2, None).await.unwrap();
        assert_eq!(ids(&first), [d[4].as_str(), d[3].as_str()]);
        let next = page(None, None, 2, Some(d[3].clone())).await.unwrap();
        assert_eq!(ids(&next), [d[2].as_str(), d[1].as_str()]);
        // Another merchant's delivery is no cursor, and its endpoint shows nothing here.
        let theirs = s
            .endpoint_deliveries(&b, "we_b", None, None, 10, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(theirs.len(), 1);
        assert!(page(None, None, 2, Some(theirs[0].id.clone()))
            .await
            .is_none());
        let cross = s
            .endpoint_deliveries(&a, "we_b", None, None, 10, None)
            .await
            .unwrap()
            .unwrap();
        assert!(cross.is_empty());
        let live = Scope::live(a.merchant_id.clone());
        let other_mode = s
            .endpoint_deliveries(&live, "we_a", None, None, 10, None)
            .await
            .unwrap()
            .unwrap();
        assert!(other_mode.is_empty());

        // Health: 1 of the 4 tried succeeded; 3 failing (the untried one is neither).
        let h = s.endpoint_health(&a, "we_a").await.unwrap();
        assert_eq!((h.recent, h.recent_succeeded, h.failing), (4, 1, 3));
        assert_eq!(
            s.endpoint_health(&b, "we_a").await.unwrap(),
            EndpointHealth::default()
        );

        // Attempts come only for the scope's deliveries.
        let mut asked = d.clone();
        asked.push(theirs[0].id.clone());
        let attempts = s.attempts_of_deliveries(&a, &asked).await.unwrap();
        assert_eq!(attempts.len(), 4, "four tried deliveries of a");
        assert!(!attempts.contains_key(&theirs[0].id));
        assert_eq!(attempts[d[0].as_str()][0].status_code, Some(500));

        // The event log by type.
        let refunds = s
            .events_of_type(&a, Some("refund.created"), 10, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refunds.len(), 1);
        let all = s.events_of_type(&a, None, 10, None).await.unwrap().unwrap();
        assert_eq!(all.len(), 5);
        assert!(
            all.windows(2).all(|w| w[0].created >= w[1].created),
            "newest first"
        );
        let after = s
            .events_of_type(&a, Some("payment_intent.succeeded"), 10, Some(&all[0].id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.len(), 3);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_queued_again_oldest_first_up_to_the_limit() {
    for (s, pg, _dir) in stores().await {
        let (a, b, d) = log_fixture(&s).await;
        let requeue = |scope: Scope, from, to, limit| {
            let s = s.clone();
            async move {
                let mut tx = s.begin().await.unwrap();
                let r = tx
                    .requeue_failed_deliveries(&scope, "we_a", from, to, limit, 1_000)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                r
            }
        };
        // Another merchant or mode re-queues nothing of a's.
        assert!(requeue(b.clone(), 0, 100, 10).await.ids.is_empty());
        assert!(requeue(Scope::live(a.merchant_id.clone()), 0, 100, 10)
            .await
            .ids
            .is_empty());
        // Three failed (10 and 50 gave up, 30 retries at 5000): the two oldest, more left.
        let r = requeue(a.clone(), 0, 100, 2).await;
        assert_eq!(r.ids, vec![d[0].clone(), d[2].clone()]);
        assert!(r.more);
        for id in &r.ids {
            let got = s.delivery(&a, id).await.unwrap().unwrap();
            assert_eq!(
                (got.status.as_str(), got.next_attempt_at, got.lease_owner),
                ("pending", 1_000, None)
            );
        }
        // Those are due now: the next call takes the one left, and nothing more.
        let r = requeue(a.clone(), 0, 100, 2).await;
        assert_eq!((r.ids, r.more), (vec![d[4].clone()], false));
        // The workers get them (and b's failed delivery stays as it was).
        let claimed = s.claim_deliveries("w2", 1_000, 3_000, 100).await.unwrap();
        let mut got: Vec<String> = claimed.into_iter().map(|c| c.id).collect();
        got.sort();
        let mut want = vec![d[0].clone(), d[2].clone(), d[3].clone(), d[4].clone()];
        want.sort();
        assert_eq!(got, want, "the three re-queued and the one never tried");
        let theirs = s
            .endpoint_deliveries(&b, "we_b", None, None, 10, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(theirs[0].status, "failed");
        // A range that holds none of them.
        assert!(requeue(a.clone(), 60, 100, 10).await.ids.is_empty());
        cleanup(s, pg).await;
    }
}
