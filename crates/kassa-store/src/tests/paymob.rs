//! Paymob profiles, integrations, orders, intentions and transactions.

use super::*;

/// A profile of `merchant_id` whose unique keys are derived from `id`.
pub(super) fn profile(merchant_id: &str, id: i64) -> PmProfile {
    PmProfile {
        id,
        merchant_id: merchant_id.into(),
        country: "EGY".into(),
        live: false,
        secret_key_hash: format!("sk_hash_{id}"),
        public_key: format!("egy_pk_test_{id}"),
        api_key_hash: format!("ak_hash_{id}"),
        hmac_enc: format!("v1:hmac_{id}"),
        iframe_id: 900 + id,
        doc: format!("{{\"name\":\"profile {id}\"}}"),
        created_at: id,
        frame_ancestors: None,
    }
}

pub(super) fn pm_order(profile_id: i64, id: i64, moid: Option<&str>) -> PmOrder {
    PmOrder {
        id,
        profile_id,
        merchant_order_id: moid.map(Into::into),
        intention_id: None,
        doc: format!("{{\"id\":{id}}}"),
        created_at: id,
        updated_at: id,
    }
}

fn txn(
    profile_id: i64,
    id: i64,
    order: i64,
    intent: Option<&str>,
    parent: Option<i64>,
) -> PmTransaction {
    PmTransaction {
        id,
        profile_id,
        order_id: order,
        intent_id: intent.map(Into::into),
        parent_id: parent,
        kind: if parent.is_some() {
            "refund"
        } else {
            "payment"
        }
        .into(),
        obj: format!("{{\"id\":{id},\"success\":true}}"),
        extra: "{}".into(),
        created_at: id,
        updated_at: id,
    }
}

