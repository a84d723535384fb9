//! Customers and the test clocks they are attached to.

use kassa_core::customer::Customer;
use kassa_core::intent::Metadata;

use super::*;

pub(super) fn customer(m: &Scope, id: &str, email: Option<&str>, created: i64) -> Customer {
    Customer {
        id: id.into(),
        merchant_id: m.merchant_id.clone(),
        livemode: m.livemode,
        email: email.map(Into::into),
        name: None,
        phone: None,
        description: None,
        metadata: Metadata::new(),
        test_clock: None,
        created,
        updated: created,
    }
}

fn ids(v: Option<Vec<Customer>>) -> Vec<String> {
    v.unwrap().into_iter().map(|c| c.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_round_trip_page_by_email_update_and_delete_per_merchant() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let mut full = customer(&a, "cus_full", Some("x@a.co"), 20);
        full.name = Some("Jane Roe".into());
        full.phone = Some("+201000000000".into());
        full.description = Some("vip".into());
        full.metadata = Metadata::from([("k".to_string(), "v".to_string())]);
        full.test_clock = Some("clock_1".into());
        full.updated = 21;
        let c1 = customer(&a, "cus_1", Some("x@a.co"), 10);
        let c2 = customer(&a, "cus_2", None, 20);
        let c3 = customer(&a, "cus_3", Some("y@a.co"), 30);
        let cb = customer(&b, "cus_b", Some("x@a.co"), 40);
        let mut tx = s.begin().await.unwrap();
        for c in [&full, &c1, &c2, &c3, &cb] {
            tx.insert_customer(c).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            s.customer(&a, "cus_full").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(s.customer(&b, "cus_full").await.unwrap(), None, "tenant");
        assert_eq!(s.customer(&a, "cus_none").await.unwrap(), None);
        assert_eq!(
            s.customer_clock(&a, "cus_full").await.unwrap().as_deref(),
            Some("clock_1")
        );
        assert_eq!(s.customer_clock(&b, "cus_full").await.unwrap(), None);
        assert_eq!(s.customer_clock(&a, "cus_1").await.unwrap(), None);
        assert_eq!(s.customer_clock(&a, "cus_none").await.unwrap(), None);

        // Newest first, equal times by id descending; the cursor is exclusive.
        assert_eq!(
            ids(s.list_customers(&a, 10, None, None).await.unwrap()),
            ["cus_3", "cus_full", "cus_2", "cus_1"]
        );
        assert_eq!(
            ids(s
                .list_customers(&a, 2, Some("cus_full"), None)
                .await
                .unwrap()),
            ["cus_2", "cus_1"]
        );
        assert_eq!(
            ids(s
                .list_customers(&a, 10, None, Some("x@a.co"))
                .await
                .unwrap()),
            ["cus_full", "cus_1"]
        );
        assert_eq!(
            ids(s
                .list_customers(&a, 10, Some("cus_3"), Some("x@a.co"))
                .await
                .unwrap()),
            ["cus_full", "cus_1"],
            "the cursor need not match the filter"
        );
        assert_eq!(
            ids(s
                .list_customers(&a, 1, Some("cus_full"), Some("x@a.co"))
                .await
                .unwrap()),
            ["cus_1"]
        );
        assert!(ids(s
            .list_customers(&a, 10, None, Some("X@A.CO"))
            .await
            .unwrap())
        .is_empty());
        assert_eq!(
            s.list_customers(&a, 10, Some("cus_b"), None).await.unwrap(),
            None,
            "another merchant's customer is no cursor"
        );
        assert_eq!(
            ids(s.list_customers(&b, 10, None, None).await.unwrap()),
            ["cus_b"]
        );

        // An update writes the contact fields and metadata, not the clock or creation time.
        let mut tx = s.begin().await.unwrap();
        let mut c = tx
            .customer_for_update(&a, "cus_full")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c, full);
        assert_eq!(tx.customer_for_update(&b, "cus_full").await.unwrap(), None);
        assert_eq!(tx.customer_for_update(&a, "cus_none").await.unwrap(), None);
        c.email = None;
        c.name = Some("J. Roe".into());
        c.phone = None;
        c.description = None;
        c.metadata = Metadata::new();
        c.updated = 50;
        tx.update_customer(&c).await.unwrap();
        // Another merchant's customer of the same id is not written.
        let mut foreign = cb.clone();
        foreign.merchant_id = a.merchant_id.clone();
        foreign.name = Some("taken".into());
        tx.update_customer(&foreign).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.customer(&a, "cus_full").await.unwrap(), Some(c.clone()));
        assert_eq!(s.customer(&b, "cus_b").await.unwrap(), Some(cb.clone()));

        // Attaching a clock is its own write, scoped to the merchant.
        let mut tx = s.begin().await.unwrap();
        tx.set_customer_clock(&a, "cus_1", "clock_2").await.unwrap();
        tx.set_customer_clock(&a, "cus_b", "clock_2").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.customer_clock(&a, "cus_1").await.unwrap().as_deref(),
            Some("clock_2")
        );
        assert_eq!(
            s.customer(&a, "cus_1")
                .await
                .unwrap()
                .unwrap()
                .test_clock
                .as_deref(),
            Some("clock_2")
        );
        assert_eq!(s.customer_clock(&b, "cus_b").await.unwrap(), None);

        // Delete: once, and only the merchant's own.
        let mut tx = s.begin().await.unwrap();
        assert!(!tx.delete_customer(&a, "cus_b").await.unwrap());
        assert!(tx.delete_customer(&a, "cus_2").await.unwrap());
        assert!(!tx.delete_customer(&a, "cus_2").await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(s.customer(&a, "cus_2").await.unwrap(), None);
        assert!(s.customer(&b, "cus_b").await.unwrap().is_some());
        assert_eq!(
            ids(s.list_customers(&a, 10, None, None).await.unwrap()),
            ["cus_3", "cus_full", "cus_1"]
        );
        assert_eq!(
            s.list_customers(&a, 10, Some("cus_2"), None).await.unwrap(),
            None
        );
        // An id taken is refused.
        let mut tx = s.begin().await.unwrap();
        assert!(tx.insert_customer(&c1).await.is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}

/// A customer read for update is held until the transaction ends: a second update reads it
/// only after the first committed, so it changes what the first wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_read_for_update_waits_for_the_first_writer() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let mut tx = s.begin().await.unwrap();
        tx.insert_customer(&customer(&a, "cus_1", None, 1))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut first = s.begin().await.unwrap();
        let mut c = first
            .customer_for_update(&a, "cus_1")
            .await
            .unwrap()
            .unwrap();
        let second = {
            let (s, a) = (s.clone(), a.clone());
            tokio::spawn(async move {
                let mut tx = s.begin().await.unwrap();
                let mut c = tx.customer_for_update(&a, "cus_1").await.unwrap().unwrap();
                c.metadata.insert("second".into(), "1".into());
                c.updated = 3;
                tx.update_customer(&c).await.unwrap();
                tx.commit().await.unwrap();
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        c.metadata.insert("first".into(), "1".into());
        c.updated = 2;
        first.update_customer(&c).await.unwrap();
        first.commit().await.unwrap();
        second.await.unwrap();
        let got = s.customer(&a, "cus_1").await.unwrap().unwrap();
        assert_eq!(
            got.metadata.keys().map(String::as_str).collect::<Vec<_>>(),
            ["first", "second"],
            "neither write is lost"
        );
        assert_eq!(got.updated, 3);
        cleanup(s, pg).await;
    }
}
