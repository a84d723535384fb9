//! The Test Pingback Tool, and a regenerated secret.

use axum::http::StatusCode;
use kassa_paymentwall::{parse_query, sign_widget, verify_pingback, ApiType, SignVersion};
use serde_json::json;

use super::common::dashboard::{set_up, text_of_id};
use super::common::{Receiver, TestApp};
use super::*;

pub async fn the_test_pingback_tool_sends_and_reports(app: &TestApp) {
    let rx = Receiver::pingbacks().await;
    let b = set_up(app, "tool@shop.example", "developer").await;
    let (id, secret) = create_project(&b, "Tool", "digital_goods").await;
    let path = project_path(&id, "test-pingback");
    // No pingback URL yet: the tool says so.
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("set one in Settings first"));
    let csrf = page.csrf();
    let send = |extra: Vec<(&'static str, String)>| {
        let mut form: Vec<(String, String)> = vec![
            ("csrf".into(), csrf.clone()),
            ("type".into(), "0".into()),
            ("uid".into(), "user-7".into()),
            ("goodsid".into(), "gold".into()),
            ("ref".into(), "t1700000000".into()),
            ("is_test".into(), "1".into()),
        ];
        for (k, v) in extra {
            form.retain(|(name, _)| name != k);
            form.push((k.into(), v));
        }
        form
    };
    let r = post_pairs(&b, &path, &send(vec![])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("no pingback URL"), "{}", r.body);

    let (s, _) = app
        .post(
            &format!("/v1/paymentwall/projects/{id}"),
            json!({"pingback_url": rx.url, "custom_pingback": {"order_id": "OWN", "who": "USER_ID"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = post_pairs(&b, &path, &send(vec![("own:order_id", "o-9".into())])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("Your server accepted the pingback"),
        "{}",
        r.body
    );
    assert_eq!(
        text_of_id(&r.body, "report-status")
            .unwrap()
            .split(' ')
            .take(2)
            .collect::<Vec<_>>(),
        ["HTTP", "200"]
    );
    assert_eq!(text_of_id(&r.body, "report-body").as_deref(), Some("OK"));
    let base = text_of_id(&r.body, "report-base").unwrap();
    assert!(base.ends_with("&lt;secret&gt;"), "{base}");
    assert!(!r.body.contains(&secret), "the secret is never shown");
    let got = rx.wait_for_count(1).await;
    assert_eq!(got[0].path, "/pingback");
    let params = parse_query(&got[0].query).unwrap();
    assert!(
        verify_pingback(&params, &secret, ApiType::DigitalGoods),
        "{}",
        got[0].query
    );
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("uid").as_deref(), Some("user-7"));
    assert_eq!(get("order_id").as_deref(), Some("o-9"));
    assert_eq!(get("who").as_deref(), Some("user-7"));
    assert_eq!(get("is_test").as_deref(), Some("1"));
    assert_eq!(get("sign_version").as_deref(), Some("3"));
    assert_eq!(text_of_id(&r.body, "report-sig"), get("sig"));

    // The merchant's server refuses: the page says so, with its answer.
    rx.respond(500, "database down");
    let r = post_pairs(
        &b,
        &path,
        &send(vec![("type", "2".into()), ("reason", "9".into())]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("not accepted") && r.body.contains("HTTP 500"),
        "{}",
        r.body
    );
    assert_eq!(
        text_of_id(&r.body, "report-body").as_deref(),
        Some("database down")
    );
    let got = rx.wait_for_count(2).await;
    assert!(got[1].query.contains("type=2") && got[1].query.contains("reason=9"));
    // A reason with another type, an unknown type: refused before anything is sent.
    for bad in [
        vec![("reason", "1".to_string())],
        vec![("type", "7".to_string())],
        vec![("uid", String::new())],
    ] {
        let r = post_pairs(&b, &path, &send(bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    }
    assert_eq!(rx.count(), 2);
    let audit = app
        .svc
        .store
        .audit_records(&app.scope(), 20, None)
        .await
        .unwrap();
    let sent: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "paymentwall_project.test_pingback")
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].actor_label.as_deref(), Some("tool@shop.example"));
    assert!(audit.iter().all(|a| !a.changes.contains(&secret)));
}

pub async fn a_regenerated_secret_replaces_the_old_one_at_once(app: &TestApp) {
    let b = set_up(app, "keys@shop.example", "owner").await;
    let (id, old) = create_project(&b, "Keys", "digital_goods").await;
    let key = api_project(app, &id).await["project_key"]
        .as_str()
        .unwrap()
        .to_string();
    let page = b.get(&project_path(&id, "keys")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        text_of_id(&page.body, "project-key").as_deref(),
        Some(key.as_str())
    );
    assert!(!page.body.contains(&old));
    let r = b
        .post(
            &project_path(&id, "keys/regenerate"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = text_of_id(&r.body, "new-secret").unwrap();
    assert!(new.len() == 32 && new != old);
    assert!(
        !b.get(&project_path(&id, "keys")).await.body.contains(&new),
        "shown once"
    );
    let systems = |secret: String| {
        let key = key.clone();
        async move {
            let mut params = vec![
                ("key".to_string(), key),
                ("country_code".to_string(), "US".to_string()),
                ("sign_version".to_string(), "3".to_string()),
            ];
            let sign = sign_widget(&params, &secret, SignVersion::V3);
            params.push(("sign".into(), sign));
            let q = kassa_paymentwall::encode_query(&params);
            app.http
                .get(app.url(&format!("/api/payment-systems/?{q}")))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        systems(old.clone()).await,
        StatusCode::FORBIDDEN,
        "the old secret stopped working"
    );
    assert_eq!(systems(new.clone()).await, StatusCode::OK);
    let audit = app
        .svc
        .store
        .audit_records(&app.scope(), 20, None)
        .await
        .unwrap();
    let r = audit
        .iter()
        .find(|a| a.action == "paymentwall_project.regenerate_secret")
        .unwrap();
    assert_eq!(r.target.as_deref(), Some(id.as_str()));
    assert!(!r.changes.contains(&new) && !r.changes.contains(&old));
}

crate::on_both!(
    the_test_pingback_tool_sends_and_reports,
    a_regenerated_secret_replaces_the_old_one_at_once,
);
