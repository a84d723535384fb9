//! Refunds and the refunded total of their payment.

use kassa_core::intent::{IntentStatus, Metadata, Refund, RefundKind, RefundStatus};
use kassa_core::money::Currency;

use super::*;

pub(super) fn refund(m: &Scope, id: &str, intent: &str, created: i64) -> Refund {
    Refund {
        id: id.into(),
        merchant_id: m.merchant_id.clone(),
        livemode: m.livemode,
        payment_intent_id: intent.into(),
        amount: 10,
        currency: Currency::parse("usd").unwrap(),
        status: RefundStatus::Pending,
        kind: RefundKind::Refund,
        reason: None,
        metadata: Metadata::new(),
        processor_ref: None,
        created,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_round_trip_update_and_page_by_merchant_or_intent() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let m = pi.scope();
        let mut other = new_intent(&m, "pi_other", 2);
        other.status = IntentStatus::Succeeded;
        other.amount_received = 1_000;
        let b = new_merchant(&s, "b").await;
        let b_pi = new_intent(&b, "pi_b", 2);
        insert_intents(&s, &[&other, &b_pi]).await;
        let mut cb = refund(&m, "re_cb", &pi.id, 30);
        cb.kind = RefundKind::Chargeback { reason: 7 };
        cb.status = RefundStatus::Succeeded;
        cb.reason = Some("fraudulent".into());
        cb.metadata = Metadata::from([("k".to_string(), "v".to_string())]);
        cb.processor_ref = Some("sbx_r".into());
        cb.currency = Currency::parse("egp").unwrap();
        let mut void = refund(&m, "re_void", &pi.id, 20);
        void.kind = RefundKind::Void;
        let r_other = refund(&m, "re_other", "pi_other", 20);
        let r_b = refund(&b, "re_b", "pi_b", 40);
        let mut tx = s.begin().await.unwrap();
        for r in [&cb, &void, &r_other, &r_b] {
            tx.insert_refund(r).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(s.refund(&m, "re_cb").await.unwrap(), Some(cb.clone()));
        assert_eq!(s.refund(&m, "re_void").await.unwrap(), Some(void.clone()));
        assert_eq!(s.refund(&b, "re_cb").await.unwrap(), None, "tenant");
        assert_eq!(s.refund(&m, "re_none").await.unwrap(), None);

        let rids = |v: Option<Vec<Refund>>| -> Vec<String> {
            v.unwrap().into_iter().map(|r| r.id).collect()
        };
        // Newest first; equal times by id, descending.
        assert_eq!(
            rids(s.list_refunds(&m, 10, None, None).await.unwrap()),
            ["re_cb", "re_void", "re_other"]
        );
        assert_eq!(
            rids(s.list_refunds(&m, 1, Some("re_void"), None).await.unwrap()),
            ["re_other"]
        );
        assert_eq!(
            s.list_refunds(&m, 10, Some("re_b"), None).await.unwrap(),
            None
        );
        assert_eq!(
            rids(s.list_refunds(&m, 10, None, Some(&pi.id)).await.unwrap()),
            ["re_cb", "re_void"]
        );
        assert_eq!(
            rids(s.list_refunds(&m, 1, None, Some(&pi.id)).await.unwrap()),
            ["re_cb"]
        );
        assert!(rids(s.list_refunds(&b, 10, None, Some(&pi.id)).await.unwrap()).is_empty());
        assert_eq!(
            rids(s.list_refunds(&b, 10, None, None).await.unwrap()),
            ["re_b"]
        );

        // Only status and processor reference change.
        let mut done = void.clone();
        done.status = RefundStatus::Failed;
        done.processor_ref = Some("sbx_v".into());
        let mut tx = s.begin().await.unwrap();
        tx.update_refund(&done).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.refund(&m, "re_void").await.unwrap(), Some(done));
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_filtered_by_intent_pages_after_its_cursor() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let m = pi.scope();
        let other = new_intent(&m, "pi_other", 2);
        insert_intents(&s, &[&other]).await;
        let mut tx = s.begin().await.unwrap();
        for (id, intent, created) in [
            ("re_1", pi.id.as_str(), 10),
            ("re_2", pi.id.as_str(), 20),
            ("re_3", pi.id.as_str(), 30),
            ("re_x", "pi_other", 25),
        ] {
            tx.insert_refund(&refund(&m, id, intent, created))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let rids = |v: Option<Vec<Refund>>| -> Vec<String> {
            v.unwrap().into_iter().map(|r| r.id).collect()
        };
        // The second page of one intent's refunds follows the first (GET
        // /v1/refunds?payment_intent=…&starting_after=…).
        assert_eq!(
            rids(s.list_refunds(&m, 2, None, Some(&pi.id)).await.unwrap()),
            ["re_3", "re_2"]
        );
        assert_eq!(
            rids(
                s.list_refunds(&m, 2, Some("re_2"), Some(&pi.id))
                    .await
                    .unwrap()
            ),
            ["re_1"]
        );
        assert_eq!(
            s.list_refunds(&m, 2, Some("re_x"), Some(&pi.id))
                .await
                .unwrap(),
            None,
            "another intent's refund is no cursor"
        );
        assert_eq!(
            s.list_refunds(&m, 2, Some("re_none"), Some(&pi.id))
                .await
                .unwrap(),
            None
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_refund_reservation_gives_the_amount_back_once() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let m = &pi.scope();
        let mut tx = s.begin().await.unwrap();
        assert!(tx.add_refunded(&pi.id, 70, 2).await.unwrap());
        tx.add_refunded_release(&pi.id, 30, 3).await.unwrap();
        tx.commit().await.unwrap();
        let now = s.intent(m, &pi.id).await.unwrap().unwrap();
        assert_eq!((now.amount_refunded, now.updated), (40, 3));
        assert_eq!(now.version, 2, "each change bumps the version");
        // Never below zero: a release larger than what is reserved changes nothing.
        let mut tx = s.begin().await.unwrap();
        tx.add_refunded_release(&pi.id, 41, 4).await.unwrap();
        tx.commit().await.unwrap();
        let now = s.intent(m, &pi.id).await.unwrap().unwrap();
        assert_eq!((now.amount_refunded, now.updated, now.version), (40, 3, 2));
        // What was released may be refunded again.
        let mut tx = s.begin().await.unwrap();
        assert!(tx.add_refunded(&pi.id, 60, 5).await.unwrap());
        assert!(!tx.add_refunded(&pi.id, 1, 5).await.unwrap());
        tx.commit().await.unwrap();
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refunded_total_cannot_pass_the_received_amount() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let mut tx = s.begin().await.unwrap();
        assert!(tx.add_refunded(&pi.id, 60, 2).await.unwrap());
        assert!(!tx.add_refunded(&pi.id, 41, 2).await.unwrap());
        assert!(tx.add_refunded(&pi.id, 40, 2).await.unwrap());
        tx.commit().await.unwrap();
        let now = s.intent(&pi.scope(), &pi.id).await.unwrap().unwrap();
        assert_eq!(now.amount_refunded, 100);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_refunds_are_listed_oldest_first_and_answered_once() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let m = pi.scope();
        let live = Scope::live(m.merchant_id.clone());
        let b = new_merchant(&s, "b").await;
        let b_pi = new_intent(&b, "pi_b", 2);
        insert_intents(&s, &[&b_pi]).await;
        let mut answered = refund(&m, "re_answered", &pi.id, 5);
        answered.processor_ref = Some("sbx_pending".into());
        let mut done = refund(&m, "re_done", &pi.id, 5);
        done.status = RefundStatus::Succeeded;
        let mut tx = s.begin().await.unwrap();
        for r in [
            refund(&m, "re_young", &pi.id, 50),
            refund(&b, "re_b", "pi_b", 20),
            refund(&live, "re_live", &pi.id, 30),
            refund(&m, "re_old", &pi.id, 10),
            answered,
            done,
        ] {
            tx.insert_refund(&r).await.unwrap();
        }
        tx.commit().await.unwrap();
        let ids = |v: Vec<Refund>| -> Vec<(String, bool)> {
            v.into_iter().map(|r| (r.id, r.livemode)).collect()
        };
        // Every merchant and mode, oldest first; only those created before the cutoff, still
        // pending and without the processor's reference.
        assert_eq!(
            ids(s.unanswered_refunds(40, 10).await.unwrap()),
            [
                ("re_old".to_string(), false),
                ("re_b".to_string(), false),
                ("re_live".to_string(), true)
            ]
        );
        assert_eq!(ids(s.unanswered_refunds(40, 1).await.unwrap()).len(), 1);

        // The answer is written once: a second writer finds it answered.
        let mut first = refund(&m, "re_old", &pi.id, 10);
        first.status = RefundStatus::Succeeded;
        first.processor_ref = Some("sbx_r1".into());
        let mut second = first.clone();
        second.status = RefundStatus::Failed;
        second.processor_ref = None;
        let mut tx = s.begin().await.unwrap();
        assert!(tx.answer_refund(&first).await.unwrap());
        assert!(!tx.answer_refund(&second).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(s.refund(&m, "re_old").await.unwrap(), Some(first));
        // A refund the processor holds as pending (it has a reference) is not answered here.
        let mut late = refund(&m, "re_answered", &pi.id, 5);
        late.status = RefundStatus::Succeeded;
        late.processor_ref = Some("sbx_pending".into());
        let mut tx = s.begin().await.unwrap();
        assert!(!tx.answer_refund(&late).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(
            ids(s.unanswered_refunds(1_000, 10).await.unwrap()),
            [
                ("re_b".to_string(), false),
                ("re_live".to_string(), true),
                ("re_young".to_string(), false)
            ]
        );
        cleanup(s, pg).await;
    }
}
