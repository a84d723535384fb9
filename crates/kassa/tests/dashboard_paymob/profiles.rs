//! A profile made in the dashboard, an integration moved, and keys recreated.

use axum::http::StatusCode;
use kassa_paymob::hmac;
use serde_json::json;

use super::common::dashboard::set_up;
use super::common::{Receiver, TestApp};
use super::{api_profile, audit_actions, card_payment, pm_call, query_hmac, shown};

async fn a_profile_made_and_an_integration_moved_in_the_dashboard(app: &TestApp) {
    let first = Receiver::start_at("/first").await;
    let moved = Receiver::start_at("/moved").await;
    let b = set_up(app, "dev@shop.example", "developer").await;
    let list = b.get("/dashboard/test/paymob").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("No test Paymob profile yet."));

    // Nothing ticked is refused on the page, with what was typed kept.
    let none = b
        .post(
            "/dashboard/test/paymob",
            &[
                ("csrf", &list.csrf()),
                ("name", "Nile Shop"),
                ("country", "egy"),
            ],
        )
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert!(
        none.body.contains("Tick at least one kind") && none.body.contains("value=\"Nile Shop\"")
    );

    let created = b
        .post(
            "/dashboard/test/paymob",
            &[
                ("csrf", &list.csrf()),
                ("name", "Nile Shop"),
                ("country", "egy"),
                ("kind", "card"),
                ("kind", "wallet"),
                ("processed_callback_url", &first.url),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let sk = shown(&created, "secret_key");
    let pk = shown(&created, "public_key");
    let api_key = shown(&created, "api_key");
    let secret = shown(&created, "hmac_secret");
    assert!(
        sk.starts_with("egy_sk_test_") && pk.starts_with("egy_pk_test_"),
        "{sk} {pk}"
    );
    assert_eq!(secret.len(), 32);
    let (s, tok) = pm_call(app, "/api/auth/tokens", None, json!({"api_key": api_key})).await;
    assert!(s.is_success(), "{tok}");

    // The profile, as the API sees it.
    let (_, profiles) = app.get("/v1/paymob/profiles").await;
    let p = &profiles["data"][0];
    assert_eq!(
        (p["name"].as_str(), p["public_key"].as_str()),
        (Some("Nile Shop"), Some(pk.as_str()))
    );
    let id = p["id"].as_i64().unwrap();
    let card = p["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "card")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // The credentials are not on any page once that one is gone.
    let keys = b.get(&format!("/dashboard/test/paymob/{id}/keys")).await;
    assert_eq!(keys.status, StatusCode::OK);
    assert!(keys.body.contains(&pk) && !keys.body.contains(&sk) && !keys.body.contains(&secret));
    let list = b.get("/dashboard/test/paymob").await;
    assert!(
        list.body
            .contains(&format!("/dashboard/test/paymob/{id}\"")),
        "{}",
        list.body
    );

    // Edit the card integration: a bad URL is refused with the field's message, nothing saved.
    let edit_path = format!("/dashboard/test/paymob/{id}/integrations/{card}");
    let form = b.get(&edit_path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body.contains("name=\"three_d_secure\""),
        "a card integration has the 3-D Secure box"
    );
    let bad = b
        .post(
            &edit_path,
            &[
                ("csrf", &form.csrf()),
                ("name", "web"),
                ("processed_callback_url", "not a url"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body
            .contains("Processed callback URL: Enter a valid URL."),
        "{}",
        bad.body
    );
    let saved = b
        .post(
            &edit_path,
            &[
                ("csrf", &form.csrf()),
                ("name", "web"),
                ("processed_callback_url", &moved.url),
                ("response_callback_url", "https://shop.example/done"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let tab = b.get(&saved.location).await;
    assert!(
        tab.body.contains("Integration saved.") && tab.body.contains(&moved.url),
        "{}",
        tab.body
    );
    let (_, p) = app.get(&format!("/v1/paymob/profiles/{id}")).await;
    let i = p["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == card)
        .unwrap()
        .clone();
    assert_eq!(i["name"], "web");
    assert_eq!(i["processed_callback_url"], moved.url.as_str());
    assert_eq!(i["three_d_secure"], false, "the box was left unticked");

    // Add a kiosk integration.
    let add = b
        .post(
            &format!("/dashboard/test/paymob/{id}/integrations"),
            &[
                ("csrf", &form.csrf()),
                ("kind", "kiosk"),
                ("currency", "EGP"),
                ("three_d_secure", "on"),
            ],
        )
        .await;
    assert_eq!(add.status, StatusCode::SEE_OTHER, "{}", add.body);
    let (_, p) = app.get(&format!("/v1/paymob/profiles/{id}")).await;
    let kiosk = p["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "kiosk")
        .unwrap()
        .clone();
    assert_eq!(
        (kiosk["name"].as_str(), kiosk["three_d_secure"].as_bool()),
        (Some("kiosk"), Some(false))
    );

    // The next real payment's callback goes to the new URL, signed with the profile's secret.
    let txn = card_payment(app, &sk, card).await;
    let got = moved
        .wait_for_one("the moved callback", |r| {
            r.json_or_null()["obj"]["id"] == txn
        })
        .await;
    let body = got.json();
    assert_eq!(
        query_hmac(&got),
        hmac::transaction_hmac(&secret, &body["obj"])
    );
    assert_eq!(body["obj"]["success"], true);
    app.drained().await;
    assert_eq!(first.count(), 0, "nothing went to the old URL");

    let audit = audit_actions(app, &app.scope()).await;
    for action in [
        "paymob_profile.create",
        "paymob_integration.update",
        "paymob_integration.create",
    ] {
        assert!(
            audit
                .iter()
                .any(|(a, who, _)| a == action && who == "dev@shop.example"),
            "{action} in {audit:?}"
        );
    }
    assert!(audit
        .iter()
        .all(|(_, _, c)| !c.contains(&sk) && !c.contains(&secret) && !c.contains(&api_key)));
}

async fn keys_are_recreated_and_the_old_ones_refused(app: &TestApp) {
    let cb = Receiver::start_at("/cb").await;
    let p = api_profile(app, &app.sk, &cb.url).await;
    let b = set_up(app, "keys@shop.example", "developer").await;
    let keys = b
        .get(&format!("/dashboard/test/paymob/{}/keys", p.id))
        .await;
    assert_eq!(keys.status, StatusCode::OK);
    let path = |which: &str| format!("/dashboard/test/paymob/{}/keys/{which}/recreate", p.id);

    let r = b.post(&path("secret_key"), &[("csrf", &keys.csrf())]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sk = shown(&r, "secret_key");
    assert!(sk.starts_with("egy_sk_test_") && sk != p.sk);
    let intention = json!({"amount": 100, "currency": "EGP", "payment_methods": [p.integration("card")],
        "billing_data": {"first_name": "A", "last_name": "B", "email": "a@b.example", "phone_number": "+201001234567"}});
    let (s, _) = pm_call(
        app,
        "/v1/intention/",
        Some(&format!("Token {}", p.sk)),
        intention.clone(),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the old secret key stops at once"
    );
    let (s, v) = pm_call(
        app,
        "/v1/intention/",
        Some(&format!("Token {sk}")),
        intention,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // A token issued for the old API key stops with it.
    let (_, old_token) =
        pm_call(app, "/api/auth/tokens", None, json!({"api_key": p.api_key})).await;
    let old_token = old_token["token"].as_str().unwrap().to_string();
    let order = |token: &str| {
        json!({"auth_token": token, "delivery_needed": "false", "amount_cents": "1000",
               "currency": "EGP", "items": []})
    };
    let (s, v) = pm_call(app, "/api/ecommerce/orders", None, order(&old_token)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let r = b.post(&path("api_key"), &[("csrf", &keys.csrf())]).await;
    let api_key = shown(&r, "api_key");
    assert_ne!(api_key, p.api_key);
    let (s, _) = pm_call(app, "/api/auth/tokens", None, json!({"api_key": p.api_key})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = pm_call(app, "/api/ecommerce/orders", None, order(&old_token)).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the old key's token stops at once"
    );
    let (s, tok) = pm_call(app, "/api/auth/tokens", None, json!({"api_key": api_key})).await;
    assert!(s.is_success());
    let new_token = tok["token"].as_str().unwrap().to_string();
    let (s, v) = pm_call(app, "/api/ecommerce/orders", None, order(&new_token)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let r = b
        .post(&path("hmac_secret"), &[("csrf", &keys.csrf())])
        .await;
    let secret = shown(&r, "hmac_secret");
    assert!(secret != p.hmac && secret.len() == 32);
    // The next callback is signed with the new secret only.
    let txn = card_payment(app, &sk, p.integration("card")).await;
    let got = cb
        .wait_for_one("the callback", |r| r.json_or_null()["obj"]["id"] == txn)
        .await;
    let obj = &got.json()["obj"];
    assert_eq!(query_hmac(&got), hmac::transaction_hmac(&secret, obj));
    assert_ne!(query_hmac(&got), hmac::transaction_hmac(&p.hmac, obj));

    // An unknown credential is not found; nothing is shown again on the page.
    assert_eq!(
        b.post(&path("public_key"), &[("csrf", &keys.csrf())])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let again = b
        .get(&format!("/dashboard/test/paymob/{}/keys", p.id))
        .await;
    assert!(
        !again.body.contains(&sk)
            && !again.body.contains(&secret)
            && !again.body.contains(&api_key)
    );
    let audit = audit_actions(app, &app.scope()).await;
    for which in ["secret_key", "api_key", "hmac_secret"] {
        let action = format!("paymob_profile.recreate_{which}");
        assert!(
            audit
                .iter()
                .any(|(a, who, _)| *a == action && who == "keys@shop.example"),
            "{action}"
        );
    }
    assert!(audit
        .iter()
        .all(|(_, _, c)| !c.contains(&sk) && !c.contains(&secret) && !c.contains(&api_key)));
}

crate::on_both!(
    a_profile_made_and_an_integration_moved_in_the_dashboard,
    keys_are_recreated_and_the_old_ones_refused,
);
