//! Saved payment methods of customers.

use kassa_core::payment_method::{PaymentMethod, SetupFutureUsage};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_methods_round_trip_page_by_customer_and_detach_once() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 100).await;
        let m = &pi.scope();
        let read = s.intent(m, &pi.id).await.unwrap().unwrap();
        assert_eq!(read.customer.as_deref(), Some("cus_a"));
        assert_eq!(read.setup_future_usage, Some(SetupFutureUsage::OffSession));
        let pm = |id: &str, customer: &str, created: i64| PaymentMethod {
            id: id.into(),
            merchant_id: m.merchant_id.clone(),
            livemode: m.livemode,
            customer: Some(customer.into()),
            kind: "card".into(),
            details: kassa_core::method_details::PaymentMethodDetails {
                kind: "card".into(),
                last4: "4242".into(),
                ..Default::default()
            },
            processor_ref: "sbx_x".into(),
            source_payment: Some(pi.id.clone()),
            usage: SetupFutureUsage::OnSession,
            created,
            detached_at: None,
        };
        let mut tx = s.begin().await.unwrap();
        for (id, c, t) in [
            ("pm_1", "cus_a", 10),
            ("pm_2", "cus_a", 20),
            ("pm_3", "cus_b", 30),
        ] {
            tx.insert_payment_method(&pm(id, c, t)).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            s.payment_method(m, "pm_1").await.unwrap(),
            Some(pm("pm_1", "cus_a", 10))
        );
        assert_eq!(
            s.payment_method(&Scope::test("acct_other"), "pm_1")
                .await
                .unwrap(),
            None
        );
        let ids = |v: Option<Vec<PaymentMethod>>| -> Vec<String> {
            v.unwrap().into_iter().map(|p| p.id).collect()
        };
        let page = s
            .customer_payment_methods(m, "cus_a", 1, None)
            .await
            .unwrap();
        assert_eq!(ids(page), ["pm_2"]);
        let page = s
            .customer_payment_methods(m, "cus_a", 5, Some("pm_2"))
            .await
            .unwrap();
        assert_eq!(ids(page), ["pm_1"]);
        assert_eq!(
            s.customer_payment_methods(m, "cus_a", 5, Some("pm_3"))
                .await
                .unwrap(),
            None,
            "another customer's method is no cursor"
        );
        let mut tx = s.begin().await.unwrap();
        assert!(tx.detach_payment_method(m, "pm_1", 99).await.unwrap());
        assert!(
            !tx.detach_payment_method(m, "pm_1", 100).await.unwrap(),
            "once"
        );
        assert!(!tx
            .detach_payment_method(&Scope::test("acct_other"), "pm_2", 100)
            .await
            .unwrap());
        let attached: Vec<String> = tx
            .attached_payment_methods(m, "cus_a")
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(attached, ["pm_2"]);
        tx.commit().await.unwrap();
        let gone = s.payment_method(m, "pm_1").await.unwrap().unwrap();
        assert_eq!((gone.customer, gone.detached_at), (None, Some(99)));
        let page = s
            .customer_payment_methods(m, "cus_a", 5, None)
            .await
            .unwrap();
        assert_eq!(ids(page), ["pm_2"]);
        cleanup(s, pg).await;
    }
}
