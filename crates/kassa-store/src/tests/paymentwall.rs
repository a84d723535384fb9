//! Paymentwall projects, their orders, subscriptions and delivery confirmations.

use super::*;

pub(super) fn project(m: &str, id: &str, key: &str, created: i64) -> PwProject {
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
        live_project_key: None,
        live_secret_enc: None,
        live_secret_hash: None,
        live_pingback_url: None,
    }
}

pub(super) fn order(p: &PwProject, id: &str, intent: &str, uid: &str, created: i64) -> PwOrder {
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
        livemode: false,
    }
}

fn oids(v: &[PwOrder]) -> Vec<&str> {
    v.iter().map(|o| o.id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_are_found_by_key_secret_or_id_and_scoped_to_their_merchant() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let b = new_merchant(&s, "b").await.merchant_id;
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
        assert_eq!(s.pw_projects(&b).await.unwrap(), vec![theirs.clone()]);

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
        let p = project(&a.merchant_id, "pwp_1", "key_1", 1);
        let q = project(&a.merchant_id, "pwp_2", "key_2", 2);
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
            s.pw_order_by_ref("pwp_1", false, "r_paid")
                .await
                .unwrap()
                .unwrap()
                .id,
            "pwo_paid"
        );
        assert_eq!(
            s.pw_order_by_ref("pwp_2", false, "r_paid").await.unwrap(),
            None
        );
        assert_eq!(
            s.pw_order_by_ref("pwp_1", false, "r_none").await.unwrap(),
            None
        );
        // Reopening a link finds its newest unpaid order.
        assert_eq!(
            s.pw_open_order_by_link("pwp_1", false, "lh").await.unwrap(),
            Some(later.clone())
        );
        assert_eq!(
            s.pw_open_order_by_link("pwp_2", false, "lh").await.unwrap(),
            None
        );
        assert_eq!(
            s.pw_open_order_by_link("pwp_1", false, "lh_none")
                .await
                .unwrap(),
            None
        );
        // A user's paid orders: newest first, this project only.
        let paid_u1 = s
            .pw_paid_orders_by_uid("pwp_1", false, "u1", 10)
            .await
            .unwrap();
        assert_eq!(oids(&paid_u1), ["pwo_paid", "pwo_paid_old"]);
        assert_eq!(paid_u1[0].r#ref.as_deref(), Some("r_paid"));
        assert_eq!(
            oids(
                &s.pw_paid_orders_by_uid("pwp_1", false, "u1", 1)
                    .await
                    .unwrap()
            ),
            ["pwo_paid"]
        );
        assert_eq!(
            oids(
                &s.pw_paid_orders_by_uid("pwp_2", false, "u1", 10)
                    .await
                    .unwrap()
            ),
            ["pwo_q"]
        );
        assert!(s
            .pw_paid_orders_by_uid("pwp_1", false, "u9", 10)
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
            s.pw_open_order_by_link("pwp_1", false, "lh")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paymentwall_order_and_its_prerendered_pingback_round_trip() {
    for (s, pg, _dir) in stores().await {
        let pi = merchant_and_paid_intent(&s, 999).await;
        let project = PwProject {
            id: kassa_core::ids::new_id("pwp"),
            merchant_id: pi.merchant_id.clone(),
            name: "shop".into(),
            project_key: "c22f895840bf2391f67a40da64bfed26".into(),
            secret_enc: "v1:sealed".into(),
            api_type: "digital_goods".into(),
            pingback_url: Some("http://127.0.0.1:1/pb".into()),
            pingback_sign_version: 3,
            widgets: "[\"p1_1\"]".into(),
            payment_systems: "{\"*\":[\"cc\"]}".into(),
            test_method: true,
            custom_pingback: "[]".into(),
            frame_ancestors: None,
            created_at: 5,
            settings: "{}".into(),
            secret_hash: None,
            live_project_key: None,
            live_secret_enc: None,
            live_secret_hash: None,
            live_pingback_url: None,
        };
        let order = PwOrder {
            id: kassa_core::ids::new_id("pwo"),
            project_id: project.id.clone(),
            merchant_id: pi.merchant_id.clone(),
            payment_intent_id: pi.id.clone(),
            uid: "user40012".into(),
            widget: "p1_1".into(),
            params: "[]".into(),
            product: "{}".into(),
            r#ref: None,
            is_test: false,
            created_at: 6,
            link_hash: Some("h".into()),
            country: Some("DE".into()),
            method: None,
            subscription_id: None,
            livemode: false,
        };
        let ev = Event {
            id: kassa_core::ids::new_id("evt"),
            merchant_id: pi.merchant_id.clone(),
            livemode: pi.livemode,
            event_type: EventType::PaymentIntentSucceeded,
            object: serde_json::json!({}),
            created: 7,
        };
        let url = "http://127.0.0.1:1/pb?uid=user40012&goodsid=product301&slength=&speriod=&type=0&ref=b1&sign_version=3&sig=x";
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_project(&project).await.unwrap();
        tx.insert_pw_order(&order).await.unwrap();
        assert!(tx.set_pw_order_ref(&order.id, "b1").await.unwrap());
        assert!(
            !tx.set_pw_order_ref(&order.id, "b2").await.unwrap(),
            "a ref is set once"
        );
        tx.insert_event(&ev, &pi.id).await.unwrap();
        tx.insert_request_delivery(&pi.scope(), Channel::Pingback, &project.id, &ev.id, url, 7)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let found = s
            .pw_project_by_key(&project.project_key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, project);
        assert!(s
            .pw_project("acct_other", &project.id)
            .await
            .unwrap()
            .is_none());
        let o = s.pw_order_by_intent(&pi.id).await.unwrap().unwrap();
        assert_eq!(o.r#ref.as_deref(), Some("b1"));
        assert_eq!(
            s.pw_order_by_ref(&project.id, false, "b1")
                .await
                .unwrap()
                .unwrap()
                .id,
            order.id
        );
        let claimed = s.claim_deliveries("w", 100, 1_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].channel, Channel::Pingback);
        assert_eq!(
            claimed[0].request_url.as_deref(),
            Some(url),
            "the query is stored byte for byte"
        );
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_keys_find_their_project_and_say_its_mode() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await.merchant_id;
        let b = new_merchant(&s, "b").await.merchant_id;
        let mut p = project(&a, "pwp_1", "key_1", 1);
        p.secret_hash = Some("sh_1".into());
        p.live_project_key = Some("lkey_1".into());
        p.live_secret_enc = Some("v1:live".into());
        p.live_secret_hash = Some("lsh_1".into());
        p.live_pingback_url = Some("https://shop.example/live-pb".into());
        // Projects without a live pair (made before live keys) live side by side.
        let old = project(&a, "pwp_old", "key_old", 2);
        let theirs = project(&b, "pwp_b", "key_b", 3);
        let mut tx = s.begin().await.unwrap();
        for x in [&p, &old, &theirs] {
            tx.insert_pw_project(x).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(s.pw_project(&a, "pwp_1").await.unwrap(), Some(p.clone()));
        assert_eq!(
            s.pw_project(&a, "pwp_old").await.unwrap(),
            Some(old.clone())
        );

        // Either key finds the project; the row says which mode the key is.
        let by_live = s.pw_project_by_key("lkey_1").await.unwrap().unwrap();
        assert_eq!(by_live, p);
        assert_eq!(by_live.mode_of_key("lkey_1"), Some(Mode::Live));
        let by_test = s.pw_project_by_key("key_1").await.unwrap().unwrap();
        assert_eq!(by_test.mode_of_key("key_1"), Some(Mode::Test));
        assert_eq!(by_test.mode_of_key("key_old"), None);
        assert_eq!(old.mode_of_key("lkey_1"), None);
        // Either secret's hash finds it too.
        let by_live = s.pw_project_by_secret_hash("lsh_1").await.unwrap().unwrap();
        assert_eq!(by_live, p);
        assert_eq!(by_live.mode_of_secret_hash("lsh_1"), Some(Mode::Live));
        assert_eq!(by_live.mode_of_secret_hash("sh_1"), Some(Mode::Test));
        assert_eq!(by_live.mode_of_secret_hash("nope"), None);
        assert_eq!(s.pw_project_by_secret_hash("lsh_none").await.unwrap(), None);
        assert_eq!(s.pw_project_by_key("lkey_none").await.unwrap(), None);
        assert_eq!(p.scope(Mode::Live), Scope::live(&a));
        assert_eq!(p.scope(Mode::Test), Scope::test(&a));

        // A live key and a live secret hash are taken once.
        let mut dup = project(&a, "pwp_dup", "key_dup", 4);
        dup.live_project_key = Some("lkey_1".into());
        let mut tx = s.begin().await.unwrap();
        assert!(tx.insert_pw_project(&dup).await.is_err());
        drop(tx);
        dup.live_project_key = Some("lkey_dup".into());
        dup.live_secret_hash = Some("lsh_1".into());
        let mut tx = s.begin().await.unwrap();
        assert!(tx.insert_pw_project(&dup).await.is_err());
        drop(tx);

        // An old project gets its live pair; another merchant cannot give it one.
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .set_pw_project_live_keys(&a, "pwp_old", "lkey_old", "v1:lo", "lsh_old")
            .await
            .unwrap());
        assert!(!tx
            .set_pw_project_live_keys(&a, "pwp_b", "lkey_x", "v1:x", "lsh_x")
            .await
            .unwrap());
        // The same live key as another project's is refused.
        tx.commit().await.unwrap();
        let mut tx = s.begin().await.unwrap();
        assert!(tx
            .set_pw_project_live_keys(&a, "pwp_1", "lkey_old", "v1:y", "lsh_y")
            .await
            .is_err());
        drop(tx);
        let got = s.pw_project_by_key("lkey_old").await.unwrap().unwrap();
        assert_eq!(got.id, "pwp_old");
        assert_eq!(
            (
                got.live_secret_enc.as_deref(),
                got.live_secret_hash.as_deref()
            ),
            (Some("v1:lo"), Some("lsh_old"))
        );
        assert_eq!(s.pw_project_by_id("pwp_b").await.unwrap(), Some(theirs));

        // An update writes the live pingback URL and never the keys.
        let mut changed = p.clone();
        changed.live_pingback_url = None;
        changed.live_project_key = Some("lkey_changed".into());
        changed.live_secret_hash = Some("lsh_changed".into());
        let mut tx = s.begin().await.unwrap();
        tx.update_pw_project(&changed).await.unwrap();
        tx.commit().await.unwrap();
        let got = s.pw_project(&a, "pwp_1").await.unwrap().unwrap();
        assert_eq!(got.live_pingback_url, None);
        assert_eq!(got.live_project_key.as_deref(), Some("lkey_1"));
        assert_eq!(got.live_secret_hash.as_deref(), Some("lsh_1"));
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_subscriptions_are_found_in_their_own_mode_only() {
    for (s, pg, _dir) in stores().await {
        let test = new_merchant(&s, "a").await;
        let live = Scope::live(&test.merchant_id);
        let p = project(&test.merchant_id, "pwp_1", "key_1", 1);
        let pi_t = new_intent(&test, "pi_t", 1);
        let pi_l = new_intent(&live, "pi_l", 2);
        let pi_lo = new_intent(&live, "pi_lo", 3);
        let pi_to = new_intent(&test, "pi_to", 4);
        insert_intents(&s, &[&pi_t, &pi_l, &pi_lo, &pi_to]).await;
        let mut t = order(&p, "pwo_t", "pi_t", "u1", 10);
        t.link_hash = Some("lh".into());
        t.is_test = true;
        let mut l = order(&p, "pwo_l", "pi_l", "u1", 20);
        l.link_hash = Some("lh".into());
        l.livemode = true;
        // Unpaid orders of the same link hash, one per mode.
        let mut lo = order(&p, "pwo_lo", "pi_lo", "u1", 30);
        lo.link_hash = Some("lh2".into());
        lo.livemode = true;
        let mut to = order(&p, "pwo_to", "pi_to", "u1", 40);
        to.link_hash = Some("lh2".into());
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_project(&p).await.unwrap();
        for o in [&t, &l, &lo, &to] {
            tx.insert_pw_order(o).await.unwrap();
        }
        assert!(tx.set_pw_order_ref("pwo_t", "r_test").await.unwrap());
        assert!(tx.set_pw_order_ref("pwo_l", "r_live").await.unwrap());
        assert!(tx.pw_order("pwo_l").await.unwrap().unwrap().livemode);
        tx.commit().await.unwrap();
        let got = s.pw_order("pwo_l").await.unwrap().unwrap();
        assert!(got.livemode);
        assert_eq!(got.scope(), live);
        assert_eq!(s.pw_order("pwo_t").await.unwrap().unwrap().scope(), test);
        assert_eq!(
            s.pw_order_by_intent("pi_l").await.unwrap().unwrap().id,
            "pwo_l"
        );

        // A reference is found in its own mode; the other mode sees nothing.
        assert_eq!(
            s.pw_order_by_ref("pwp_1", true, "r_live")
                .await
                .unwrap()
                .unwrap()
                .id,
            "pwo_l"
        );
        assert_eq!(
            s.pw_order_by_ref("pwp_1", false, "r_live").await.unwrap(),
            None
        );
        assert_eq!(
            s.pw_order_by_ref("pwp_1", false, "r_test")
                .await
                .unwrap()
                .unwrap()
                .id,
            "pwo_t"
        );
        assert_eq!(
            s.pw_order_by_ref("pwp_1", true, "r_test").await.unwrap(),
            None
        );
        // A user's paid orders, per mode.
        assert_eq!(
            oids(
                &s.pw_paid_orders_by_uid("pwp_1", true, "u1", 10)
                    .await
                    .unwrap()
            ),
            ["pwo_l"]
        );
        assert_eq!(
            oids(
                &s.pw_paid_orders_by_uid("pwp_1", false, "u1", 10)
                    .await
                    .unwrap()
            ),
            ["pwo_t"]
        );
        // A link's open order, per mode.
        assert_eq!(
            s.pw_open_order_by_link("pwp_1", true, "lh2")
                .await
                .unwrap()
                .unwrap()
                .id,
            "pwo_lo"
        );
        assert_eq!(
            s.pw_open_order_by_link("pwp_1", false, "lh2")
                .await
                .unwrap()
                .unwrap()
                .id,
            "pwo_to"
        );
        assert_eq!(
            s.pw_open_order_by_link("pwp_1", true, "lh").await.unwrap(),
            None
        );

        // Subscriptions carry their mode and are listed per mode.
        let sub = |id: &str, initial: &str, livemode: bool| PwSubscription {
            id: id.into(),
            project_id: p.id.clone(),
            merchant_id: p.merchant_id.clone(),
            initial_order_id: initial.into(),
            uid: "u1".into(),
            status: "active".into(),
            plan: "{}".into(),
            phase: "main".into(),
            payments: 1,
            failed_attempts: 0,
            clock_offset_ms: 0,
            is_test: !livemode,
            created_at: 50,
            updated_at: 50,
            version: 0,
            subscription_id: None,
            livemode,
        };
        let (st, sl) = (sub("pws_t", "pwo_t", false), sub("pws_l", "pwo_l", true));
        let mut tx = s.begin().await.unwrap();
        tx.insert_pw_subscription(&st).await.unwrap();
        tx.insert_pw_subscription(&sl).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(s.pw_subscription("pws_l").await.unwrap(), Some(sl.clone()));
        assert_eq!(sl.scope(), live);
        assert_eq!(st.scope(), test);
        assert_eq!(
            s.pw_subscriptions_of_project("pwp_1", true).await.unwrap(),
            vec![sl]
        );
        assert_eq!(
            s.pw_subscriptions_of_project("pwp_1", false).await.unwrap(),
            vec![st]
        );
        cleanup(s, pg).await;
    }
}
