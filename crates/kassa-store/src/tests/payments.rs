//! Payment intents, their timers, their orders and their attempts.

use kassa_core::intent::{
    AttemptStatus, CaptureMethod, IntentStatus, Metadata, NextAction, PaymentError, RedirectToUrl,
};
use kassa_core::money::Currency;
use kassa_core::payment_method::SetupFutureUsage;

use super::*;

fn ids(v: &[PaymentIntent]) -> Vec<&str> {
    v.iter().map(|p| p.id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intents_read_back_whole_by_id_or_token_and_page_newest_first() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        // Every field set to something other than its default.
        let mut full = new_intent(&a, "pi_full", 20);
        full.amount = 4_200;
        full.currency = Currency::parse("egp").unwrap();
        full.status = IntentStatus::RequiresCapture;
        full.capture_method = CaptureMethod::Manual;
        full.amount_capturable = 4_200;
        full.amount_received = 1;
        full.amount_refunded = 1;
        full.description = Some("a description".into());
        full.metadata = Metadata::from([("k".to_string(), "v ü".to_string())]);
        full.return_url = Some("https://shop.example/back".into());
        full.receipt_email = Some("a@b.co".into());
        full.last_payment_error = Some(PaymentError {
            kind: "card_error".into(),
            code: "card_declined".into(),
            decline_code: Some("insufficient_funds".into()),
            message: "declined".into(),
        });
        full.payment_method = Some(kassa_core::method_details::PaymentMethodDetails {
            kind: "card".into(),
            brand: "visa".into(),
            bin: Some("424242".into()),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2034,
            fingerprint: "fp".into(),
            id: Some("pm_1".into()),
        });
        full.next_action = Some(NextAction {
            kind: "redirect_to_url".into(),
            redirect_to_url: RedirectToUrl {
                url: "https://acs.example/3ds".into(),
                return_url: Some("https://shop.example/back".into()),
            },
        });
        full.processor_ref = Some("sbx_1".into());
        full.canceled_at = Some(31);
        full.cancellation_reason = Some("abandoned".into());
        full.capture_window_ms = 1_234;
        full.capture_before = Some(40);
        full.review_delay_ms = 5_678;
        full.review_at = Some(50);
        full.voucher_window_ms = 9_012;
        full.pay_before = Some(60);
        full.order_key = Some("paymob:9".into());
        full.customer = Some("cus_x".into());
        full.setup_future_usage = Some(SetupFutureUsage::OnSession);
        full.updated = 25;
        full.version = 3;
        let a1 = new_intent(&a, "pi_a1", 10);
        let a2 = new_intent(&a, "pi_a2", 20);
        let b1 = new_intent(&b, "pi_b1", 30);
        insert_intents(&s, &[&full, &a1, &a2, &b1]).await;

        assert_eq!(s.intent(&a, "pi_full").await.unwrap(), Some(full.clone()));
        assert_eq!(s.intent(&b, "pi_full").await.unwrap(), None, "tenant");
        assert_eq!(s.intent(&a, "pi_none").await.unwrap(), None);
        assert_eq!(
            s.intent_by_id_any_merchant("pi_full").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(s.intent_by_id_any_merchant("pi_none").await.unwrap(), None);
        assert_eq!(
            s.intent_by_checkout_token(&b1.checkout_token)
                .await
                .unwrap(),
            Some(b1.clone())
        );
        assert_eq!(s.intent_by_checkout_token("cs_none").await.unwrap(), None);

        // Newest first; equal times by id, descending; the cursor is exclusive.
        let page = s.list_intents(&a, 10, None).await.unwrap().unwrap();
        assert_eq!(ids(&page), ["pi_full", "pi_a2", "pi_a1"]);
        assert_eq!(page[0], full);
        let page = s
            .list_intents(&a, 1, Some("pi_full"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids(&page), ["pi_a2"]);
        let page = s.list_intents(&a, 5, Some("pi_a2")).await.unwrap().unwrap();
        assert_eq!(ids(&page), ["pi_a1"]);
        assert!(s
            .list_intents(&a, 5, Some("pi_a1"))
            .await
            .unwrap()
            .unwrap()
            .is_empty());
        assert_eq!(
            s.list_intents(&a, 5, Some("pi_b1")).await.unwrap(),
            None,
            "another merchant's intent is no cursor"
        );
        assert_eq!(s.list_intents(&a, 5, Some("pi_none")).await.unwrap(), None);
        let page = s.list_intents(&b, 10, None).await.unwrap().unwrap();
        assert_eq!(ids(&page), ["pi_b1"]);

        // An id or checkout token taken is a conflict; nothing of the write stays.
        let mut dup = new_intent(&a, "pi_a1", 11);
        let mut tx = s.begin().await.unwrap();
        assert!(matches!(
            tx.insert_intent(&dup).await,
            Err(StoreError::Conflict)
        ));
        drop(tx);
        dup.id = "pi_a3".into();
        dup.checkout_token = a1.checkout_token.clone();
        let mut tx = s.begin().await.unwrap();
        assert!(matches!(
            tx.insert_intent(&dup).await,
            Err(StoreError::Conflict)
        ));
        drop(tx);
        assert_eq!(s.intent(&a, "pi_a3").await.unwrap(), None);

        // An update writes the changeable fields from the version read and bumps it.
        let mut tx = s.begin().await.unwrap();
        let mut p = tx.intent(&a, "pi_a1").await.unwrap().unwrap();
        assert_eq!(tx.intent(&b, "pi_a1").await.unwrap(), None, "tenant");
        p.status = IntentStatus::Canceled;
        p.amount_capturable = 7;
        p.amount_received = 9;
        p.amount_refunded = 8;
        p.last_payment_error = full.last_payment_error.clone();
        p.payment_method = full.payment_method.clone();
        p.next_action = full.next_action.clone();
        p.processor_ref = Some("sbx_2".into());
        p.canceled_at = Some(70);
        p.cancellation_reason = Some("requested_by_customer".into());
        p.updated = 71;
        p.description = Some("d2".into());
        p.metadata = Metadata::from([("a".to_string(), "b".to_string())]);
        p.return_url = Some("https://r".into());
        p.capture_before = Some(72);
        p.review_at = Some(73);
        p.setup_future_usage = Some(SetupFutureUsage::OffSession);
        p.pay_before = Some(74);
        tx.update_intent(&mut p).await.unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(
            tx.intent(&a, "pi_a1").await.unwrap().as_ref(),
            Some(&p),
            "the transaction reads its own write"
        );
        tx.commit().await.unwrap();
        assert_eq!(s.intent(&a, "pi_a1").await.unwrap(), Some(p.clone()));
        // Clearing optional fields clears them.
        let mut p2 = p.clone();
        p2.last_payment_error = None;
        p2.payment_method = None;
        p2.next_action = None;
        p2.processor_ref = None;
        p2.description = None;
        p2.review_at = None;
        p2.setup_future_usage = None;
        let mut tx = s.begin().await.unwrap();
        tx.update_intent(&mut p2).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.intent(&a, "pi_a1").await.unwrap(), Some(p2));
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_timers_list_only_intents_in_their_status_oldest_first() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let held = |m: &Scope, id: &str, review: Option<i64>, capture: Option<i64>| {
            let mut p = new_intent(m, id, 1);
            p.status = IntentStatus::RequiresCapture;
            p.review_at = review;
            p.capture_before = capture;
            p
        };
        let voucher = |m: &Scope, id: &str, status: IntentStatus, pay: i64| {
            let mut p = new_intent(m, id, 1);
            p.status = status;
            p.pay_before = Some(pay);
            p
        };
        let h1 = held(&a, "pi_h1", Some(300), Some(500));
        let h2 = held(&b, "pi_h2", Some(100), Some(200));
        let h3 = held(&a, "pi_h3", Some(900), Some(900));
        let h4 = held(&a, "pi_h4", None, None);
        // Times set, but no longer waiting for a capture.
        let mut done = held(&a, "pi_done", Some(50), Some(50));
        done.status = IntentStatus::Succeeded;
        let v1 = voucher(&a, "pi_v1", IntentStatus::RequiresAction, 400);
        let v2 = voucher(&b, "pi_v2", IntentStatus::RequiresAction, 150);
        let v3 = voucher(&a, "pi_v3", IntentStatus::Succeeded, 10);
        let v4 = voucher(&a, "pi_v4", IntentStatus::RequiresAction, 800);
        insert_intents(&s, &[&h1, &h2, &h3, &h4, &done, &v1, &v2, &v3, &v4]).await;
        let pair = |m: &Scope, id: &str| (m.clone(), id.to_string());

        assert_eq!(
            s.due_reviews(300, 10).await.unwrap(),
            [pair(&b, "pi_h2"), pair(&a, "pi_h1")],
            "due at or before now, soonest first, every merchant"
        );
        assert_eq!(s.due_reviews(300, 1).await.unwrap(), [pair(&b, "pi_h2")]);
        assert!(s.due_reviews(99, 10).await.unwrap().is_empty());
        assert_eq!(
            s.due_authorization_expiries(500, 10).await.unwrap(),
            [pair(&b, "pi_h2"), pair(&a, "pi_h1")]
        );
        assert_eq!(
            s.due_authorization_expiries(10_000, 2).await.unwrap(),
            [pair(&b, "pi_h2"), pair(&a, "pi_h1")]
        );
        assert_eq!(
            s.due_authorization_expiries(10_000, 5).await.unwrap().len(),
            3
        );
        assert_eq!(
            s.due_offline_expiries(400, 10).await.unwrap(),
            [pair(&b, "pi_v2"), pair(&a, "pi_v1")]
        );
        assert_eq!(
            s.due_offline_expiries(10_000, 1).await.unwrap(),
            [pair(&b, "pi_v2")]
        );
        assert!(s.due_offline_expiries(149, 10).await.unwrap().is_empty());
        cleanup(s, pg).await;
    }
}

fn attempt(
    id: &str,
    intent: &str,
    status: AttemptStatus,
    created: i64,
    updated: i64,
) -> PaymentAttempt {
    PaymentAttempt {
        id: id.into(),
        payment_intent_id: intent.into(),
        status,
        payment_method: None,
        processor_ref: None,
        challenge_state: None,
        error: None,
        created_at: created,
        updated_at: updated,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_move_only_from_the_status_read_and_stale_ones_are_found() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let p1 = new_intent(&a, "pi_1", 1);
        let p2 = new_intent(&a, "pi_2", 1);
        insert_intents(&s, &[&p1, &p2]).await;
        let mut full = attempt("pa_full", "pi_1", AttemptStatus::RequiresAction, 10, 11);
        full.payment_method = Some("card".into());
        full.processor_ref = Some("sbx_1".into());
        full.challenge_state = Some("3ds:abc".into());
        full.error = Some("e".into());
        let older = attempt("pa_old", "pi_1", AttemptStatus::RequiresAction, 5, 5);
        let failed = attempt("pa_fail", "pi_1", AttemptStatus::Failed, 20, 20);
        let stale1 = attempt("pa_s1", "pi_2", AttemptStatus::Processing, 1, 300);
        let stale2 = attempt("pa_s2", "pi_2", AttemptStatus::Processing, 1, 100);
        let live = attempt("pa_live", "pi_2", AttemptStatus::Processing, 1, 1_000);
        let mut tx = s.begin().await.unwrap();
        for x in [&full, &older, &failed, &stale1, &stale2, &live] {
            tx.insert_attempt(x).await.unwrap();
        }
        assert_eq!(tx.attempt("pa_full").await.unwrap(), Some(full.clone()));
        // The same id twice is refused.
        assert!(tx.insert_attempt(&full).await.is_err());
        drop(tx);
        let mut tx = s.begin().await.unwrap();
        for x in [&full, &older, &failed, &stale1, &stale2, &live] {
            tx.insert_attempt(x).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(s.attempt("pa_full").await.unwrap(), Some(full.clone()));
        assert_eq!(s.attempt("pa_none").await.unwrap(), None);
        // The newest attempt waiting for the customer.
        assert_eq!(s.open_attempt("pi_1").await.unwrap(), Some(full.clone()));
        assert_eq!(s.open_attempt("pi_none").await.unwrap(), None);
        assert_eq!(s.open_attempt("pi_2").await.unwrap(), None);
        // Processing since before the cutoff, the longest stuck first.
        let stale: Vec<String> = s
            .stale_processing_attempts(500, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(stale, ["pa_s2", "pa_s1"]);
        assert_eq!(
            s.stale_processing_attempts(300, 10).await.unwrap(),
            vec![stale2.clone()]
        );
        assert_eq!(s.stale_processing_attempts(500, 1).await.unwrap().len(), 1);

        // A move from the status read; from any other it changes nothing.
        let mut next = full.clone();
        next.status = AttemptStatus::Succeeded;
        next.payment_method = Some("wallet".into());
        next.processor_ref = Some("sbx_9".into());
        next.challenge_state = None;
        next.error = None;
        next.updated_at = 99;
        let mut tx = s.begin().await.unwrap();
        assert!(!tx
            .update_attempt(&next, AttemptStatus::Processing)
            .await
            .unwrap());
        assert!(tx
            .update_attempt(&next, AttemptStatus::RequiresAction)
            .await
            .unwrap());
        assert!(
            !tx.update_attempt(&next, AttemptStatus::RequiresAction)
                .await
                .unwrap(),
            "once"
        );
        assert_eq!(tx.attempt("pa_full").await.unwrap(), Some(next.clone()));
        tx.commit().await.unwrap();
        assert_eq!(s.attempt("pa_full").await.unwrap(), Some(next));
        assert_eq!(s.open_attempt("pi_1").await.unwrap(), Some(older));
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_written_from_a_stale_version_is_a_conflict() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let mut a = s.intent(&pi.scope(), &pi.id).await.unwrap().unwrap();
        let mut b = a.clone();
        let mut tx = s.begin().await.unwrap();
        a.description = Some("first".into());
        tx.update_intent(&mut a).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = s.begin().await.unwrap();
        b.description = Some("second".into());
        assert!(matches!(
            tx.update_intent(&mut b).await,
            Err(StoreError::Conflict)
        ));
        drop(tx);
        let now = s.intent(&pi.scope(), &pi.id).await.unwrap().unwrap();
        assert_eq!(now.description.as_deref(), Some("first"));
        assert_eq!(now.version, 1);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_holds_one_payment_at_a_time() {
    for (s, pg, _dir) in stores().await {
        // A paid payment of order A; a second one is written, but cannot start.
        let base = merchant_and_paid_intent(&s, 100).await;
        let m = base.scope();
        let fresh = |order: &str| {
            let mut p = base.clone();
            p.id = kassa_core::ids::new_id("pi");
            p.checkout_token = kassa_core::ids::new_id("cs");
            p.status = IntentStatus::RequiresPaymentMethod;
            p.order_key = Some(order.into());
            p.version = 0;
            p
        };
        let mut paid = fresh("paymob:1");
        paid.status = IntentStatus::Succeeded;
        let mut second = fresh("paymob:1");
        let mut tx = s.begin().await.unwrap();
        tx.insert_intent(&paid).await.unwrap();
        tx.insert_intent(&second).await.unwrap();
        tx.commit().await.unwrap();
        for status in [
            IntentStatus::Processing,
            IntentStatus::RequiresAction,
            IntentStatus::Succeeded,
        ] {
            let mut tx = s.begin().await.unwrap();
            let mut p = second.clone();
            p.status = status;
            assert!(
                matches!(tx.update_intent(&mut p).await, Err(StoreError::Conflict)),
                "{status:?}"
            );
        }
        // Other orders are free; once the paid one is voided, the order takes a payment again.
        let mut other = fresh("paymob:2");
        other.status = IntentStatus::Processing;
        let mut tx = s.begin().await.unwrap();
        tx.insert_intent(&other).await.unwrap();
        paid.status = IntentStatus::Canceled;
        tx.update_intent(&mut paid).await.unwrap();
        second.status = IntentStatus::Processing;
        tx.update_intent(&mut second).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = s.begin().await.unwrap();
        let statuses: Vec<IntentStatus> = tx
            .intents_of_order(&m, "paymob:1")
            .await
            .unwrap()
            .iter()
            .map(|p| p.status)
            .collect();
        assert_eq!(statuses.len(), 2);
        assert!(
            statuses.contains(&IntentStatus::Canceled)
                && statuses.contains(&IntentStatus::Processing)
        );
        drop(tx);
        assert_eq!(s.intents_of_order(&m, "paymob:2").await.unwrap().len(), 1);
        assert!(s
            .intents_of_order(&Scope::test("acct_other"), "paymob:1")
            .await
            .unwrap()
            .is_empty());
        cleanup(s, pg).await;
    }
}