fn tids(v: &[PmTransaction]) -> Vec<i64> {
    v.iter().map(|t| t.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_found_by_each_key_and_listed_per_merchant() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let b = new_merchant(&s, "b").await.merchant_id;
        let mut full = profile(&a, 7);
        full.live = true;
        full.frame_ancestors = Some("https://shop.example".into());
        let first = profile(&a, 3);
        let theirs = profile(&b, 5);
        let mut tx = s.begin().await.unwrap();
        for p in [&full, &first, &theirs] {
            tx.insert_pm_profile(p).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(s.pm_profile(7).await.unwrap(), Some(full.clone()));
        assert_eq!(s.pm_profile(8).await.unwrap(), None);
        assert_eq!(
            s.pm_profile_by_secret_hash("sk_hash_7").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(
            s.pm_profile_by_api_key_hash("ak_hash_7").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(
            s.pm_profile_by_public_key("egy_pk_test_7").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(
            s.pm_profile_by_iframe(907).await.unwrap(),
            Some(full.clone())
        );
        // Each key finds its own profile only, never through another column.
        assert_eq!(
            s.pm_profile_by_secret_hash("ak_hash_7").await.unwrap(),
            None
        );
        assert_eq!(
            s.pm_profile_by_api_key_hash("sk_hash_7").await.unwrap(),
            None
        );
        assert_eq!(s.pm_profile_by_public_key("none").await.unwrap(), None);
        assert_eq!(s.pm_profile_by_iframe(7).await.unwrap(), None);
        let of_a: Vec<i64> = s
            .pm_profiles_of(&a)
            .await
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(of_a, [3, 7], "by id");
        assert_eq!(s.pm_profiles_of(&b).await.unwrap(), vec![theirs.clone()]);
        assert!(s.pm_profiles_of("acct_none").await.unwrap().is_empty());

        // An update writes the document and frame ancestors, nothing else.
        let mut changed = full.clone();
        changed.doc = "{\"name\":\"renamed\"}".into();
        changed.frame_ancestors = None;
        changed.country = "PAK".into();
        changed.secret_key_hash = "sk_other".into();
        let mut tx = s.begin().await.unwrap();
        tx.update_pm_profile(&changed).await.unwrap();
        tx.commit().await.unwrap();
        let got = s.pm_profile(7).await.unwrap().unwrap();
        assert_eq!(got.doc, "{\"name\":\"renamed\"}");
        assert_eq!(got.frame_ancestors, None);
        assert_eq!(
            (got.country.as_str(), got.secret_key_hash.as_str()),
            ("EGY", "sk_hash_7")
        );
        // Every key is unique.
        for dup in [
            PmProfile {
                id: 9,
                ..full.clone()
            },
            PmProfile {
                id: 9,
                secret_key_hash: "x1".into(),
                ..full.clone()
            },
            PmProfile {
                id: 9,
                secret_key_hash: "x1".into(),
                public_key: "x2".into(),
                ..full.clone()
            },
            PmProfile {
                id: 9,
                secret_key_hash: "x1".into(),
                public_key: "x2".into(),
                api_key_hash: "x3".into(),
                ..full.clone()
            },
            PmProfile {
                secret_key_hash: "x1".into(),
                public_key: "x2".into(),
                api_key_hash: "x3".into(),
                iframe_id: 1,
                ..full.clone()
            },
        ] {
            let mut tx = s.begin().await.unwrap();
            assert!(tx.insert_pm_profile(&dup).await.is_err(), "{dup:?}");
            drop(tx);
        }
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_come_from_counters_per_kind_and_integrations_round_trip() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let mut tx = s.begin().await.unwrap();
        let p1 = tx.pm_next_id("profile").await.unwrap();
        let p2 = tx.pm_next_id("profile").await.unwrap();
        let o1 = tx.pm_next_id("order").await.unwrap();
        assert_eq!(p2, p1 + 1);
        assert_eq!(o1, 217_500_001, "the first order id");
        tx.commit().await.unwrap();
        // A rolled-back transaction gives its ids back.
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.pm_next_id("profile").await.unwrap(), p2 + 1);
        drop(tx);
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.pm_next_id("profile").await.unwrap(), p2 + 1);
        assert!(tx.pm_next_id("no_such_kind").await.is_err());
        drop(tx);

        let mut tx = s.begin().await.unwrap();
        tx.insert_pm_profile(&profile(&a, 1)).await.unwrap();
        tx.insert_pm_profile(&profile(&a, 2)).await.unwrap();
        let int = |id: i64, profile_id: i64| PmIntegration {
            id,
            profile_id,
            name: format!("card {id}"),
            doc: format!("{{\"gateway_type\":\"VPC\",\"id\":{id}}}"),
            created_at: id,
        };
        for i in [int(12, 1), int(11, 1), int(13, 2)] {
            tx.insert_pm_integration(&i).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(s.pm_integration(11).await.unwrap(), Some(int(11, 1)));
        assert_eq!(s.pm_integration(99).await.unwrap(), None);
        assert_eq!(
            s.pm_integrations_of(1).await.unwrap(),
            [int(11, 1), int(12, 1)]
        );
        assert_eq!(s.pm_integrations_of(2).await.unwrap(), [int(13, 2)]);
        assert!(s.pm_integrations_of(3).await.unwrap().is_empty());
        let mut changed = int(12, 1);
        changed.name = "wallet".into();
        changed.doc = "{\"gateway_type\":\"WALLET\"}".into();
        changed.profile_id = 2;
        changed.created_at = 99;
        let mut tx = s.begin().await.unwrap();
        tx.update_pm_integration(&changed).await.unwrap();
        tx.commit().await.unwrap();
        let got = s.pm_integration(12).await.unwrap().unwrap();
        assert_eq!(
            got,
            PmIntegration {
                name: "wallet".into(),
                doc: "{\"gateway_type\":\"WALLET\"}".into(),
                ..int(12, 1)
            },
            "name and document only"
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_keep_their_merchant_order_id_unique_per_profile() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let mut tx = s.begin().await.unwrap();
        tx.insert_pm_profile(&profile(&a, 1)).await.unwrap();
        tx.insert_pm_profile(&profile(&a, 2)).await.unwrap();
        let mut full = pm_order(1, 100, Some("ord-1"));
        full.intention_id = Some("pi_int".into());
        full.updated_at = 150;
        assert!(tx.insert_pm_order(&full).await.unwrap());
        assert!(
            !tx.insert_pm_order(&pm_order(1, 101, Some("ord-1")))
                .await
                .unwrap(),
            "taken in this profile"
        );
        assert!(tx
            .insert_pm_order(&pm_order(2, 102, Some("ord-1")))
            .await
            .unwrap());
        // Orders without a merchant order id never collide.
        assert!(tx.insert_pm_order(&pm_order(1, 103, None)).await.unwrap());
        assert!(tx.insert_pm_order(&pm_order(1, 104, None)).await.unwrap());
        assert_eq!(tx.pm_order(100).await.unwrap(), Some(full.clone()));
        assert_eq!(tx.pm_order(101).await.unwrap(), None);
        tx.commit().await.unwrap();
        assert_eq!(s.pm_order(100).await.unwrap(), Some(full.clone()));
        assert_eq!(s.pm_order(999).await.unwrap(), None);
        assert_eq!(
            s.pm_order_by_merchant_order_id(1, "ord-1").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(
            s.pm_order_by_merchant_order_id(2, "ord-1")
                .await
                .unwrap()
                .map(|o| o.id),
            Some(102)
        );
        assert_eq!(
            s.pm_order_by_merchant_order_id(1, "ord-9").await.unwrap(),
            None
        );

        // An update may keep its own merchant order id, or take a free one, not a taken one.
        let mut tx = s.begin().await.unwrap();
        let mut same = full.clone();
        same.doc = "{\"paid\":true}".into();
        same.intention_id = None;
        same.updated_at = 200;
        assert!(tx.update_pm_order(&same).await.unwrap());
        let mut taken = pm_order(1, 103, Some("ord-1"));
        taken.doc = "{\"x\":1}".into();
        assert!(!tx.update_pm_order(&taken).await.unwrap());
        let mut free = pm_order(1, 104, Some("ord-2"));
        free.updated_at = 210;
        assert!(tx.update_pm_order(&free).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(s.pm_order(100).await.unwrap(), Some(same.clone()));
        assert_eq!(s.pm_order(103).await.unwrap(), Some(pm_order(1, 103, None)));
        assert_eq!(
            s.pm_order_by_merchant_order_id(1, "ord-2").await.unwrap(),
            Some(free.clone())
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_order_waits_for_the_first_transaction() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let mut tx = s.begin().await.unwrap();
        tx.insert_pm_profile(&profile(&a, 1)).await.unwrap();
        assert!(tx.insert_pm_order(&pm_order(1, 100, None)).await.unwrap());
        tx.commit().await.unwrap();
        let committed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut first = s.begin().await.unwrap();
        first.lock_pm_order(100).await.unwrap();
        let second = {
            let (s, committed) = (s.clone(), committed.clone());
            tokio::spawn(async move {
                let mut tx = s.begin().await.unwrap();
                tx.lock_pm_order(100).await.unwrap();
                let after = committed.load(std::sync::atomic::Ordering::SeqCst);
                tx.commit().await.unwrap();
                after
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        committed.store(true, std::sync::atomic::Ordering::SeqCst);
        first.commit().await.unwrap();
        assert!(
            second.await.unwrap(),
            "the second lock came after the commit"
        );
        // Locking changes nothing.
        assert_eq!(s.pm_order(100).await.unwrap(), Some(pm_order(1, 100, None)));
        cleanup(s, pg).await;
    }
}

/// Two transactions give orders of one profile the same merchant order id at once: the second
/// waits for the first and learns the id is taken (`false`), as when they ran one after the
/// other, on both databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_order_id_taken_by_a_concurrent_transaction_is_refused_not_an_error() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let mut tx = s.begin().await.unwrap();
        tx.insert_pm_profile(&profile(&a, 1)).await.unwrap();
        assert!(tx.insert_pm_order(&pm_order(1, 100, None)).await.unwrap());
        tx.commit().await.unwrap();
        // By insert, then by update.
        for (first_id, second) in [
            (101, pm_order(1, 102, Some("dup"))),
            (103, pm_order(1, 100, Some("dup2"))),
        ] {
            let moid = second.merchant_order_id.clone().unwrap();
            let mut first = s.begin().await.unwrap();
            assert!(first
                .insert_pm_order(&pm_order(1, first_id, Some(&moid)))
                .await
                .unwrap());
            let racer = {
                let s = s.clone();
                let second = second.clone();
                tokio::spawn(async move {
                    let mut tx = s.begin().await.unwrap();
                    let done = if second.id == 100 {
                        tx.update_pm_order(&second).await
                    } else {
                        tx.insert_pm_order(&second).await
                    };
                    drop(tx);
                    done
                })
            };
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            first.commit().await.unwrap();
            let got = racer.await.unwrap();
            assert!(matches!(got, Ok(false)), "{moid}: {got:?}");
            assert_eq!(
                s.pm_order_by_merchant_order_id(1, &moid)
                    .await
                    .unwrap()
                    .map(|o| o.id),
                Some(first_id)
            );
        }
        assert_eq!(s.pm_order(100).await.unwrap(), Some(pm_order(1, 100, None)));
        assert_eq!(s.pm_order(102).await.unwrap(), None);
        // Another order's id is still an error, not a taken merchant order id.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .insert_pm_order(&pm_order(1, 100, Some("new")))
            .await
            .is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intentions_and_transactions_round_trip_and_list_by_order_and_parent() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let intention = PmIntention {
            id: "pi_int_1".into(),
            profile_id: 1,
            client_secret: "egy_csk_test_1".into(),
            order_id: 100,
            expires_at: 5_000,
            doc: "{\"amount\":100}".into(),
            created_at: 10,
            updated_at: 11,
        };
        let mut tx = s.begin().await.unwrap();
        tx.insert_pm_profile(&profile(&a, 1)).await.unwrap();
        for o in [100, 200] {
            assert!(tx.insert_pm_order(&pm_order(1, o, None)).await.unwrap());
        }
        tx.insert_pm_intention(&intention).await.unwrap();
        assert_eq!(
            tx.pm_intention("pi_int_1").await.unwrap(),
            Some(intention.clone())
        );
        assert_eq!(tx.pm_intention("pi_none").await.unwrap(), None);
        let mut full = txn(1, 1_002, 100, Some("pi_a"), None);
        full.extra = "{\"card\":\"4242\"}".into();
        for t in [
            full.clone(),
            txn(1, 1_001, 100, Some("pi_b"), None),
            txn(1, 1_004, 100, None, Some(1_002)),
            txn(1, 1_003, 100, None, Some(1_002)),
            txn(1, 1_005, 200, Some("pi_c"), None),
        ] {
            tx.insert_pm_transaction(&t).await.unwrap();
        }
        assert_eq!(tx.pm_transaction(1_002).await.unwrap(), Some(full.clone()));
        assert_eq!(tx.pm_transaction(9).await.unwrap(), None);
        assert_eq!(
            tx.pm_transaction_by_intent("pi_a").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(tx.pm_transaction_by_intent("pi_none").await.unwrap(), None);
        assert_eq!(
            tids(&tx.pm_transactions_of_order(100).await.unwrap()),
            [1_001, 1_002, 1_003, 1_004]
        );
        assert_eq!(tids(&tx.pm_children(1_002).await.unwrap()), [1_003, 1_004]);
        assert!(tx.pm_children(1_001).await.unwrap().is_empty());
        tx.commit().await.unwrap();

        assert_eq!(
            s.pm_intention("pi_int_1").await.unwrap(),
            Some(intention.clone())
        );
        assert_eq!(s.pm_intention("pi_none").await.unwrap(), None);
        assert_eq!(
            s.pm_intention_by_client_secret("egy_csk_test_1")
                .await
                .unwrap(),
            Some(intention.clone())
        );
        assert_eq!(
            s.pm_intention_by_client_secret("pi_int_1").await.unwrap(),
            None
        );
        assert_eq!(s.pm_transaction(1_002).await.unwrap(), Some(full.clone()));
        assert_eq!(s.pm_transaction(9).await.unwrap(), None);
        assert_eq!(
            s.pm_transaction_by_intent("pi_c")
                .await
                .unwrap()
                .map(|t| t.id),
            Some(1_005)
        );
        assert_eq!(s.pm_transaction_by_intent("pi_none").await.unwrap(), None);
        assert_eq!(
            tids(&s.pm_transactions_of_order(100).await.unwrap()),
            [1_001, 1_002, 1_003, 1_004]
        );
        assert_eq!(
            tids(&s.pm_transactions_of_order(200).await.unwrap()),
            [1_005]
        );
        assert!(s.pm_transactions_of_order(300).await.unwrap().is_empty());
        assert_eq!(tids(&s.pm_children(1_002).await.unwrap()), [1_003, 1_004]);
        assert!(s.pm_children(1_005).await.unwrap().is_empty());

        // Updates: an intention's expiry and document; a transaction's object and extra.
        let mut tx = s.begin().await.unwrap();
        let mut i2 = intention.clone();
        i2.expires_at = 9_000;
        i2.doc = "{\"amount\":200}".into();
        i2.updated_at = 20;
        i2.client_secret = "ignored".into();
        i2.order_id = 200;
        tx.update_pm_intention(&i2).await.unwrap();
        let mut t2 = full.clone();
        t2.obj = "{\"id\":1002,\"success\":false}".into();
        t2.extra = "{}".into();
        t2.updated_at = 30;
        t2.kind = "ignored".into();
        t2.intent_id = None;
        tx.update_pm_transaction(&t2).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.pm_intention("pi_int_1").await.unwrap(),
            Some(PmIntention {
                expires_at: 9_000,
                doc: "{\"amount\":200}".into(),
                updated_at: 20,
                ..intention.clone()
            })
        );
        assert_eq!(
            s.pm_transaction(1_002).await.unwrap(),
            Some(PmTransaction {
                obj: t2.obj.clone(),
                extra: "{}".into(),
                updated_at: 30,
                ..full.clone()
            })
        );
        // A client secret and a transaction id are taken once.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .insert_pm_intention(&PmIntention {
                id: "pi_int_2".into(),
                ..intention.clone()
            })
            .await
            .is_err());
        drop(tx);
        let mut tx = s.begin().await.unwrap();
        assert!(tx.insert_pm_transaction(&full).await.is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}
