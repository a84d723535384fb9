//! Events and webhook endpoints, and the deliveries an event queues.

use super::*;

pub(super) fn endpoint(
    m: &Scope,
    id: &str,
    events: &[&str],
    status: &str,
    created: i64,
) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.into(),
        merchant_id: m.merchant_id.clone(),
        livemode: m.livemode,
        url: format!("https://hooks.example/{id}"),
        description: None,
        enabled_events: events.iter().map(|e| e.to_string()).collect(),
        secret_enc: format!("v1:{id}"),
        previous_secret_enc: None,
        previous_secret_expires_at: None,
        status: status.into(),
        created_at: created,
    }
}

pub(super) fn attempt(delivery: &str, n: i64, at: i64, code: Option<i64>) -> DeliveryAttempt {
    DeliveryAttempt {
        id: kassa_core::ids::new_id("atmpt"),
        delivery_id: delivery.into(),
        attempt_number: n,
        trigger: "manual".into(),
        started_at: at,
        status_code: code,
        latency_ms: 12,
        response_excerpt: code.map(|c| format!("status {c}")),
        error: code.is_none().then(|| "connection refused".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_round_trip_update_count_and_hide_deleted_ones() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let mut full = endpoint(&a, "we_full", &["*"], "enabled", 10);
        full.description = Some("orders".into());
        full.previous_secret_enc = Some("v1:old".into());
        full.previous_secret_expires_at = Some(99);
        let e2 = endpoint(&a, "we_2", &["refund.created"], "disabled", 10);
        let e3 = endpoint(&a, "we_3", &[], "enabled", 5);
        let gone = endpoint(&a, "we_gone", &["*"], "deleted", 50);
        let eb = endpoint(&b, "we_b", &["*"], "enabled", 1);
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.count_endpoints(&a).await.unwrap(), 0);
        for e in [&full, &e2, &e3, &gone, &eb] {
            tx.insert_endpoint(e).await.unwrap();
        }
        assert_eq!(tx.count_endpoints(&a).await.unwrap(), 3, "not the deleted");
        assert_eq!(tx.count_endpoints(&b).await.unwrap(), 1);
        tx.commit().await.unwrap();

        assert_eq!(s.endpoint(&a, "we_full").await.unwrap(), Some(full.clone()));
        // The secrets are not in Debug; compare what a caller reads.
        let got = s.endpoint(&a, "we_full").await.unwrap().unwrap();
        assert_eq!(
            (got.secret_enc, got.previous_secret_enc, got.description),
            (
                "v1:we_full".to_string(),
                Some("v1:old".to_string()),
                Some("orders".to_string())
            )
        );
        assert_eq!(s.endpoint(&b, "we_full").await.unwrap(), None, "tenant");
        assert_eq!(s.endpoint(&a, "we_gone").await.unwrap(), None, "deleted");
        assert_eq!(s.endpoint(&a, "we_none").await.unwrap(), None);
        // By id alone (the delivery worker): deleted ones too.
        assert_eq!(
            s.endpoint_by_id("we_gone").await.unwrap(),
            Some(gone.clone())
        );
        assert_eq!(s.endpoint_by_id("we_b").await.unwrap(), Some(eb.clone()));
        assert_eq!(s.endpoint_by_id("we_none").await.unwrap(), None);
        let listed: Vec<String> = s
            .list_endpoints(&a)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(listed, ["we_full", "we_2", "we_3"], "newest first, then id");
        assert_eq!(s.list_endpoints(&b).await.unwrap(), vec![eb.clone()]);

        // Every changeable field is written; only the merchant's own endpoint.
        let mut changed = e2.clone();
        changed.url = "https://hooks.example/new".into();
        changed.description = Some("new".into());
        changed.enabled_events = vec!["payment_intent.succeeded".into(), "refund.created".into()];
        changed.secret_enc = "v1:new".into();
        changed.previous_secret_enc = Some("v1:we_2".into());
        changed.previous_secret_expires_at = Some(500);
        changed.status = "enabled".into();
        let mut foreign = eb.clone();
        foreign.merchant_id = a.merchant_id.clone();
        foreign.url = "https://evil.example".into();
        let mut tx = s.begin().await.unwrap();
        tx.update_endpoint(&changed).await.unwrap();
        tx.update_endpoint(&foreign).await.unwrap();
        tx.commit().await.unwrap();
        let got = s.endpoint(&a, "we_2").await.unwrap().unwrap();
        assert_eq!(got, changed);
        assert_eq!(
            (
                got.url.as_str(),
                got.secret_enc.as_str(),
                got.enabled_events.len()
            ),
            ("https://hooks.example/new", "v1:new", 2)
        );
        assert_eq!(
            s.endpoint(&b, "we_b").await.unwrap().unwrap().url,
            eb.url,
            "another merchant's endpoint is not written"
        );
        // Deleting is a status: gone from reads, lists and the count.
        let mut deleted = full.clone();
        deleted.status = "deleted".into();
        let mut tx = s.begin().await.unwrap();
        tx.update_endpoint(&deleted).await.unwrap();
        assert_eq!(tx.count_endpoints(&a).await.unwrap(), 2);
        tx.commit().await.unwrap();
        assert_eq!(s.endpoint(&a, "we_full").await.unwrap(), None);
        assert_eq!(s.list_endpoints(&a).await.unwrap().len(), 2);
        // An id taken is refused.
        let mut tx = s.begin().await.unwrap();
        assert!(tx.insert_endpoint(&e3).await.is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_queues_one_delivery_per_enabled_subscribed_endpoint_of_its_merchant() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let mut tx = s.begin().await.unwrap();
        for e in [
            endpoint(&a, "we_all", &["*"], "enabled", 1),
            endpoint(&a, "we_paid", &["payment_intent.succeeded"], "enabled", 2),
            endpoint(&a, "we_refund", &["refund.created"], "enabled", 3),
            // `_` in a type is no wildcard.
            endpoint(&a, "we_like", &["paymentXintent.succeeded"], "enabled", 4),
            endpoint(&a, "we_off", &["*"], "disabled", 5),
            endpoint(&a, "we_gone", &["*"], "deleted", 6),
            endpoint(&b, "we_b", &["*"], "enabled", 7),
        ] {
            tx.insert_endpoint(&e).await.unwrap();
        }
        let paid = new_event(&a, EventType::PaymentIntentSucceeded, 100);
        let refunded = new_event(&a, EventType::RefundCreated, 200);
        let b_ev = new_event(&b, EventType::PaymentIntentCreated, 150);
        tx.insert_event(&paid, "pi_1").await.unwrap();
        tx.insert_event(&refunded, "re_1").await.unwrap();
        tx.insert_event(&b_ev, "pi_b").await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(s.event(&a, &paid.id).await.unwrap(), Some(paid.clone()));
        assert_eq!(s.event(&b, &paid.id).await.unwrap(), None, "tenant");
        assert_eq!(s.event(&a, "evt_none").await.unwrap(), None);
        let targets = |ds: Vec<Delivery>| -> Vec<String> {
            let mut v: Vec<String> = ds.into_iter().map(|d| d.endpoint_id).collect();
            v.sort();
            v
        };
        let ds = s.deliveries_for_event(&a, &paid.id).await.unwrap();
        for d in &ds {
            assert_eq!(
                (
                    d.channel,
                    d.status.as_str(),
                    d.attempt_count,
                    d.next_attempt_at
                ),
                (Channel::Webhook, "pending", 0, 100)
            );
            assert_eq!((d.created_at, d.updated_at), (100, 100));
            assert_eq!((&d.lease_owner, d.lease_until), (&None, None));
            assert_eq!((&d.request_url, &d.request_body), (&None, &None));
            assert_eq!(s.delivery(&a, &d.id).await.unwrap().as_ref(), Some(d));
            assert_eq!(s.delivery(&b, &d.id).await.unwrap(), None, "tenant");
        }
        assert_eq!(targets(ds), ["we_all", "we_paid"]);
        assert_eq!(
            targets(s.deliveries_for_event(&a, &refunded.id).await.unwrap()),
            ["we_all", "we_refund"]
        );
        assert_eq!(
            targets(s.deliveries_for_event(&b, &b_ev.id).await.unwrap()),
            ["we_b"]
        );
        assert!(s
            .deliveries_for_event(&b, &paid.id)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.delivery(&a, "msg_none").await.unwrap(), None);

        // Events page newest first, per merchant.
        let evs = |v: Option<Vec<Event>>| -> Vec<String> {
            v.unwrap().into_iter().map(|e| e.id).collect()
        };
        assert_eq!(
            evs(s.list_events(&a, 10, None).await.unwrap()),
            [refunded.id.clone(), paid.id.clone()]
        );
        assert_eq!(
            s.list_events(&a, 1, None).await.unwrap().unwrap(),
            vec![refunded.clone()]
        );
        assert_eq!(
            evs(s.list_events(&a, 10, Some(&refunded.id)).await.unwrap()),
            vec![paid.id.clone()]
        );
        assert_eq!(s.list_events(&a, 10, Some(&b_ev.id)).await.unwrap(), None);
        assert_eq!(
            evs(s.list_events(&b, 10, None).await.unwrap()),
            vec![b_ev.id.clone()]
        );

        // The outbox: 5 pending, the oldest due since 100.
        assert_eq!(s.outbox_backlog(160).await.unwrap(), (5, 60));
        assert_eq!(s.outbox_backlog(50).await.unwrap(), (5, 0), "none due yet");
        // Deleting an endpoint cancels its pending deliveries, and only those.
        let mut tx = s.begin().await.unwrap();
        tx.cancel_pending_deliveries("we_all", 300).await.unwrap();
        tx.commit().await.unwrap();
        for d in s.deliveries_for_event(&a, &paid.id).await.unwrap() {
            let expected = if d.endpoint_id == "we_all" {
                ("canceled", 300)
            } else {
                ("pending", 100)
            };
            assert_eq!((d.status.as_str(), d.updated_at), expected);
        }
        assert_eq!(s.outbox_backlog(300).await.unwrap(), (3, 200));
        cleanup(s, pg).await;
    }
}

/// The count a creation checks against the endpoint limit includes an endpoint another
/// transaction is creating at the same time: the second creation waits for the first (as on
/// SQLite's single writer), so two at once cannot both pass the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_endpoint_creations_count_each_other() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let mut first = s.begin().await.unwrap();
        assert_eq!(first.count_endpoints(&a).await.unwrap(), 0);
        first
            .insert_endpoint(&endpoint(&a, "we_1", &["*"], "enabled", 1))
            .await
            .unwrap();
        // Another merchant's creation does not wait (PostgreSQL; SQLite has one writer).
        if s.backend() == Backend::Postgres {
            let mut other = s.begin().await.unwrap();
            assert_eq!(other.count_endpoints(&b).await.unwrap(), 0);
            other
                .insert_endpoint(&endpoint(&b, "we_b", &["*"], "enabled", 1))
                .await
                .unwrap();
            other.commit().await.unwrap();
            // Nor does writing the merchant's own payments and events.
            let writes = async {
                let mut tx = s.begin().await.unwrap();
                tx.insert_intent(&new_intent(&a, "pi_meanwhile", 3))
                    .await
                    .unwrap();
                let ev = new_event(&a, EventType::PaymentIntentCreated, 3);
                tx.insert_event(&ev, "pi_meanwhile").await.unwrap();
                tx.commit().await.unwrap();
            };
            tokio::time::timeout(std::time::Duration::from_secs(5), writes)
                .await
                .expect("not held up by the count's lock");
        }
        let second = {
            let (s, a) = (s.clone(), a.clone());
            tokio::spawn(async move {
                let mut tx = s.begin().await.unwrap();
                let n = tx.count_endpoints(&a).await.unwrap();
                if n == 0 {
                    tx.insert_endpoint(&endpoint(&a, "we_2", &["*"], "enabled", 2))
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
                n
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        first.commit().await.unwrap();
        assert_eq!(second.await.unwrap(), 1, "the first creation is counted");
        assert_eq!(s.list_endpoints(&a).await.unwrap().len(), 1);
        cleanup(s, pg).await;
    }
}
