//! The dashboard's Payments list: filters, paging, and finding payments by any id a merchant
//! holds, always within one merchant and mode.

use kassa_core::intent::{IntentStatus, Refund, RefundKind, RefundStatus};
use kassa_core::method_details::PaymentMethodDetails;
use kassa_core::money::Currency;

use super::paymentwall::{order as pw_order, project};
use super::paymob::{pm_order, profile};
use super::*;

fn ids(v: &[PaymentIntent]) -> Vec<&str> {
    v.iter().map(|p| p.id.as_str()).collect()
}

fn card(last4: &str) -> PaymentMethodDetails {
    PaymentMethodDetails {
        kind: "card".into(),
        brand: "visa".into(),
        bin: Some("424242".into()),
        last4: last4.into(),
        exp_month: 12,
        exp_year: 2034,
        fingerprint: "fp".into(),
        id: None,
    }
}

/// A payment transaction of a Paymob order for `intent`.
fn pm_txn(profile_id: i64, id: i64, order: i64, intent: &str) -> PmTransaction {
    PmTransaction {
        id,
        profile_id,
        order_id: order,
        intent_id: Some(intent.into()),
        parent_id: None,
        kind: "payment".into(),
        obj: "{}".into(),
        extra: "{}".into(),
        created_at: id,
        updated_at: id,
    }
}

/// An intention for a Paymob order.
fn pm_intention(profile_id: i64, id: &str, secret: &str, order: i64) -> PmIntention {
    PmIntention {
        id: id.into(),
        profile_id,
        client_secret: secret.into(),
        order_id: order,
        expires_at: 1,
        doc: "{}".into(),
        created_at: 1,
        updated_at: 1,
    }
}

/// What [`seed`] wrote.
struct Seeded {
    scope: Scope,
    /// Every payment of `scope`, newest first.
    all: Vec<String>,
}

