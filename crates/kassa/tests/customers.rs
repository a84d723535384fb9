//! `/v1/customers` over HTTP, on SQLite and PostgreSQL: create (JSON and form-encoded, with
//! Stripe's brackets), retrieve, update (only what is sent; an empty string clears; metadata
//! merges), list newest first page by page and by email, delete for good; the events each
//! change writes; field errors naming their field; another merchant's and a publishable key's
//! view; idempotent creates.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn form(app: &TestApp, path: &str, body: &str) -> (StatusCode, Value) {
    let r = app
        .http
        .post(app.url(path))
        .bearer_auth(&app.sk)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let s = StatusCode::from_u16(r.status().as_u16()).unwrap();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn delete(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = app
        .http
        .delete(app.url(path))
        .bearer_auth(&app.sk)
        .send()
        .await
        .unwrap();
    let s = StatusCode::from_u16(r.status().as_u16()).unwrap();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// The types of the merchant's events about `object_id`, oldest first.
async fn events_of(app: &TestApp, object_id: &str) -> Vec<String> {
    let (s, page) = app.get("/v1/events?limit=100").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let mut types: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == object_id)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    types.reverse();
    types
}

async fn a_customers_life(app: &TestApp) {
    let (s, c) = app
        .post(
            "/v1/customers",
            json!({"email": " ada@example.com ", "name": "Ada Lovelace", "phone": "+44 20 7946 0958",
                   "description": "first", "metadata": {"crm": "17", "tier": "gold"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let cid = id(&c);
    assert!(cid.starts_with("cus_") && cid.len() == 28, "{cid}");
    assert_eq!(
        (
            &c["object"],
            &c["email"],
            &c["name"],
            &c["phone"],
            &c["livemode"]
        ),
        (
            &json!("customer"),
            &json!("ada@example.com"),
            &json!("Ada Lovelace"),
            &json!("+44 20 7946 0958"),
            &json!(false)
        )
    );
    assert_eq!(c["metadata"], json!({"crm": "17", "tier": "gold"}));
    let (s, got) = app.get(&format!("/v1/customers/{cid}")).await;
    assert_eq!((s, &got), (StatusCode::OK, &c));

    // Only what is sent changes; an empty string clears; metadata merges, "" removes a key.
    let (s, u) = app
        .post(
            &format!("/v1/customers/{cid}"),
            json!({"name": "Ada King", "description": "", "metadata": {"tier": "", "team": "b"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(
        (&u["name"], &u["description"], &u["email"], &u["phone"]),
        (
            &json!("Ada King"),
            &Value::Null,
            &json!("ada@example.com"),
            &json!("+44 20 7946 0958")
        )
    );
    assert_eq!(u["metadata"], json!({"crm": "17", "team": "b"}));
    assert_eq!(u["created"], c["created"]);
    // Sending what is already there is no change and writes no event.
    let (s, same) = app
        .post(&format!("/v1/customers/{cid}"), json!({"name": "Ada King"}))
        .await;
    assert_eq!((s, &same), (StatusCode::OK, &u));

    // Deleted for good: the stub, then 404 everywhere.
    let (s, d) = delete(app, &format!("/v1/customers/{cid}")).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d, json!({"id": cid, "object": "customer", "deleted": true}));
    for (s, e) in [
        app.get(&format!("/v1/customers/{cid}")).await,
        app.post(&format!("/v1/customers/{cid}"), json!({"name": "x"}))
            .await,
        delete(app, &format!("/v1/customers/{cid}")).await,
    ] {
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
        assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
    }
    assert_eq!(
        events_of(app, &cid).await,
        ["customer.created", "customer.updated", "customer.deleted"]
    );
}

async fn form_bodies_and_field_errors(app: &TestApp) {
    // What a Stripe-trained developer's curl sends.
    let (s, c) = form(
        app,
        "/v1/customers",
        "email=grace%40example.com&name=Grace+Hopper&metadata[order]=42",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(
        (&c["email"], &c["name"], &c["metadata"]),
        (
            &json!("grace@example.com"),
            &json!("Grace Hopper"),
            &json!({"order": "42"})
        )
    );
    let (s, u) = form(app, &format!("/v1/customers/{}", id(&c)), "email=").await;
    assert_eq!((s, &u["email"]), (StatusCode::OK, &Value::Null), "{u}");

    for (body, param) in [
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": "a b@example.com"}), "email"),
        (json!({"phone": "call me"}), "phone"),
        (json!({"phone": "12"}), "phone"),
        (json!({"name": "x".repeat(257)}), "name"),
        (json!({"name": "a\u{7}b"}), "name"),
        (json!({"description": "d".repeat(1001)}), "description"),
        (json!({"metadata": {"": "v"}}), "metadata"),
        (json!({"metadata": {"k": "v".repeat(501)}}), "metadata"),
    ] {
        let (s, e) = app.post("/v1/customers", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert_eq!(e["error"]["param"], param, "{body}: {e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(param),
            "{e}"
        );
    }
    let (s, e) = app.post("/v1/customers", json!({"emails": "x"})).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused: {e}"
    );
    // Nothing half-written: only the one good customer exists.
    let (_, page) = app.get("/v1/customers").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
}

async fn lists_page_by_page_and_by_email(app: &TestApp) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let email = if i % 2 == 0 {
            "same@example.com".to_string()
        } else {
            format!("other{i}@example.com")
        };
        let (s, c) = app
            .post(
                "/v1/customers",
                json!({"email": email, "name": format!("n{i}")}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        ids.push(id(&c));
    }
    ids.reverse(); // newest first
    let (s, p1) = app.get("/v1/customers?limit=2").await;
    assert_eq!(s, StatusCode::OK, "{p1}");
    assert_eq!(
        (&p1["object"], &p1["url"], &p1["has_more"]),
        (&json!("list"), &json!("/v1/customers"), &json!(true))
    );
    let mut seen: Vec<String> = p1["data"].as_array().unwrap().iter().map(id).collect();
    let mut cursor = seen.last().unwrap().clone();
    loop {
        let (s, p) = app
            .get(&format!("/v1/customers?limit=2&starting_after={cursor}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        let page: Vec<String> = p["data"].as_array().unwrap().iter().map(id).collect();
        seen.extend(page.iter().cloned());
        if p["has_more"] == false {
            break;
        }
        cursor = page.last().unwrap().clone();
    }
    assert_eq!(seen, ids, "every customer once, newest first");

    let (s, by) = app.get("/v1/customers?email=same@example.com").await;
    assert_eq!(s, StatusCode::OK, "{by}");
    let by: Vec<String> = by["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(by, [ids[0].clone(), ids[2].clone(), ids[4].clone()]);
    let (s, by) = app
        .get(&format!(
            "/v1/customers?email=same@example.com&limit=1&starting_after={}",
            ids[2]
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(by["data"][0]["id"], json!(ids[4]));
    let (s, none) = app.get("/v1/customers?email=nobody@example.com").await;
    assert_eq!(
        (s, none["data"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );

    for (q, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("starting_after=cus_nope", "starting_after"),
        ("email=nope", "email"),
    ] {
        let (s, e) = app.get(&format!("/v1/customers?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {e}");
        assert_eq!(e["error"]["param"], param, "{q}: {e}");
    }
}

async fn merchants_and_keys_are_kept_apart(app: &TestApp) {
    let (_, c) = app
        .post("/v1/customers", json!({"email": "mine@example.com"}))
        .await;
    let cid = id(&c);
    let other = app.other_merchant_key().await;
    let (s, e) = app.get_as(&other, &format!("/v1/customers/{cid}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, e) = app
        .post_as(
            &other,
            &format!("/v1/customers/{cid}"),
            json!({"name": "x"}),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, page) = app.get_as(&other, "/v1/customers").await;
    assert_eq!(
        (s, page["data"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
    let (s, e) = app
        .get_as(&other, &format!("/v1/customers?starting_after={cid}"))
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "another merchant's id is no cursor: {e}"
    );
    // A publishable key is for browsers: no customer data.
    let (s, e) = app.get_as(&app.pk, &format!("/v1/customers/{cid}")).await;
    assert!(
        s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN,
        "{s} {e}"
    );
    let (s, e) = app
        .post_as(&app.pk, "/v1/customers", json!({"name": "x"}), None)
        .await;
    assert!(
        s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN,
        "{s} {e}"
    );
    let (_, mine) = app.get(&format!("/v1/customers/{cid}")).await;
    assert_eq!(mine["name"], Value::Null, "untouched by the others");
}

async fn creates_are_idempotent(app: &TestApp) {
    let body = json!({"email": "once@example.com"});
    let (s1, a) = app
        .post_as(&app.sk, "/v1/customers", body.clone(), Some("cus-key-1"))
        .await;
    let (s2, b) = app
        .post_as(&app.sk, "/v1/customers", body, Some("cus-key-1"))
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a, b, "the replay answers the first customer");
    let (_, page) = app.get("/v1/customers?email=once@example.com").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(events_of(app, &id(&a)).await, ["customer.created"]);
}

on_both!(
    a_customers_life,
    form_bodies_and_field_errors,
    lists_page_by_page_and_by_email,
    merchants_and_keys_are_kept_apart,
    creates_are_idempotent,
);
