//! Paymentwall projects, their orders, subscriptions and delivery confirmations.

use super::*;

fn project(m: &str, id: &str, key: &str, created: i64) -> PwProject {
    PwProject {
        id: id.into(),
        merchant_id: m.into(),
        name: format!("project {id}"),
        project_key: key.into(),
        secret_enc: format!("v1:{id}"),
        api_type: "digital_goods".into(),
        pingback_url: None,
        pingback_sign_version: 2,
        widgets: "[]".into(),
        payment_systems: "{}".into(),
        test_method: false,
        custom_pingback: "[]".into(),
        frame_ancestors: None,
        created_at: created,
        settings: "{}".into(),
        secret_hash: None,
    }
}

fn order(p: &PwProject, id: &str, intent: &str, uid: &str, created: i64) -> PwOrder {
    PwOrder {
        id: id.into(),
        project_id: p.id.clone(),
        merchant_id: p.merchant_id.clone(),
        payment_intent_id: intent.into(),
        uid: uid.into(),
        widget: "p1_1".into(),
        params: "[]".into(),
        product: "{}".into(),
        r#ref: None,
        is_test: false,
        created_at: created,
        link_hash: None,
        country: None,
        method: None,
        subscription_id: None,
    }
}

fn oids(v: &[PwOrder]) -> Vec<&str> {
    v.iter().map(|o| o.id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_are_found_by_key_secret_or_id_and_scoped_to_their_merchant() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let mut full = project(&a, "pwp_full", "key_full", 20);
        full.pingback_url = Some("https://shop.example/pb".into());
        full.pingback_sign_version = 3;
        full.widgets = "[\"p1_1\",\"m2_1\"]".into();
        full.payment_systems = "{\"DE\":[\"cc\"]}".into();
        full.test_method = true;
        full.custom_pingback = "[[\"a\",\"b\"]]".into();
        full.frame_ancestors = Some("https://shop.example".into());
        full.settings = "{\"risk_review_delay_seconds\":5}".into();
        full.secret_hash = Some("sh_full".into());
        let older = project(&a, "pwp_old", "key_old", 10);
        let theirs = project(&b, "pwp_b", "key_b", 5);
        let mut tx = s.begin().await.unwrap();
        for p in [&full, &older, &theirs] {
            tx.insert_pw_project(p).await.unwrap();
        }
        assert_eq!(
            tx.pw_project_by_id("pwp_full").await.unwrap(),
            Some(full.clone())
        );
        tx.commit().await.unwrap();
        let got = s.pw_project(&a, "pwp_full").await.unwrap().unwrap();
        assert_eq!(got, full);
        assert_eq!(
            (
                got.secret_enc.as_str(),
                got.secret_hash.as_deref(),
                got.test_method
            ),
            ("v1:pwp_full", Some("sh_full"), true)
        );
        assert_eq!(s.pw_project(&b, "pwp_full").await.unwrap(), None, "tenant");
        assert_eq!(s.pw_project(&a, "pwp_none").await.unwrap(), None);
        assert_eq!(
            s.pw_project_by_id("pwp_b").await.unwrap(),
            Some(theirs.clone())
        );
        assert_eq!(s.pw_project_by_id("pwp_none").await.unwrap(), None);
        assert_eq!(
            s.pw_project_by_secret_hash("sh_full").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(s.pw_project_by_secret_hash("sh_none").await.unwrap(), None);
        assert_eq!(
            s.pw_project_by_key("key_b").await.unwrap(),
            Some(theirs.clone())
        );
        assert_eq!(s.pw_project_by_key("key_none").await.unwrap(), None);
        let listed: Vec<String> = s
            .pw_projects(&a)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(listed, ["pwp_old", "pwp_full"], "oldest first");
        assert_eq!(s.pw_projects(&b).await.unwrap(), [theirs.clone()]);

        // An update writes the settings (the key, secret hash and creation time stay).
        let mut changed = older.clone();
        changed.name = "renamed".into();
        changed.api_type = "virtual_currency".into();
        changed.pingback_url = Some("https://x.example/pb".into());
        changed.pingback_sign_version = 1;
        changed.widgets = "[\"w\"]".into();
        changed.payment_systems = "{\"*\":[]}".into();
        changed.test_method = true;
        changed.custom_pingback = "[[\"c\",\"d\"]]".into();
        changed.frame_ancestors = Some("'self'".into());
        changed.secret_enc = "v1:rotated".into();
        changed.settings = "{\"x\":1}".into();
        let mut foreign = theirs.clone();
        foreign.merchant_id = a.clone();
        foreign.name = "taken".into();
        let mut tx = s.begin().await.unwrap();
        tx.update_pw_project(&changed).await.unwrap();
        tx.update_pw_project(&foreign).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.pw_project(&a, "pwp_old").await.unwrap(),
            Some(changed.clone())
        );
        let got = s.pw_project(&a, "pwp_old").await.unwrap().unwrap();
        assert_eq!(got.secret_enc, "v1:rotated");
        assert_eq!(
            s.pw_project_by_id("pwp_b").await.unwrap().unwrap().name,
            theirs.name,
            "another merchant's project is not written"
        );
        // A project key and a secret hash are taken once.
        let mut dup = project(&a, "pwp_dup", "key_full", 30);
        let mut tx = s.begin().await.unwrap();
        assert!(tx.insert_pw_project(&dup).await.is_err());
        drop(tx);
        dup.project_key = "key_dup".into();
        dup.secret_hash = Some("sh_full".into());
        let mut tx = s.begin().await.unwrap();
        assert!(tx.insert_pw_project(&dup).await.is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_found_by_link_user_and_reference() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let p = project(&a, "pwp_1", "key_1", 1);
        let q = project(&a, "pwp_2", "key_2", 2);
        let intents: Vec<PaymentIntent> = (1..=7)
            .map(|n| new_intent(&a, &format!("pi_{n}"), n))
            .collect();
        insert_intents(&s, &intents.iter().collect::<Vec<_>>()).await;
        let mut full = order(&p, "pwo_full", "pi_1", "u1", 10);
        full.params = "[[\"uid\",\"u1\"]]".into();
        full.product = "{\"id\":\"gold\"}".into();
        full.is_test = true;
        full.link_hash = Some("lh".into());
        full.country = Some("EG".into());
        full.method = Some("cc".into());
        let mut later = order(&p, "pwo_later", "pi_2", "u1", 20);
        later.link_hash = Some("lh".into());
        let mut paid = order(&p, "pwo_paid", "pi_3", "u1", 30);
        paid.link_hash = Some("lh".into());
        let paid_old = order(&p, "pwo_paid_old", "pi_4", "u1", 5);
        let other_user = order(&p, "pwo_u2", "pi_5", "u2", 40);
        let other_project = order(&q, "pwo_q", "pi_6", "u1", 50);
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_project(&p).await.unwrap();
        tx.insert_pw_project(&q).await.unwrap();
        for o in [&full, &later, &paid, &paid_old, &other_user, &other_project] {
            tx.insert_pw_order(o).await.unwrap();
        }
        assert!(!tx.pw_ref_taken("r_paid").await.unwrap());
        assert!(tx.set_pw_order_ref("pwo_paid", "r_paid").await.unwrap());
        assert!(tx.pw_ref_taken("r_paid").await.unwrap());
        assert!(tx.set_pw_order_ref("pwo_paid_old", "r_old").await.unwrap());
        assert!(tx.set_pw_order_ref("pwo_u2", "r_u2").await.unwrap());
        assert!(tx.set_pw_order_ref("pwo_q", "r_q").await.unwrap());
        assert!(!tx.set_pw_order_ref("pwo_none", "r_x").await.unwrap());
        assert_eq!(tx.pw_order("pwo_full").await.unwrap(), Some(full.clone()));
        assert_eq!(tx.pw_order("pwo_none").await.unwrap(), None);
        assert_eq!(
            tx.pw_order_by_intent("pi_2").await.unwrap(),
            Some(later.clone())
        );
        assert_eq!(tx.pw_order_by_intent("pi_7").await.unwrap(), None);
        tx.commit().await.unwrap();
        assert_eq!(s.pw_order("pwo_full").await.unwrap(), Some(full.clone()));
        assert_eq!(s.pw_order("pwo_none").await.unwrap(), None);
        assert_eq!(
            s.pw_order_by_intent("pi_1").await.unwrap(),
            Some(full.clone())
        );
        assert_eq!(s.pw_order_by_intent("pi_7").await.unwrap(), None);
        // A reference names an order within its project.
        assert_eq!(
            s.pw_order_by_ref("pwp_1", "r_paid")
                .await
                .unwrap()
                .unwrap()
                .id,
            "pwo_paid"
        );
        assert_eq!(s.pw_order_by_ref("pwp_2", "r_paid").await.unwrap(), None);
        assert_eq!(s.pw_order_by_ref("pwp_1", "r_none").await.unwrap(), None);
        // Reopening a link finds its newest unpaid order.
        assert_eq!(
            s.pw_open_order_by_link("pwp_1", "lh").await.unwrap(),
            Some(later.clone())
        );
        assert_eq!(s.pw_open_order_by_link("pwp_2", "lh").await.unwrap(), None);
        assert_eq!(
            s.pw_open_order_by_link("pwp_1", "lh_none").await.unwrap(),
            None
        );
        // A user's paid orders: newest first, this project only.
        let paid_u1 = s.pw_paid_orders_by_uid("pwp_1", "u1", 10).await.unwrap();
        assert_eq!(oids(&paid_u1), ["pwo_paid", "pwo_paid_old"]);
        assert_eq!(paid_u1[0].r#ref.as_deref(), Some("r_paid"));
        assert_eq!(
            oids(&s.pw_paid_orders_by_uid("pwp_1", "u1", 1).await.unwrap()),
            ["pwo_paid"]
        );
        assert_eq!(
            oids(&s.pw_paid_orders_by_uid("pwp_2", "u1", 10).await.unwrap()),
            ["pwo_q"]
        );
        assert!(s
            .pw_paid_orders_by_uid("pwp_1", "u9", 10)
            .await
            .unwrap()
            .is_empty());

        // The method chosen on the page; clearing the test flag works too.
        let mut tx = s.begin().await.unwrap();
        tx.set_pw_order_method("pwo_later", "mc", true)
            .await
            .unwrap();
        tx.set_pw_order_method("pwo_full", "cc2", false)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let o = s.pw_order("pwo_later").await.unwrap().unwrap();
        assert_eq!((o.method.as_deref(), o.is_test), (Some("mc"), true));
        let o = s.pw_order("pwo_full").await.unwrap().unwrap();
        assert_eq!((o.method.as_deref(), o.is_test), (Some("cc2"), false));
        // Once paid, the link's open order is the older one; a reference is unique.
        let mut tx = s.begin().await.unwrap();
        assert!(tx.set_pw_order_ref("pwo_later", "r_later").await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(
            s.pw_open_order_by_link("pwp_1", "lh")
                .await
                .unwrap()
                .unwrap()
                .id,
            "pwo_full"
        );
        let mut tx = s.begin().await.unwrap();
        assert!(tx.set_pw_order_ref("pwo_full", "r_paid").await.is_err());
        drop(tx);
        // One order per intent.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .insert_pw_order(&order(&p, "pwo_again", "pi_1", "u1", 60))
            .await
            .is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}

fn subscription(
    p: &PwProject,
    id: &str,
    initial: &str,
    core: Option<&str>,
    created: i64,
) -> PwSubscription {
    PwSubscription {
        id: id.into(),
        project_id: p.id.clone(),
        merchant_id: p.merchant_id.clone(),
        initial_order_id: initial.into(),
        uid: "u1".into(),
        status: "active".into(),
        plan: "{\"main\":{\"name\":\"Gold\"}}".into(),
        phase: "trial".into(),
        payments: 1,
        failed_attempts: 0,
        clock_offset_ms: 0,
        is_test: true,
        created_at: created,
        updated_at: created,
        version: 0,
        subscription_id: core.map(Into::into),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_update_from_the_version_read_and_find_their_paid_orders() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let p = project(&a, "pwp_1", "key_1", 1);
        let q = project(&a, "pwp_2", "key_2", 2);
        let intents: Vec<PaymentIntent> = (1..=5)
            .map(|n| new_intent(&a, &format!("pi_{n}"), n))
            .collect();
        insert_intents(&s, &intents.iter().collect::<Vec<_>>()).await;
        let first = order(&p, "pwo_1", "pi_1", "u1", 10);
        let renewal = order(&p, "pwo_2", "pi_2", "u1", 20);
        let unpaid = order(&p, "pwo_3", "pi_3", "u1", 30);
        let q_order = order(&q, "pwo_q", "pi_4", "u1", 40);
        let sub = subscription(&p, "pws_1", "pwo_1", Some("sub_core"), 50);
        let legacy = subscription(&p, "pws_0", "pwo_1", None, 40);
        let other = subscription(&q, "pws_q", "pwo_q", Some("sub_q"), 60);
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_project(&p).await.unwrap();
        tx.insert_pw_project(&q).await.unwrap();
        for o in [&first, &renewal, &unpaid, &q_order] {
            tx.insert_pw_order(o).await.unwrap();
        }
        for x in [&sub, &legacy, &other] {
            tx.insert_pw_subscription(x).await.unwrap();
        }
        assert_eq!(
            tx.pw_subscription("pws_1").await.unwrap(),
            Some(sub.clone())
        );
        assert_eq!(tx.pw_subscription("pws_none").await.unwrap(), None);
        assert_eq!(
            tx.pw_subscription_of_core("sub_core").await.unwrap(),
            Some(sub.clone())
        );
        assert_eq!(tx.pw_subscription_of_core("sub_none").await.unwrap(), None);
        // Orders paid for the subscription; the unpaid one never counts.
        for (o, r) in [
            ("pwo_1", Some("r1")),
            ("pwo_2", Some("r2")),
            ("pwo_3", None),
        ] {
            tx.set_pw_order_subscription(o, "pws_1").await.unwrap();
            if let Some(r) = r {
                assert!(tx.set_pw_order_ref(o, r).await.unwrap());
            }
        }
        assert_eq!(
            tx.pw_last_paid_order_of_subscription("pws_1")
                .await
                .unwrap()
                .map(|o| o.id),
            Some("pwo_2".to_string())
        );
        tx.commit().await.unwrap();
        assert_eq!(
            s.pw_subscription("pws_0").await.unwrap(),
            Some(legacy.clone())
        );
        assert_eq!(s.pw_subscription("pws_none").await.unwrap(), None);
        let last = s
            .pw_last_paid_order_of_subscription("pws_1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                last.id.as_str(),
                last.subscription_id.as_deref(),
                last.r#ref.as_deref()
            ),
            ("pwo_2", Some("pws_1"), Some("r2"))
        );
        assert_eq!(
            s.pw_last_paid_order_of_subscription("pws_q").await.unwrap(),
            None
        );
        assert_eq!(
            s.pw_order("pwo_3")
                .await
                .unwrap()
                .unwrap()
                .subscription_id
                .as_deref(),
            Some("pws_1")
        );
        let of_p: Vec<String> = s
            .pw_subscriptions_of_project("pwp_1")
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(of_p, ["pws_0", "pws_1"], "oldest first");
        assert_eq!(
            s.pw_subscriptions_of_project("pwp_2").await.unwrap(),
            [other.clone()]
        );

        // Written from the version read: the state fields change and the version goes up.
        let mut tx = s.begin().await.unwrap();
        let mut x = tx.pw_subscription("pws_1").await.unwrap().unwrap();
        let stale = x.clone();
        x.status = "cancelled".into();
        x.phase = "main".into();
        x.payments = 3;
        x.failed_attempts = 2;
        x.clock_offset_ms = 86_400_000;
        x.updated_at = 70;
        tx.update_pw_subscription(&mut x).await.unwrap();
        assert_eq!(x.version, 1);
        let mut stale = stale;
        assert!(matches!(
            tx.update_pw_subscription(&mut stale).await,
            Err(StoreError::Conflict)
        ));
        assert_eq!(stale.version, 0);
        tx.commit().await.unwrap();
        assert_eq!(s.pw_subscription("pws_1").await.unwrap(), Some(x.clone()));
        let mut missing = subscription(&p, "pws_none", "pwo_1", None, 1);
        let mut tx = s.begin().await.unwrap();
        assert!(matches!(
            tx.update_pw_subscription(&mut missing).await,
            Err(StoreError::Conflict)
        ));
        drop(tx);
        // One Paymentwall face per core subscription.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .insert_pw_subscription(&subscription(&p, "pws_dup", "pwo_1", Some("sub_core"), 80))
            .await
            .is_err());
        drop(tx);
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_confirmations_are_listed_per_project_and_reference_in_order() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let p = project(&a, "pwp_1", "key_1", 1);
        let q = project(&a, "pwp_2", "key_2", 2);
        let dc =
            |id: &str, project: &str, r: &str, status: &str, created: i64| PwDeliveryConfirmation {
                id: id.into(),
                project_id: project.into(),
                payment_ref: r.into(),
                status: status.into(),
                payload: format!("{{\"status\":\"{status}\"}}"),
                created_at: created,
            };
        let delivered = dc("dc_2", "pwp_1", "r1", "delivered", 20);
        let order_placed = dc("dc_1", "pwp_1", "r1", "order_placed", 10);
        let same_time = dc("dc_3", "pwp_1", "r1", "order_shipped", 20);
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_project(&p).await.unwrap();
        tx.insert_pw_project(&q).await.unwrap();
        for d in [
            &delivered,
            &order_placed,
            &same_time,
            &dc("dc_4", "pwp_1", "r2", "delivered", 5),
            &dc("dc_5", "pwp_2", "r1", "delivered", 5),
        ] {
            tx.insert_pw_delivery_confirmation(d).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            s.pw_delivery_confirmations("pwp_1", "r1").await.unwrap(),
            [order_placed, delivered, same_time],
            "oldest first, then id"
        );
        assert_eq!(
            s.pw_delivery_confirmations("pwp_2", "r1")
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(s
            .pw_delivery_confirmations("pwp_1", "r9")
            .await
            .unwrap()
            .is_empty());
        cleanup(s, pg).await;
    }
}