/// One merchant's payments of every kind in `scope`, created from `t0` on, with `n` (1 or 2)
/// numbering its Paymentwall and Paymob objects. Another merchant's and the other mode's
/// payments are written with the same shapes so any leak shows in the tests.
async fn seed(s: &Store, scope: &Scope, n: i64, t0: i64) -> Seeded {
    let tag = |name: &str| format!("pi_{name}_{n}_{}", i64::from(scope.livemode));
    let mut all = Vec::new();
    let mut tx = s.begin().await.unwrap();
    let live = i64::from(scope.livemode);
    // Paymob profile and Paymentwall project of this merchant and mode.
    let mut prof = profile(&scope.merchant_id, 10 * n + live);
    prof.live = scope.livemode;
    tx.insert_pm_profile(&prof).await.unwrap();
    let proj = project(
        &scope.merchant_id,
        &format!("pwp_{n}_{live}"),
        &format!("key_{n}_{live}"),
        1,
    );
    tx.insert_pw_project(&proj).await.unwrap();

    // Native payments.
    let mut paid = new_intent(scope, &tag("paid"), t0);
    paid.status = IntentStatus::Succeeded;
    paid.amount = 5_000;
    paid.amount_received = 5_000;
    paid.payment_method = Some(card("4242"));
    paid.customer = Some(format!("cus_{n}"));
    let mut eur = new_intent(scope, &tag("eur"), t0 + 1);
    eur.currency = Currency::parse("eur").unwrap();
    eur.amount = 250;
    eur.receipt_email = Some("Shopper@Example.COM".into());
    let mut held = new_intent(scope, &tag("held"), t0 + 2);
    held.status = IntentStatus::RequiresCapture;
    held.amount = 9_999;
    held.amount_capturable = 9_999;
    held.payment_method = Some(card("0005"));
    held.receipt_email = Some("other@example.com".into());
    // Two payments created in the same millisecond: the id orders them.
    let mut twin_a = new_intent(scope, &tag("twin_a"), t0 + 3);
    twin_a.customer = Some(format!("cus_{n}"));
    let twin_b = new_intent(scope, &tag("twin_b"), t0 + 3);
    for p in [&paid, &eur, &held, &twin_a, &twin_b] {
        tx.insert_intent(p).await.unwrap();
    }

    // A Paymentwall order's payment, paid, with its `ref`.
    let pw_id = format!("pwo_{n}_{live}");
    let mut pw = new_intent(scope, &tag("pw"), t0 + 4);
    pw.status = IntentStatus::Succeeded;
    pw.amount_received = pw.amount;
    pw.order_key = Some(format!("paymentwall:{pw_id}"));
    pw.payment_method = Some(card("1111"));
    tx.insert_intent(&pw).await.unwrap();
    let mut o = pw_order(&proj, &pw_id, &pw.id, "uid", t0 + 4);
    o.livemode = scope.livemode;
    tx.insert_pw_order(&o).await.unwrap();
    assert!(tx
        .set_pw_order_ref(&pw_id, &format!("b{n}{live}000"))
        .await
        .unwrap());

    // Paymob: an intention's order paid on the second try (the order key is the paid one's
    // only), and a legacy order without an intention whose payment has no order key. The face
    // writes the order first and names it and the transaction in each payment's metadata.
    let intention_order = 217_500_000 + 10 * n + live;
    let legacy_order = 217_600_000 + 10 * n + live;
    let mut om = pm_order(prof.id, intention_order, Some(&format!("ORDER-{n}")));
    om.intention_id = Some(format!("pi_test_{n}{live}"));
    tx.insert_pm_order(&om).await.unwrap();
    tx.insert_pm_order(&pm_order(
        prof.id,
        legacy_order,
        Some(&format!("LEGACY-{n}")),
    ))
    .await
    .unwrap();
    tx.insert_pm_intention(&pm_intention(
        prof.id,
        &format!("pi_test_{n}{live}"),
        &format!("egy_csk_test_{n}{live}"),
        intention_order,
    ))
    .await
    .unwrap();
    let txn = |k: i64| 192_000_000 + 100 * n + 10 * live + k;
    let paymob = |name: &str, created: i64, order: i64, txn: i64| {
        let mut p = new_intent(scope, &tag(name), created);
        p.metadata.insert("paymob_order".into(), order.to_string());
        p.metadata
            .insert("paymob_transaction".into(), txn.to_string());
        p
    };
    let mut pm_first = paymob("pm_first", t0 + 5, intention_order, txn(1));
    pm_first.status = IntentStatus::Canceled;
    let mut pm_paid = paymob("pm_paid", t0 + 6, intention_order, txn(2));
    pm_paid.status = IntentStatus::Succeeded;
    pm_paid.amount_received = pm_paid.amount;
    pm_paid.order_key = Some(format!("paymob:{intention_order}"));
    pm_paid.currency = Currency::parse("egp").unwrap();
    let mut pm_legacy = paymob("pm_legacy", t0 + 7, legacy_order, txn(3));
    pm_legacy.currency = Currency::parse("egp").unwrap();
    pm_legacy.amount = 250;
    for (p, k, order) in [
        (&pm_first, 1, intention_order),
        (&pm_paid, 2, intention_order),
        (&pm_legacy, 3, legacy_order),
    ] {
        tx.insert_intent(p).await.unwrap();
        tx.insert_pm_transaction(&pm_txn(prof.id, txn(k), order, &p.id))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    for p in [
        &pm_legacy, &pm_paid, &pm_first, &pw, &twin_b, &twin_a, &held, &eur, &paid,
    ] {
        all.push(p.id.clone());
    }
    Seeded {
        scope: scope.clone(),
        all,
    }
}

/// Every page of the filtered list, `limit` at a time; asserts the pages end with a short one.
async fn all_pages(s: &Store, scope: &Scope, f: &PaymentFilter, limit: i64) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = s
            .dashboard_payments(scope, f, limit, cursor.as_deref())
            .await
            .unwrap()
            .expect("the cursor is one of the scope's payments");
        out.extend(page.iter().map(|p| p.id.clone()));
        if (page.len() as i64) < limit {
            return out;
        }
        cursor = page.last().map(|p| p.id.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_narrows_the_list_and_pages_follow_it() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let a_live = Scope {
            merchant_id: a.merchant_id.clone(),
            livemode: true,
        };
        let mine = seed(&s, &a, 1, 1_000).await;
        // The same shapes, newer, for another merchant and for the other mode.
        let theirs = seed(&s, &b, 2, 2_000).await;
        let live = seed(&s, &a_live, 1, 3_000).await;
        // A customer of `a` whose e-mail the payments themselves do not carry.
        let mut tx = s.begin().await.unwrap();
        tx.insert_customer(&super::customers::customer(
            &a,
            "cus_1",
            Some("Buyer@Example.com"),
            1,
        ))
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let list = |f: PaymentFilter| {
            let (s, scope) = (s.clone(), a.clone());
            async move {
                let page = s
                    .dashboard_payments(&scope, &f, 100, None)
                    .await
                    .unwrap()
                    .unwrap();
                page.into_iter().map(|p| p.id).collect::<Vec<_>>()
            }
        };
        let id = |name: &str| format!("pi_{name}_1_0");
        let ids_of = |names: &[&str]| names.iter().map(|n| id(n)).collect::<Vec<_>>();

        assert_eq!(
            list(PaymentFilter::default()).await,
            mine.all,
            "newest first"
        );
        assert_eq!(
            list(PaymentFilter {
                status: Some("succeeded".into()),
                ..Default::default()
            })
            .await,
            ids_of(&["pm_paid", "pw", "paid"])
        );
        assert!(list(PaymentFilter {
            status: Some("no_such_status".into()),
            ..Default::default()
        })
        .await
        .is_empty());
        assert_eq!(
            list(PaymentFilter {
                currency: Some("egp".into()),
                ..Default::default()
            })
            .await,
            ids_of(&["pm_legacy", "pm_paid"]),
            "the code in either case"
        );
        assert_eq!(
            list(PaymentFilter {
                amount_min: Some(1_000),
                amount_max: Some(5_000),
                ..Default::default()
            })
            .await,
            ids_of(&["pm_paid", "pm_first", "pw", "twin_b", "twin_a", "paid"]),
            "both bounds inclusive"
        );
        assert_eq!(
            list(PaymentFilter {
                amount_min: Some(5_001),
                ..Default::default()
            })
            .await,
            ids_of(&["held"])
        );
        assert_eq!(
            list(PaymentFilter {
                amount_max: Some(250),
                ..Default::default()
            })
            .await,
            ids_of(&["pm_legacy", "eur"])
        );
        assert_eq!(
            list(PaymentFilter {
                created_from: Some(1_002),
                created_to: Some(1_004),
                ..Default::default()
            })
            .await,
            ids_of(&["twin_b", "twin_a", "held"]),
            "from inclusive, to exclusive"
        );
        assert_eq!(
            list(PaymentFilter {
                customer: Some("cus_1".into()),
                ..Default::default()
            })
            .await,
            ids_of(&["twin_a", "paid"])
        );
        assert_eq!(
            list(PaymentFilter {
                customer: Some("shopper@example.com".into()),
                ..Default::default()
            })
            .await,
            ids_of(&["eur"]),
            "the receipt e-mail, in any case"
        );
        assert_eq!(
            list(PaymentFilter {
                customer: Some(" BUYER@example.com ".into()),
                ..Default::default()
            })
            .await,
            ids_of(&["twin_a", "paid"]),
            "the customer's e-mail names its payments"
        );
        assert!(list(PaymentFilter {
            customer: Some("nobody@example.com".into()),
            ..Default::default()
        })
        .await
        .is_empty());
        assert_eq!(
            list(PaymentFilter {
                last4: Some("0005".into()),
                ..Default::default()
            })
            .await,
            ids_of(&["held"])
        );
        assert_eq!(
            list(PaymentFilter {
                face: Some(Face::Paymentwall),
                ..Default::default()
            })
            .await,
            ids_of(&["pw"])
        );
        assert_eq!(
            list(PaymentFilter {
                face: Some(Face::Paymob),
                ..Default::default()
            })
            .await,
            ids_of(&["pm_legacy", "pm_paid", "pm_first"]),
            "with and without an order key"
        );
        assert_eq!(
            list(PaymentFilter {
                face: Some(Face::Native),
                ..Default::default()
            })
            .await,
            ids_of(&["twin_b", "twin_a", "held", "eur", "paid"])
        );
        // Filters combine.
        assert_eq!(
            list(PaymentFilter {
                status: Some("succeeded".into()),
                face: Some(Face::Native),
                customer: Some("cus_1".into()),
                last4: Some("4242".into()),
                currency: Some("USD".into()),
                amount_min: Some(5_000),
                amount_max: Some(5_000),
                created_from: Some(1_000),
                created_to: Some(1_001),
            })
            .await,
            ids_of(&["paid"])
        );
        assert!(list(PaymentFilter {
            status: Some("succeeded".into()),
            face: Some(Face::Native),
            currency: Some("eur".into()),
            ..Default::default()
        })
        .await
        .is_empty());

        // Every page of a list, however it is cut, holds each payment once and in order.
        for limit in [1, 2, 3, 4, 9, 10] {
            assert_eq!(
                all_pages(&s, &a, &PaymentFilter::default(), limit).await,
                mine.all,
                "limit {limit}"
            );
        }
        let succeeded = PaymentFilter {
            status: Some("succeeded".into()),
            ..Default::default()
        };
        assert_eq!(
            all_pages(&s, &a, &succeeded, 1).await,
            ids_of(&["pm_paid", "pw", "paid"])
        );
        // The cursor only has to be the scope's: a payment that no longer passes the filter
        // still marks where the next page starts.
        let after_held = s
            .dashboard_payments(&a, &succeeded, 10, Some(&id("held")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids(&after_held), ["pi_paid_1_0"]);
        assert!(s
            .dashboard_payments(&a, &succeeded, 0, None)
            .await
            .unwrap()
            .unwrap()
            .is_empty());
        // Another merchant's or the other mode's payment is no cursor.
        for foreign in [&theirs.all[0], &live.all[0], &"pi_none".to_string()] {
            assert_eq!(
                s.dashboard_payments(&a, &PaymentFilter::default(), 10, Some(foreign))
                    .await
                    .unwrap(),
                None
            );
        }
        // The other merchant and the other mode see their own only, through every filter.
        for seeded in [&theirs, &live] {
            let all = all_pages(&s, &seeded.scope, &PaymentFilter::default(), 4).await;
            assert_eq!(all, seeded.all);
            for face in [Face::Native, Face::Paymentwall, Face::Paymob] {
                let page = s
                    .dashboard_payments(
                        &seeded.scope,
                        &PaymentFilter {
                            face: Some(face),
                            ..Default::default()
                        },
                        100,
                        None,
                    )
                    .await
                    .unwrap()
                    .unwrap();
                assert!(!page.is_empty());
                assert!(page.iter().all(|p| seeded.all.contains(&p.id)), "{face:?}");
            }
        }

        // The last four digits follow the payment method as it changes.
        let mut eur = s.intent(&a, &id("eur")).await.unwrap().unwrap();
        eur.payment_method = Some(card("0005"));
        let mut tx = s.begin().await.unwrap();
        tx.update_intent(&mut eur).await.unwrap();
        tx.commit().await.unwrap();
        let by_last4 = PaymentFilter {
            last4: Some("0005".into()),
            ..Default::default()
        };
        assert_eq!(list(by_last4.clone()).await, ids_of(&["held", "eur"]));
        eur.payment_method = None;
        let mut tx = s.begin().await.unwrap();
        tx.update_intent(&mut eur).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(list(by_last4).await, ids_of(&["held"]));
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_found_by_every_id_its_merchant_holds_and_only_by_it() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let a_live = Scope {
            merchant_id: a.merchant_id.clone(),
            livemode: true,
        };
        seed(&s, &a, 1, 1_000).await;
        seed(&s, &b, 2, 2_000).await;
        seed(&s, &a_live, 1, 3_000).await;
        // A refund and an attempt with the processor's reference, for `a`'s paid payment.
        let paid = "pi_paid_1_0";
        let mut tx = s.begin().await.unwrap();
        tx.insert_refund(&Refund {
            id: "re_1".into(),
            merchant_id: a.merchant_id.clone(),
            livemode: false,
            payment_intent_id: paid.into(),
            amount: 100,
            currency: Currency::parse("usd").unwrap(),
            status: RefundStatus::Succeeded,
            kind: RefundKind::Refund,
            reason: None,
            metadata: Default::default(),
            processor_ref: None,
            created: 1_100,
        })
        .await
        .unwrap();
        tx.insert_attempt(&PaymentAttempt {
            id: "pa_1".into(),
            payment_intent_id: paid.into(),
            status: kassa_core::intent::AttemptStatus::Succeeded,
            payment_method: None,
            processor_ref: Some("ch_3Xyz".into()),
            challenge_state: None,
            error: None,
            created_at: 1_000,
            updated_at: 1_000,
        })
        .await
        .unwrap();
        // A refund of the paid Paymob payment, as Paymob's own child transaction.
        tx.insert_pm_transaction(&PmTransaction {
            intent_id: None,
            parent_id: Some(192_000_000 + 100 + 2),
            kind: "refund".into(),
            ..pm_txn(10, 192_000_000 + 100 + 9, 217_500_000 + 10, "")
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let find = |scope: &Scope, q: &str| {
            let (s, scope, q) = (s.clone(), scope.clone(), q.to_string());
            async move {
                s.find_payments_by_reference(&scope, &q)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|p| p.id)
                    .collect::<Vec<_>>()
            }
        };
        let intention_order = (217_500_000 + 10).to_string();
        let legacy_order = (217_600_000 + 10).to_string();
        let cases: Vec<(&str, String, Vec<&str>)> = vec![
            ("payment id", paid.into(), vec![paid]),
            ("refund id", "re_1".into(), vec![paid]),
            ("processor reference", "ch_3Xyz".into(), vec![paid]),
            ("Paymentwall order", "pwo_1_0".into(), vec!["pi_pw_1_0"]),
            ("Paymentwall ref", "b10000".into(), vec!["pi_pw_1_0"]),
            (
                "Paymob order",
                intention_order.clone(),
                vec!["pi_pm_paid_1_0", "pi_pm_first_1_0"],
            ),
            (
                "Paymob legacy order",
                legacy_order,
                vec!["pi_pm_legacy_1_0"],
            ),
            (
                "Paymob transaction",
                (192_000_000 + 100 + 2).to_string(),
                vec!["pi_pm_paid_1_0"],
            ),
            (
                "Paymob refund transaction",
                (192_000_000 + 100 + 9).to_string(),
                vec!["pi_pm_paid_1_0"],
            ),
            (
                "Paymob merchant order id",
                "ORDER-1".into(),
                vec!["pi_pm_paid_1_0", "pi_pm_first_1_0"],
            ),
            (
                "Paymob intention",
                "pi_test_10".into(),
                vec!["pi_pm_paid_1_0", "pi_pm_first_1_0"],
            ),
            (
                "Paymob client secret",
                "egy_csk_test_10".into(),
                vec!["pi_pm_paid_1_0", "pi_pm_first_1_0"],
            ),
            ("padded", format!("  {paid}\n"), vec![paid]),
        ];
        for (what, q, want) in &cases {
            assert_eq!(find(&a, q).await, *want, "{what}");
        }
        // Every one of those ids of `a`'s test payments finds nothing for another merchant, nor
        // in `a`'s live mode (whose own objects have other ids).
        for (what, q, _) in &cases {
            assert!(find(&b, q).await.is_empty(), "{what} for another merchant");
            if q != "ORDER-1" {
                assert!(find(&a_live, q).await.is_empty(), "{what} in live mode");
            }
        }
        // The merchant chose the same order id in both modes: each mode finds its own payments.
        assert_eq!(
            find(&a_live, "ORDER-1").await,
            ["pi_pm_paid_1_1", "pi_pm_first_1_1"]
        );
        // Their own ids find their own payments.
        assert_eq!(find(&b, "ORDER-2").await.len(), 2);
        assert_eq!(find(&b, "b20000").await, ["pi_pw_2_0"]);
        assert_eq!(find(&a_live, "pwo_1_1").await, ["pi_pw_1_1"]);
        assert_eq!(
            find(&a_live, &(217_600_000 + 11).to_string()).await,
            ["pi_pm_legacy_1_1"]
        );
        // Nothing, however it is asked.
        for q in [
            "",
            "   ",
            "pi_none",
            "0",
            "-1",
            "99999999999999999999",
            "%",
            "_",
        ] {
            assert!(find(&a, q).await.is_empty(), "{q:?}");
        }
        assert!(find(&a, &"x".repeat(10_000)).await.is_empty());
        cleanup(s, pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payments_face_is_written_with_it_and_paymob_metadata_alone_does_not_make_one() {
    for (s, pg, _dir) in stores().await {
        let a = new_merchant(&s, "a").await;
        let b = new_merchant(&s, "b").await;
        let a_live = Scope {
            merchant_id: a.merchant_id.clone(),
            livemode: true,
        };
        seed(&s, &a, 1, 1_000).await;
        seed(&s, &b, 2, 2_000).await;
        seed(&s, &a_live, 1, 3_000).await;
        // Paymob's metadata naming an order of `a`'s test profile makes a Paymob payment; naming
        // another merchant's order, an order of the other mode, no order, or lacking the
        // transaction leaves a payment native.
        let with = |id: &str, order: &str, txn: bool| {
            let mut p = new_intent(&a, id, 5_000);
            p.metadata.insert("paymob_order".into(), order.into());
            if txn {
                p.metadata.insert("paymob_transaction".into(), "1".into());
            }
            p
        };
        let paymob = with("pi_made_by_paymob", "217500010", true);
        let natives = [
            with("pi_other_merchant", "217500020", true),
            with("pi_other_mode", "217500011", true),
            with("pi_no_such_order", "999", true),
            with("pi_not_a_number", "x217500010", true),
            with("pi_no_transaction", "217500010", false),
        ];
        let mut all: Vec<&PaymentIntent> = natives.iter().collect();
        all.push(&paymob);
        insert_intents(&s, &all).await;
        let of_face = |face: Face| {
            let (s, a) = (s.clone(), a.clone());
            async move {
                s.dashboard_payments(
                    &a,
                    &PaymentFilter {
                        face: Some(face),
                        created_from: Some(5_000),
                        ..Default::default()
                    },
                    100,
                    None,
                )
                .await
                .unwrap()
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect::<Vec<_>>()
            }
        };
        assert_eq!(of_face(Face::Paymob).await, ["pi_made_by_paymob"]);
        assert_eq!(
            of_face(Face::Native).await,
            [
                "pi_other_mode",
                "pi_other_merchant",
                "pi_not_a_number",
                "pi_no_transaction",
                "pi_no_such_order",
            ]
        );
        assert!(of_face(Face::Paymentwall).await.is_empty());
        for face in [Face::Native, Face::Paymentwall, Face::Paymob] {
            assert_eq!(Face::parse(face.as_str()), Some(face));
        }
        assert_eq!(Face::parse("Paymob"), None);
        cleanup(s, pg).await;
    }
}

/// Payments stored before migration 0022 get their last four digits from their stored payment
/// method, in the shapes serde wrote it (anything else keeps none), and the face that made them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0022_gives_stored_payments_their_last_four_digits_and_face() {
    for (s, pg, _dir) in stores_at(false).await {
        let dir = tempfile::tempdir().unwrap();
        let early = dir.path().join("early");
        std::fs::create_dir(&early).unwrap();
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for entry in std::fs::read_dir(&all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.as_str() < "0022" {
                std::fs::copy(&path, early.join(&name)).unwrap();
            }
        }
        sqlx::migrate::Migrator::new(early.as_path())
            .await
            .unwrap()
            .run(&s.writer)
            .await
            .unwrap();
        for sql in [
            "INSERT INTO merchants (id, name, created_at) VALUES ('acct_m', 'm', 1)",
            "INSERT INTO pm_profiles (id, merchant_id, country, live, secret_key_hash, public_key, \
             api_key_hash, hmac_enc, iframe_id, doc, created_at) \
             VALUES (1, 'acct_m', 'EGY', 0, 'sk', 'pk', 'ak', 'h', 1, '{}', 1)",
            "INSERT INTO pm_orders (id, profile_id, doc, created_at, updated_at) \
             VALUES (10, 1, '{}', 1, 1)",
        ] {
            sqlx::query(sql).execute(&s.writer).await.unwrap();
        }
        let current = serde_json::to_string(&card("4242")).unwrap();
        let wallet =
            serde_json::to_string(&PaymentMethodDetails::for_wallet("201001234567", b"k")).unwrap();
        let voucher = serde_json::to_string(&PaymentMethodDetails::without_number(
            "voucher",
            "sandbox_voucher",
        ))
        .unwrap();
        let rows: [(&str, Option<&str>, Option<&str>); 6] = [
            ("pi_current", Some(&current), Some("4242")),
            (
                "pi_old",
                Some(r#"{"kind":"card","brand":"visa","last4":"0019"}"#),
                Some("0019"),
            ),
            ("pi_wallet", Some(&wallet), Some("4567")),
            ("pi_voucher", Some(&voucher), None),
            ("pi_odd", Some(r#"{"kind":"card","last4":"12a4"}"#), None),
            ("pi_none", None, None),
        ];
        for (i, (id, method, _)) in rows.iter().enumerate() {
            sqlx::query(
                "INSERT INTO payment_intents (id, merchant_id, amount, currency, status, \
                 capture_method, amount_capturable, amount_received, amount_refunded, metadata, \
                 client_secret, checkout_token, payment_method, created_at, updated_at, version) \
                 VALUES ($1, 'acct_m', 500, 'USD', 'succeeded', 'automatic', 0, 500, 0, '{}', \
                 $1, $1, $2, $3, 1, 0)",
            )
            .bind(*id)
            .bind(*method)
            .bind(i as i64)
            .execute(&s.writer)
            .await
            .unwrap();
        }
        // A Paymob payment (without an order key: a legacy order's) and a Paymentwall one.
        sqlx::query(
            "INSERT INTO pm_transactions (id, profile_id, order_id, intent_id, kind, obj, extra, \
             created_at, updated_at) VALUES (5, 1, 10, 'pi_wallet', 'payment', '{}', '{}', 1, 1)",
        )
        .execute(&s.writer)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE payment_intents SET order_key = 'paymentwall:pwo_1' WHERE id = 'pi_old'",
        )
        .execute(&s.writer)
        .await
        .unwrap();
        s.migrate().await.unwrap();
        let faces: Vec<(String, String)> =
            sqlx::query("SELECT id, face FROM payment_intents ORDER BY id")
                .fetch_all(&s.writer)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        let face_of = |id: &str| faces.iter().find(|(i, _)| i == id).unwrap().1.clone();
        assert_eq!(face_of("pi_wallet"), "paymob");
        assert_eq!(face_of("pi_old"), "paymentwall");
        for id in ["pi_current", "pi_voucher", "pi_odd", "pi_none"] {
            assert_eq!(face_of(id), "native", "{id}");
        }
        for (id, _, want) in rows {
            let got: Option<String> =
                sqlx::query("SELECT card_last4 FROM payment_intents WHERE id = $1")
                    .bind(id)
                    .fetch_one(&s.writer)
                    .await
                    .unwrap()
                    .get(0);
            assert_eq!(got.as_deref(), want, "{id}");
        }
        let m = Scope::test("acct_m");
        let found = s
            .dashboard_payments(
                &m,
                &PaymentFilter {
                    last4: Some("0019".into()),
                    ..Default::default()
                },
                10,
                None,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids(&found), ["pi_old"]);
        cleanup(s, pg).await;
    }
}
